package discovery

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/acirun/acirun/stage0/imagename"
)

// The meta tag names of spec/discovery.md.
const (
	metaDiscovery = "ac-discovery"
	metaPubKeys   = "ac-discovery-pubkeys"
)

// meta is one <meta name="ac-discovery[-pubkeys]" content="PREFIX VALUE">.
type meta struct {
	name   string // metaDiscovery or metaPubKeys
	prefix string // the name prefix the tag is for
	value  string // a URL template (ac-discovery) or a key URL (pubkeys)
}

// parseMeta returns the ac-discovery and ac-discovery-pubkeys tags of an HTML
// page in document order. It uses the HTML5 tokenizer, so broken markup is
// read the way a browser would read it; tags whose content is not exactly two
// space-separated fields are ignored. It stops at the end of r or at the
// first read error.
func parseMeta(r io.Reader) []meta {
	var metas []meta
	z := html.NewTokenizer(r)
	for {
		switch z.Next() {
		case html.ErrorToken:
			return metas
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.DataAtom != atom.Meta {
				continue
			}
			var name, content string
			var hasName, hasContent bool
			for _, a := range tok.Attr {
				if a.Namespace != "" {
					continue
				}
				// Attribute names come lower-cased from the tokenizer;
				// the first of a repeated attribute wins, as in browsers.
				switch {
				case a.Key == "name" && !hasName:
					name, hasName = strings.ToLower(strings.TrimSpace(a.Val)), true
				case a.Key == "content" && !hasContent:
					content, hasContent = a.Val, true
				}
			}
			if name != metaDiscovery && name != metaPubKeys {
				continue
			}
			f := strings.Fields(content)
			if len(f) != 2 {
				continue
			}
			metas = append(metas, meta{name: name, prefix: f[0], value: f[1]})
		}
	}
}

// prefixMatches reports whether a meta tag for prefix applies to name. Unlike
// the reference code's plain string prefix test, it matches whole path
// segments: "example.com/hello" covers "example.com/hello" and
// "example.com/hello/x" but never "example.com/helloworld".
func prefixMatches(prefix, name string) bool {
	prefix = strings.TrimRight(prefix, "/")
	if prefix == "" {
		return false
	}
	return name == prefix || strings.HasPrefix(name, prefix+"/")
}

// render substitutes {key} in tpl from vars in a single pass: the values are
// inserted as given (the caller escapes them, see templateVars) and are never
// substituted again. It reports false, with the first key that has no value,
// if any '{' is left without a known key.
func render(tpl string, vars map[string]string) (out string, missing string, ok bool) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String(), "", true
		}
		b.WriteString(tpl[:i])
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			return "", tpl[i:], false
		}
		key := tpl[i+1 : i+j]
		v, found := vars[key]
		if !found {
			return "", "{" + key + "}", false
		}
		b.WriteString(v)
		tpl = tpl[i+j+1:]
	}
}

// escapeValue percent-encodes every byte of a template value but the
// unreserved characters of RFC 3986 (letters, digits, '-', '.', '_', '~'),
// and keeps '/' too when keepSlash (the image name, whose segments are path
// segments in every spec example). A label value thus stays one piece of
// the path or query it is put in: it cannot add a segment, a query
// parameter, a fragment, credentials or a port, nor end the host. The
// values are the user's and, for dependencies, a signed image's: neither may
// steer a request that carries the host's credentials.
func escapeValue(v string, keepSlash bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// labelMark stands for a label's value when the host part of a template is
// worked out (see hostOf): it is no character a host may have.
const labelMark = "\x00"

// templateVars returns the substitution table for app: every label, then
// {name} (always the image name, even if a label is called "name"), and
// {version} defaulting to "latest", all escaped (escapeValue). With
// markLabels every value but the name's is labelMark instead. A value made
// only of dots is refused: escaped or not, "." and ".." are path segments
// that servers resolve, so such a label could move the request up the path.
func templateVars(app imagename.App, markLabels bool) (map[string]string, error) {
	vars := make(map[string]string, len(app.Labels)+3)
	for k, v := range app.Labels {
		if v != "" && strings.Trim(v, ".") == "" {
			return nil, fmt.Errorf("label %s value %q is only dots", k, v)
		}
		vars[k] = escapeValue(v, false)
	}
	if vars["version"] == "" {
		vars["version"] = imagename.DefaultVersion
	}
	if markLabels {
		for k := range vars {
			vars[k] = labelMark
		}
	}
	vars["name"] = escapeValue(app.Name, true)
	return vars, nil
}

// hostOf returns the authority of an absolute URL string (what follows
// "scheme://" up to the first '/', '?' or '#'), or "" if it has none.
func hostOf(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// renderEndpoint renders one ac-discovery template for app into the image
// and signature URLs. The template must contain {ext} (spec: MUST) and render
// completely, and the result must be an absolute http or https URL on the
// host the template names: its own text and the image name decide the host,
// never a label (a template putting a label in its host is refused), and the
// parsed URL's host must be that one.
func renderEndpoint(tpl string, app imagename.App) (Endpoint, error) {
	if !strings.Contains(tpl, "{ext}") {
		return Endpoint{}, fmt.Errorf("template %s has no {ext}", tpl)
	}
	vars, err := templateVars(app, false)
	if err != nil {
		return Endpoint{}, fmt.Errorf("template %s: %v", tpl, err)
	}
	vars["ext"] = "aci"
	aci, missing, ok := render(tpl, vars)
	if !ok {
		return Endpoint{}, fmt.Errorf("template %s: no value for %s", tpl, missing)
	}
	vars["ext"] = "aci.asc"
	sig, _, _ := render(tpl, vars)
	u, err := url.Parse(aci)
	if err != nil {
		return Endpoint{}, fmt.Errorf("template %s: rendered URL: %v", tpl, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Endpoint{}, fmt.Errorf("template %s: scheme %q is not http(s)", tpl, u.Scheme)
	}
	if u.Host == "" {
		return Endpoint{}, fmt.Errorf("template %s: rendered URL %s has no host", tpl, aci)
	}
	marked, _ := templateVars(app, true)
	marked["ext"] = "aci"
	shape, _, _ := render(tpl, marked)
	want := hostOf(shape)
	if strings.Contains(want, labelMark) {
		return Endpoint{}, fmt.Errorf("template %s puts a label into the host: only the image name may choose it", tpl)
	}
	if !strings.EqualFold(u.Host, want) || u.User != nil {
		return Endpoint{}, fmt.Errorf("template %s: rendered URL %s is for host %q, not the template's %q", tpl, u.Redacted(), u.Host, want)
	}
	return Endpoint{ACI: lowerScheme(aci, u), Sig: lowerScheme(sig, u)}, nil
}

// lowerScheme returns raw, which url.Parse made into u, with its scheme in
// lower case. Schemes are case-insensitive (RFC 3986, 3.1), so a page may
// say HTTPS://; the URLs discovery returns spell it "https" so that callers
// comparing strings see what the parser saw. url.Parse takes the scheme
// from the first len(u.Scheme) bytes of raw, and the signature URL, rendered
// from the same template, starts the same way.
func lowerScheme(raw string, u *url.URL) string {
	if n := len(u.Scheme); n > 0 && len(raw) > n && raw[n] == ':' {
		return u.Scheme + raw[n:]
	}
	return raw
}

// endpointsFromMeta renders every ac-discovery tag of a page that applies to
// app. The https endpoints come first, in document order, then the http ones
// if allowHTTP; other schemes are dropped. skipped says why each applicable
// tag gave nothing.
func endpointsFromMeta(metas []meta, app imagename.App, allowHTTP bool) (eps []Endpoint, skipped []string) {
	var plain []Endpoint
	for _, m := range metas {
		if m.name != metaDiscovery || !prefixMatches(m.prefix, app.Name) {
			continue
		}
		ep, err := renderEndpoint(m.value, app)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if strings.HasPrefix(ep.ACI, "https:") { // renderEndpoint lowered the scheme
			eps = append(eps, ep)
		} else if allowHTTP {
			plain = append(plain, ep)
		} else {
			skipped = append(skipped, fmt.Sprintf("template %s: plain http needs --insecure-options=http", m.value))
		}
	}
	return append(eps, plain...), skipped
}

// keysFromMeta returns the ac-discovery-pubkeys URLs of a page that apply to
// name: https ones first, then http ones if allowHTTP.
func keysFromMeta(metas []meta, name string, allowHTTP bool) (keys []string, skipped []string) {
	var plain []string
	for _, m := range metas {
		if m.name != metaPubKeys || !prefixMatches(m.prefix, name) {
			continue
		}
		u, err := url.Parse(m.value)
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("key URL %s: %v", m.value, err))
		case u.Host == "":
			skipped = append(skipped, fmt.Sprintf("key URL %s has no host", m.value))
		case u.Scheme == "https":
			keys = append(keys, lowerScheme(m.value, u))
		case u.Scheme == "http" && allowHTTP:
			plain = append(plain, lowerScheme(m.value, u))
		case u.Scheme == "http":
			skipped = append(skipped, fmt.Sprintf("key URL %s: plain http needs --insecure-options=http", m.value))
		default:
			skipped = append(skipped, fmt.Sprintf("key URL %s: scheme %q is not http(s)", m.value, u.Scheme))
		}
	}
	return append(keys, plain...), skipped
}

package registry

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// Token is the bearer-token auth of a registry (the distribution "token"
// scheme): the registry answers 401 with a challenge naming the token
// server (realm, service, scope), the client asks the token server for a
// token, sending basic auth, and the registry checks the token's signature
// against the token server's CA and its claims.
type Token struct {
	// Users are the user names the token server accepts, with their
	// passwords: a user is granted every action asked for.
	Users map[string]string
	// Anonymous grants pull to requests without credentials; without it
	// such requests get 401 from the token server.
	Anonymous bool
	// IP, if set, is the loopback address of a token server of its own
	// (127.0.0.2: a realm on another host than the registry's). Unset,
	// the token service is at /token of the registry's own host and
	// port, served by a proxy of the test in front of the registry.
	IP string
	// Name, if set with IP, is the host name the realm names instead of
	// IP (its certificate names both), which a test maps to IP in the
	// box's /etc/hosts: a realm on another host by name.
	Name string
}

// TokenRequest is one request the token server answered.
type TokenRequest struct {
	User    string   // the basic-auth user sent, "" for none
	Service string   // the service parameter
	Scopes  []string // the scope parameters, as sent
	Granted []string // the scopes of the token, "" if none was issued
	Status  int
}

// The service and issuer names the registry and the token server agree on.
const (
	tokenService = "acirun-test-registry"
	tokenIssuer  = "acirun-test-token-server"
)

// tokenServer issues JWTs (JWS compact, ES256) signed by a key whose
// certificate, from a CA of its own, the registry trusts
// (auth.token.rootcertbundle). The certificate goes in the header (x5c),
// which is how the registry finds the key.
type tokenServer struct {
	t     testing.TB
	opts  Token
	realm string
	ca    string // the CA bundle file the registry trusts
	key   *ecdsa.PrivateKey
	cert  []byte // DER of the signing certificate

	mu   sync.Mutex
	reqs []TokenRequest
}

// newTokenServer makes the token server's signing key and CA; its realm
// is set by the caller, or by listen.
func newTokenServer(t testing.TB, opts Options) *tokenServer {
	t.Helper()
	signers := fetchtest.New(t)
	c := signers.Certificate(t, "acirun-test-token-signer")
	s := &tokenServer{t: t, opts: *opts.Token, key: c.PrivateKey.(*ecdsa.PrivateKey), cert: c.Certificate[0],
		ca: filepath.Join(opts.Dir, "token-ca.pem")}
	writeFile(t, s.ca, signers.CAPEM())
	return s
}

// listen serves the token service on a server of its own at Token.IP,
// with TLS if the registry has it.
func (s *tokenServer) listen(t testing.TB, opts Options, scheme string) {
	t.Helper()
	ln, err := opts.Netns.Listen("tcp4", net.JoinHostPort(s.opts.IP, "0"))
	if err != nil {
		t.Fatalf("token server: listen on %s: %v", s.opts.IP, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ErrorLog: log.New(io.Discard, "", 0)}
	if scheme == "https" {
		hosts := []string{s.opts.IP}
		if s.opts.Name != "" {
			hosts = append([]string{s.opts.Name}, hosts...)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{opts.CA.Certificate(t, hosts...)}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	host := ln.Addr().String()
	if s.opts.Name != "" {
		_, port, _ := net.SplitHostPort(host)
		host = net.JoinHostPort(s.opts.Name, port)
	}
	s.realm = scheme + "://" + host + "/token"
}

// config is the registry configuration's auth section.
func (s *tokenServer) config() string {
	return fmt.Sprintf("auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n",
		s.realm, tokenService, tokenIssuer, s.ca)
}

// anyUser returns a user and password the token server accepts (the first
// by name), for skopeo.
func (s *tokenServer) anyUser() (user, pass string, ok bool) {
	names := make([]string, 0, len(s.opts.Users))
	for n := range s.opts.Users {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "", "", false
	}
	sort.Strings(names)
	return names[0], s.opts.Users[names[0]], true
}

func (s *tokenServer) requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// serve answers GET /token?service=S&scope=repository:NAME:ACTIONS…
func (s *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := TokenRequest{Service: q.Get("service"), Scopes: q["scope"]}
	defer func() {
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
	}()
	fail := func(code int, msg string) {
		req.Status = code
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="acirun test token server"`)
		}
		http.Error(w, msg, code)
	}
	if r.URL.Path != "/token" {
		fail(http.StatusNotFound, "no such path")
		return
	}
	if req.Service != tokenService {
		fail(http.StatusBadRequest, fmt.Sprintf("service %q: this token server serves %q", req.Service, tokenService))
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	req.User = user
	switch {
	case hasAuth:
		if want, ok := s.opts.Users[user]; !ok || want != pass {
			fail(http.StatusUnauthorized, "wrong user or password")
			return
		}
	case !s.opts.Anonymous:
		fail(http.StatusUnauthorized, "credentials needed")
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	granted := []access{}
	for _, sc := range req.Scopes {
		for _, one := range strings.Split(sc, " ") {
			// repository:NAME:pull,push (NAME may hold a port's colon
			// only in other registries' scopes; ours are plain paths).
			i, j := strings.Index(one, ":"), strings.LastIndex(one, ":")
			if i < 0 || i == j {
				fail(http.StatusBadRequest, fmt.Sprintf("scope %q: not TYPE:NAME:ACTIONS", one))
				return
			}
			a := access{Type: one[:i], Name: one[i+1 : j]}
			for _, act := range strings.Split(one[j+1:], ",") {
				if hasAuth || act == "pull" {
					a.Actions = append(a.Actions, act)
				}
			}
			if len(a.Actions) > 0 {
				granted = append(granted, a)
				req.Granted = append(req.Granted, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
			}
		}
	}
	now := time.Now()
	subject := user
	if !hasAuth {
		subject = "anonymous"
	}
	token, err := s.sign(map[string]any{
		"iss":    tokenIssuer,
		"sub":    subject,
		"aud":    tokenService,
		"exp":    now.Add(5 * time.Minute).Unix(),
		"nbf":    now.Add(-time.Minute).Unix(),
		"iat":    now.Unix(),
		"jti":    fmt.Sprintf("%d", now.UnixNano()),
		"access": granted,
	})
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	req.Status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token": token, "access_token": token, "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339),
	})
}

// sign returns claims as a JWS in compact form, ES256 over P-256 with the
// signing certificate in the header.
func (s *tokenServer) sign(claims any) (string, error) {
	header, err := json.Marshal(map[string]any{
		"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.cert)},
	})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(signed))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	// JWS's ES256 signature is R and S as 32 bytes each, big-endian.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig), nil
}

package host

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/fetchcontract"
)

// writeKey makes a new OpenPGP key and writes its public half, as
// `gpg --export` would, to a file.
func writeKey(t *testing.T, name string) string {
	t.Helper()
	_, path := newKey(t, name)
	return path
}

// newKey makes a new OpenPGP key, writes its public half to a file, and
// returns both.
func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".gpg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := e.Serialize(f); err != nil {
		t.Fatal(err)
	}
	return e, path
}

// TestTrustKeys: keys are added for the prefix only when the review
// accepts every one of them (a key declined refuses the call, naming the
// key, and writes none, not even one accepted before it), listed, and
// removed by fingerprint.
func TestTrustKeys(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	alice, bob := writeKey(t, "alice"), writeKey(t, "bob")
	var asked []string
	added, err := h.TrustKeys(ctx, TrustOptions{Prefix: "example.com/hello", Sources: []string{alice, bob},
		Review: func(k *fetchcontract.KeyInfo, source string) (bool, error) {
			asked = append(asked, source)
			return source == alice, nil
		}})
	if err == nil || !strings.Contains(err.Error(), "from "+bob+" not trusted (declined on review)") || len(added) != 0 {
		t.Fatalf("bob declined: TrustKeys = %+v, %v; want an error naming bob's key and nothing added", added, err)
	}
	if strings.Join(asked, " ") != alice+" "+bob {
		t.Errorf("review asked about %q, want both keys in order", asked)
	}
	if keys, err := h.TrustedKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("after a declined key: trusted keys %+v, %v; want none", keys, err)
	}
	added, err = h.TrustKeys(ctx, TrustOptions{Prefix: "example.com/hello", Sources: []string{alice},
		Review: func(k *fetchcontract.KeyInfo, source string) (bool, error) { return true, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || added[0].Source != alice || len(added[0].UserIDs) != 1 || !strings.Contains(added[0].UserIDs[0], "alice@example.com") ||
		added[0].Path != filepath.Join(h.Config().LocalConfig, "trustedkeys", "prefix.d", "example.com", "hello", added[0].Fingerprint) {
		t.Fatalf("added %+v, want alice's key under the prefix", added)
	}
	keys, err := h.TrustedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Fingerprint != added[0].Fingerprint || keys[0].Prefix != "example.com/hello" {
		t.Errorf("trusted keys %+v", keys)
	}
	removed, masked, err := h.Untrust(ctx, added[0].Fingerprint)
	if err != nil || len(removed) != 1 || len(masked) != 0 {
		t.Errorf("Untrust = %v, %v, %v", removed, masked, err)
	}
	if keys, err := h.TrustedKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("after Untrust: %+v, %v", keys, err)
	}
}

func TestTrustKeysRefusesBadOptions(t *testing.T) {
	h := newHost(t)
	key := writeKey(t, "carol")
	for _, tc := range []struct {
		name string
		opts TrustOptions
		want string
	}{
		{"neither prefix nor root", TrustOptions{Sources: []string{key}}, "exactly one"},
		{"both", TrustOptions{Prefix: "example.com", Root: true, Sources: []string{key}}, "exactly one"},
		{"root without keys", TrustOptions{Root: true}, "needs a key"},
		{"bad prefix", TrustOptions{Prefix: "Example.com/../x", Sources: []string{key}}, "prefix"},
		{"missing file", TrustOptions{Prefix: "example.com", Sources: []string{key + ".missing"}}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			added, err := h.TrustKeys(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(added) != 0 {
				t.Errorf("TrustKeys = %v, %v; want an error containing %q", added, err, tc.want)
			}
		})
	}
	if keys, _ := h.TrustedKeys(context.Background()); len(keys) != 0 {
		t.Errorf("refused calls left keys: %+v", keys)
	}
}

// TestFetchSignatureFile: a signature file given for the fetch is checked
// in place of FILE.asc; a wrong one, a second image, an image ID or
// --insecure-options=image with it are refused, and nothing is stored.
func TestFetchSignatureFile(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	e, pub := newKey(t, "signer")
	if _, err := h.TrustKeys(ctx, TrustOptions{Prefix: "example.com", Sources: []string{pub},
		Review: func(*fetchcontract.KeyInfo, string) (bool, error) { return true, nil }}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img := buildACI(t, dir, "example.com/hello", "")
	other := buildACI(t, dir, "example.com/other", "")
	sign := func(file string) string {
		in, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		sig := filepath.Join(t.TempDir(), "detached.sig")
		out, err := os.Create(sig)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := openpgp.ArmoredDetachSign(out, e, in, nil); err != nil {
			t.Fatal(err)
		}
		return sig
	}
	good, wrong := sign(img), sign(other)

	for _, tc := range []struct {
		name string
		opts FetchOptions
		refs []string
		err  string
	}{
		{"no signature beside it", FetchOptions{}, []string{img}, img + ".asc does not exist"},
		{"the signature of another image", FetchOptions{Signature: wrong}, []string{img}, "signature does not match the image"},
		{"a missing signature file", FetchOptions{Signature: good + ".missing"}, []string{img}, good + ".missing does not exist"},
		{"two images", FetchOptions{Signature: good}, []string{img, other}, "one image"},
		{"with --insecure-options=image", FetchOptions{Signature: good, Insecure: fetch.InsecureImage}, []string{img}, "contradict"},
		{"an image ID", FetchOptions{Signature: good}, []string{"sha512-0123"}, "not to an image ID"},
	} {
		if _, err := h.Fetch(ctx, tc.opts, tc.refs...); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.err)
		}
	}
	if imgs, _ := h.Images(ctx); len(imgs) != 0 {
		t.Fatalf("refused fetches stored %d images", len(imgs))
	}
	imgs, err := h.Fetch(ctx, FetchOptions{Signature: good}, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)); !strings.EqualFold(imgs[0].Origin.Signer, want) {
		t.Errorf("signer %q, want %s", imgs[0].Origin.Signer, want)
	}
}

// TestAuth: the credentials come from the system's auth.d and the local
// one, the local file winning for a domain both name.
func TestAuth(t *testing.T) {
	h := newHost(t)
	write := func(dir, name, body string) {
		d := filepath.Join(dir, "auth.d")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(h.Config().SystemConfig, "sys.json", `{"rktKind":"auth","rktVersion":"v1","domains":["a.example","b.example"],"type":"basic","credentials":{"user":"sys","password":"p"}}`)
	write(h.Config().LocalConfig, "mine.json", `{"rktKind":"auth","rktVersion":"v1","domains":["a.example"],"type":"oauth","credentials":{"token":"t"}}`)
	auth, err := h.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if len(auth) != 2 || auth["a.example"].Type != "oauth" || auth["a.example"].Token != "t" || auth["b.example"].User != "sys" ||
		auth["a.example"].Source != filepath.Join(h.Config().LocalConfig, "auth.d", "mine.json") {
		t.Errorf("auth %v, want a.example from the local file and b.example from the system's", auth)
	}
}

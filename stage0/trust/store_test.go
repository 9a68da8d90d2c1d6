package trust

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestAddKey(t *testing.T) {
	f := fixture
	ed := f.keys["ed"]
	for _, tc := range []struct {
		name   string
		prefix string // "" for AddRootKey
		data   []byte
	}{
		{"binary export", "example.com/hello", ed.pub},
		{"armored export", "example.com/hello", ed.pubArm},
		{"armored with text around it", "example.com", append(append([]byte("Here is my key:\n\n"), ed.pubArm...), "\nThanks\n"...)},
		{"root key", "", ed.pub},
		{"subkey signer", "example.com", f.keys["sub"].pub},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, warn := newTestStore(t)
			var fp, p string
			var err error
			if tc.prefix == "" {
				fp, p, err = s.AddRootKey(bytes.NewReader(tc.data))
			} else {
				fp, p, err = s.AddKey(tc.prefix, bytes.NewReader(tc.data))
			}
			if err != nil {
				t.Fatal(err)
			}
			k := ed
			if tc.name == "subkey signer" {
				k = f.keys["sub"]
			}
			if fp != k.fp {
				t.Errorf("fingerprint %s, want %s", fp, k.fp)
			}
			want := filepath.Join(s.LocalDir, "root.d", fp)
			if tc.prefix != "" {
				want = filepath.Join(s.LocalDir, "prefix.d", filepath.FromSlash(tc.prefix), fp)
			}
			if p != want {
				t.Errorf("path %s, want %s", p, want)
			}
			stored, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(stored, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
				t.Errorf("stored key is not armored:\n%s", stored)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode())
			}
			// Nothing but the key file: no temporary file left behind.
			ents, _ := os.ReadDir(filepath.Dir(p))
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want 1", len(ents))
			}
			// The stored key works.
			name := "example.com/hello/app"
			sig := f.sigs["ed.asc"]
			if tc.name == "subkey signer" {
				sig = f.sigs["sub.asc"]
			}
			if _, err := s.Verify(name, bytes.NewReader(f.image), sig); err != nil {
				t.Fatalf("verify with the added key: %v", err)
			}
			// Adding again replaces the file.
			if tc.prefix != "" {
				if _, p2, err := s.AddKey(tc.prefix, bytes.NewReader(tc.data)); err != nil || p2 != p {
					t.Fatalf("add again: %s, %v", p2, err)
				}
			}
			if warn.Len() != 0 {
				t.Errorf("warnings: %s", warn)
			}
		})
	}
}

func TestAddKeyRefused(t *testing.T) {
	f := fixture
	ed := f.keys["ed"]
	for _, tc := range []struct {
		name   string
		prefix string
		data   []byte
		want   error  // sentinel, or nil for any error
		msg    string // substring of the error
	}{
		{"empty prefix", "", ed.pub, nil, "empty prefix"},
		{"upper case prefix", "Example.com", ed.pub, nil, "invalid prefix"},
		{"dot-dot", "example.com/../etc", ed.pub, nil, "invalid prefix"},
		{"leading dot-dot", "../etc", ed.pub, nil, "invalid prefix"},
		{"absolute", "/etc", ed.pub, nil, "invalid prefix"},
		{"trailing slash", "example.com/", ed.pub, nil, "invalid prefix"},
		{"double slash", "example.com//x", ed.pub, nil, "invalid prefix"},
		{"dot segment", "example.com/./x", ed.pub, nil, "invalid prefix"},
		{"space", "example.com/a b", ed.pub, nil, "invalid prefix"},
		{"NUL", "example.com/a\x00", ed.pub, nil, "invalid prefix"},
		{"empty key", "example.com", nil, nil, "no key data"},
		{"garbage key", "example.com", []byte("hello world"), nil, "parse key"},
		{"two keys", "example.com", f.twoKeys, nil, "found 2 keys"},
		{"secret key", "example.com", f.secretArm, nil, "secret key"},
		{"signature instead of key", "example.com", f.sigs["ed.asc"], nil, "PGP SIGNATURE"},
		{"revoked key", "example.com", f.revokedPub, ErrRevoked, f.keys["revoked"].fp},
		{"expired key", "example.com", f.keys["expired"].pub, ErrExpired, f.keys["expired"].fp},
		{"only signing subkey revoked", "example.com", f.subRevokedPub, nil, "no usable signing key"},
		{"too large", "example.com", bytes.Repeat([]byte{0x99}, MaxKeySize+1), nil, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStore(t)
			_, _, err := s.AddKey(tc.prefix, bytes.NewReader(tc.data))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			// Nothing written.
			if _, err := os.Stat(s.LocalDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("local dir created: %v", err)
			}
		})
	}
}

func TestAddKeyWriteFailure(t *testing.T) {
	s, _ := newTestStore(t)
	// The local directory is a file: nothing can be written, and nothing
	// is left behind.
	if err := os.MkdirAll(filepath.Dir(s.LocalDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.LocalDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddKey("example.com", bytes.NewReader(fixture.keys["ed"].pub)); !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "add trusted key "+fixture.keys["ed"].fp) {
		t.Fatalf("AddKey into a file: %v, want ENOTDIR naming the key", err)
	}
	if s2 := NewStore(s.SystemDir, ""); true {
		if _, _, err := s2.AddRootKey(bytes.NewReader(fixture.keys["ed"].pub)); err == nil || !strings.Contains(err.Error(), "no local key directory configured") {
			t.Fatalf("AddRootKey without a local dir: %v, want a refusal naming the missing directory", err)
		}
	}
}

func TestRemove(t *testing.T) {
	f := fixture
	ed, other := f.keys["ed"], f.keys["other"]
	t.Run("local keys", func(t *testing.T) {
		s, _ := newTestStore(t, place{key: "ed", prefix: "example.com/hello"}, place{key: "ed"}, place{key: "other", prefix: "example.com"})
		removed, masked, err := s.Remove(strings.ToUpper(spaced(ed.fp)))
		if err != nil {
			t.Fatal(err)
		}
		if len(removed) != 2 || len(masked) != 0 {
			t.Errorf("removed %v, masked %v", removed, masked)
		}
		// The emptied prefix directory is gone, the other key stays.
		if _, err := os.Stat(filepath.Join(s.LocalDir, "prefix.d/example.com/hello")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("empty prefix dir left: %v", err)
		}
		el, err := s.KeyringFor("example.com/hello")
		if err != nil || len(el) != 1 || Fingerprint(el[0]) != other.fp {
			t.Errorf("keyring after remove: %d keys, %v", len(el), err)
		}
		if _, _, err := s.Remove(ed.fp); !errors.Is(err, ErrNotFound) {
			t.Errorf("second remove: %v, want ErrNotFound", err)
		}
	})
	t.Run("system keys are masked", func(t *testing.T) {
		s, _ := newTestStore(t, place{system: true, key: "ed"}, place{system: true, key: "ed", prefix: "example.com"}, place{key: "ed", prefix: "example.org"})
		removed, masked, err := s.Remove(ed.fp)
		if err != nil {
			t.Fatal(err)
		}
		if len(removed) != 1 || len(masked) != 2 {
			t.Fatalf("removed %v, masked %v", removed, masked)
		}
		for _, m := range masked {
			if fi, err := os.Stat(m); err != nil || fi.Size() != 0 || !strings.HasPrefix(m, s.LocalDir) {
				t.Errorf("mask %s: %v", m, err)
			}
		}
		for _, name := range []string{"example.com/x", "example.org/x", "example.net/x"} {
			if _, err := s.Verify(name, bytes.NewReader(f.image), f.sigs["ed.asc"]); !errors.Is(err, ErrUntrusted) {
				t.Errorf("%s after remove: %v", name, err)
			}
		}
		// The system files are untouched.
		if fi, err := os.Stat(filepath.Join(s.SystemDir, "root.d", ed.fp)); err != nil || fi.Size() == 0 {
			t.Errorf("system key changed: %v", err)
		}
		if _, _, err := s.Remove(ed.fp); !errors.Is(err, ErrNotFound) {
			t.Errorf("remove of a masked key: %v, want ErrNotFound", err)
		}
		// Adding it locally again trusts it again, through the local file.
		if _, _, err := s.AddRootKey(bytes.NewReader(ed.pub)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify("example.net/x", bytes.NewReader(f.image), f.sigs["ed.asc"]); err != nil {
			t.Errorf("after re-adding: %v", err)
		}
	})
	t.Run("bad fingerprints", func(t *testing.T) {
		s, _ := newTestStore(t)
		for _, fp := range []string{"", "xyz", ed.fp[24:], ed.fp + "0", "../../etc/passwd"} {
			if _, _, err := s.Remove(fp); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprintf("invalid fingerprint %q", fp)) {
				t.Errorf("Remove(%q): %v, want a refusal naming the invalid fingerprint", fp, err)
			}
		}
	})
}

func spaced(fp string) string {
	var parts []string
	for i := 0; i < len(fp); i += 4 {
		parts = append(parts, fp[i:i+4])
	}
	return strings.Join(parts, " ")
}

func TestList(t *testing.T) {
	f := fixture
	ed, other, rsa := f.keys["ed"], f.keys["other"], f.keys["rsa"]
	s, _ := newTestStore(t,
		place{system: true, key: "ed"},
		place{system: true, key: "other", prefix: "example.com/hello"},
		place{system: true, key: "rsa", prefix: "example.com/hello"},
		place{mask: true, key: "other", prefix: "example.com"},
		place{key: "rsa", prefix: "example.com", arm: true},
		place{key: "ed", prefix: "example.com/hello", name: other.fp},         // wrong name
		place{key: "ed", prefix: "Example.com", name: ed.fp},                  // invalid prefix dir
		place{key: "ed", prefix: "example.org", data: []byte("junk")},         // unparsable
		place{key: "ed", prefix: "example.org", name: strings.ToUpper(ed.fp)}, // upper case
	)
	// A file directly in prefix.d and a hidden file, which is skipped.
	os.WriteFile(filepath.Join(s.LocalDir, "prefix.d", ed.fp), ed.pub, 0o644)
	os.WriteFile(filepath.Join(s.LocalDir, "root.d", "."+ed.fp+".tmp-1"), ed.pub, 0o644)
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		system bool
		where  string
		fp     string
		status Status
	}
	var got []row
	for _, ki := range list {
		where := ki.Prefix
		if ki.Root {
			where = "(root)"
		}
		got = append(got, row{ki.System, where, ki.Fingerprint, ki.Status})
		if ki.Status == StatusIgnored && ki.Problem == "" {
			t.Errorf("%s ignored without a reason", ki.Path)
		}
		if ki.Status == StatusTrusted && (len(ki.UserIDs) == 0 || ki.Entity == nil || ki.Created.IsZero()) {
			t.Errorf("%s: incomplete key info %+v", ki.Path, ki)
		}
	}
	want := []row{
		{true, "(root)", ed.fp, StatusTrusted},
		{false, "", "", StatusIgnored}, // directly in prefix.d
		{false, "Example.com", "", StatusIgnored},
		{false, "example.com/hello", "", StatusIgnored}, // wrong name
		{false, "example.com", other.fp, StatusMask},
		{false, "example.com", rsa.fp, StatusTrusted},
		{true, "example.com/hello", other.fp, StatusMasked},
		{true, "example.com/hello", rsa.fp, StatusTrusted},
		{false, "example.org", "", StatusIgnored}, // upper case name
		{false, "example.org", "", StatusIgnored}, // junk
	}
	sortRows := func(r []row) {
		slices.SortFunc(r, func(a, b row) int {
			return strings.Compare(a.where+a.fp+a.status.String(), b.where+b.fp+b.status.String())
		})
	}
	sortRows(got)
	sortRows(want)
	if !slices.Equal(got, want) {
		t.Errorf("List:\n got %v\nwant %v", got, want)
	}
}

func TestKeyringForIgnoresOtherBranches(t *testing.T) {
	s, warn := newTestStore(t,
		place{key: "ed", prefix: "example.com/hello"},
		place{key: "other", prefix: "example.com/helloworld"},
		place{key: "rsa", prefix: "example.com/hello/x"},
		place{key: "old", prefix: "example.com"},
		place{key: "expired", prefix: "example.com/hello/x", name: "junk"},
	)
	el, err := s.KeyringFor("example.com/hello")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range el {
		got = append(got, Fingerprint(e))
	}
	want := []string{fixture.keys["old"].fp, fixture.keys["ed"].fp}
	if !slices.Equal(got, want) {
		t.Errorf("keyring %v, want %v", got, want)
	}
	// Files under deeper prefixes are not even looked at.
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn)
	}
	// A file where a prefix directory should be.
	os.WriteFile(filepath.Join(s.LocalDir, "prefix.d", "example.net"), []byte("x"), 0o644)
	if _, err := s.KeyringFor("example.net/app"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "not a directory") {
		t.Errorf("warnings %q", warn)
	}
}

func TestParseKey(t *testing.T) {
	f := fixture
	for _, tc := range []struct {
		name    string
		data    []byte
		fp      string
		uid     string
		algo    string
		expires bool
		revoked bool
	}{
		{"ed binary", f.keys["ed"].pub, f.keys["ed"].fp, "Ed Signer <ed@example.com>", "ed25519", false, false},
		{"ed armored", f.keys["ed"].pubArm, f.keys["ed"].fp, "Ed Signer <ed@example.com>", "ed25519", false, false},
		{"rsa", f.keys["rsa"].pubArm, f.keys["rsa"].fp, "RSA Signer <rsa@example.com>", "rsa2048", false, false},
		{"expired", f.keys["expired"].pub, f.keys["expired"].fp, "Expired Signer <expired@example.com>", "ed25519", true, false},
		{"revoked", f.revokedPub, f.keys["revoked"].fp, "Revoked Signer <revoked@example.com>", "ed25519", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ki, err := ParseKey(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if ki.Fingerprint != tc.fp || !slices.Equal(ki.UserIDs, []string{tc.uid}) || ki.Algorithm != tc.algo || ki.Revoked != tc.revoked {
				t.Errorf("got %s %q %s revoked=%v", ki.Fingerprint, ki.UserIDs, ki.Algorithm, ki.Revoked)
			}
			if ki.KeyID != strings.ToUpper(tc.fp[24:]) {
				t.Errorf("key ID %s", ki.KeyID)
			}
			if tc.expires != !ki.Expires.IsZero() {
				t.Errorf("expires %v", ki.Expires)
			}
			if tc.expires && (ki.Expires.After(time.Now()) || ki.Expires.Before(ki.Created)) {
				t.Errorf("created %v expires %v", ki.Created, ki.Expires)
			}
		})
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	fp := fixture.keys["ed"].fp
	for _, in := range []string{fp, strings.ToUpper(fp), spaced(fp), "0x" + fp, " " + spaced(strings.ToUpper(fp)) + "\n"} {
		if got, err := NormalizeFingerprint(in); err != nil || got != fp {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", fp[1:], fp + "a", strings.Replace(fp, fp[:1], "g", 1), "../" + fp[3:]} {
		if _, err := NormalizeFingerprint(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid fingerprint %q: want 40 or 64 hex digits", in)) {
			t.Errorf("NormalizeFingerprint(%q) = %v, want a refusal naming it", in, err)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		p, name string
		want    bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "example.com/x", true},
		{"example.com/hello", "example.com/hello/x/y", true},
		{"example.com/hello", "example.com/helloworld", false},
		{"example.com/hello", "example.com/hell", false},
		{"example.com", "example.company", false},
		{"example.com/hello/x", "example.com/hello", false},
	} {
		if got := covers(tc.p, tc.name); got != tc.want {
			t.Errorf("covers(%q, %q) = %v", tc.p, tc.name, got)
		}
	}
}

package stage1

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestLookupID(t *testing.T) {
	const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
bad line
nobody:x:65534:65534::/:/bin/false
user:x:notanumber:1::/:
user:x:1000:1000::/home/user:/bin/sh
`
	for _, tc := range []struct {
		name string
		id   uint32
		ok   bool
	}{
		{"root", 0, true},
		{"nobody", 65534, true},
		{"user", 1000, true},
		{"missing", 0, false},
		{"", 0, false},
		{"#", 0, false},
	} {
		id, ok, err := lookupID(strings.NewReader(passwd), tc.name)
		if err != nil || id != tc.id || ok != tc.ok {
			t.Errorf("lookupID(%q) = %d, %v, %v; want %d, %v", tc.name, id, ok, err, tc.id, tc.ok)
		}
	}
}

func TestParseNumericID(t *testing.T) {
	for _, tc := range []struct {
		in string
		id uint32
		ok bool
	}{
		{"0", 0, true}, {"1000", 1000, true}, {"4294967295", 4294967295, true},
		{"4294967296", 0, false}, {"", 0, false}, {"-1", 0, false}, {"1a", 0, false}, {"+1", 0, false},
	} {
		id, ok := parseNumericID(tc.in)
		if id != tc.id || ok != tc.ok {
			t.Errorf("parseNumericID(%q) = %d, %v; want %d, %v", tc.in, id, ok, tc.id, tc.ok)
		}
	}
}

func FuzzLookupID(f *testing.F) {
	f.Add("root:x:0:0::/:\n", "root")
	f.Add("a:b\n::::\n", "")
	f.Fuzz(func(t *testing.T, file, name string) {
		id, ok, err := lookupID(strings.NewReader(file), name)
		if err == nil && ok && !strings.Contains(file, name+":") {
			t.Fatalf("found %q (%d) in a file that does not name it", name, id)
		}
	})
}

func TestHostsFile(t *testing.T) {
	got := string(hostsFile("acirun-12345678", []hostsEntry{{netip.MustParseAddr("10.0.0.1"), "db"}}))
	for _, want := range []string{"127.0.0.1\tlocalhost localhost.localdomain acirun-12345678\n", "::1\t", "10.0.0.1\tdb\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file %q lacks %q", got, want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	got := string(resolvConf([]string{"10.0.0.53", "::1"}, []string{"example.com", "corp"}))
	want := "# written by acirun stage1\nsearch example.com corp\nnameserver 10.0.0.53\nnameserver ::1\n"
	if got != want {
		t.Errorf("resolvConf = %q, want %q", got, want)
	}
}

func TestWriteExit(t *testing.T) {
	p := t.TempDir() + "/exit.json"
	apps := []appExit{{Name: "a", ExitCode: 0}, {Name: "b\"\\\x01é", ExitCode: 137, Signal: "SIGKILL"}}
	if err := writeExit(p, 137, apps); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var got exitFile
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("exit.json %s: %v", b, err)
	}
	if got.ExitCode != 137 || len(got.Apps) != 2 || got.Apps[1].Signal != "SIGKILL" || got.Apps[0].Name != "a" {
		t.Errorf("exit.json round trip: %+v", got)
	}
}

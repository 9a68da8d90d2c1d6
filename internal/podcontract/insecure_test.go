package podcontract

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseInsecure(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Insecure
		str  string
	}{
		{"", 0, "none"},
		{"none", 0, "none"},
		{"image", InsecureImage, "image"},
		{"tls,http", InsecureTLS | InsecureHTTP, "tls,http"},
		{" Image , pubkey ", InsecureImage | InsecurePubKey, "image,pubkey"},
		{"all-fetch", InsecureAllFetch, "all-fetch"},
		{"image,tls,http,pubkey", InsecureAllFetch, "all-fetch"},
		{"all-fetch,seccomp", InsecureAllFetch | InsecureSeccomp, "all-fetch,seccomp"},
		{"capabilities,paths,seccomp", InsecureAllRun, "all-run"},
		{"all", InsecureAll, "all"},
		{"all-fetch,all-run", InsecureAll, "all"},
		{"paths,image", InsecureImage | InsecurePaths, "image,paths"},
	} {
		got, err := ParseInsecure(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseInsecure(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("ParseInsecure(%q).String() = %q, want %q", tc.in, got.String(), tc.str)
		}
		if again, err := ParseInsecure(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %v, %v", tc.in, again, err)
		}
	}
	for bad, word := range map[string]string{"ondisk": "ondisk", "image,": "", "tlss": "tlss", "all fetch": "all fetch", "image;tls": "image;tls"} {
		if _, err := ParseInsecure(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown insecure option %q", word)) {
			t.Errorf("ParseInsecure(%q) = %v, want a refusal naming %q", bad, err, word)
		}
	}
	_, err := ParseInsecure("image,bogus")
	if err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("error %v does not name the bad word", err)
	}
	if !InsecureAll.Has(InsecureTLS) || InsecureImage.Has(InsecureAllFetch) || InsecureAll.Has(0) {
		t.Error("Has is wrong")
	}
}

func FuzzParseInsecure(f *testing.F) {
	for _, s := range []string{"image,tls", "all", "all-fetch,seccomp", "none", "", "bogus"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseInsecure(s)
		if err != nil {
			return
		}
		if o&^InsecureAll != 0 {
			t.Fatalf("ParseInsecure(%q) = %b has unknown bits", s, o)
		}
		if again, err := ParseInsecure(o.String()); err != nil || again != o {
			t.Fatalf("round trip of %q via %q: %v %v", s, o.String(), again, err)
		}
	})
}

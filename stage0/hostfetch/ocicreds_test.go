package hostfetch

import (
	"testing"

	"github.com/acirun/acirun/stage0/fetch"
)

// TestRegistryCredentials: a registry gets rkt's dockerAuth credentials
// for it (Docker Hub's under any of its names), else the basic
// credentials auth.d has for its host; never a bearer token meant for
// ACI fetches.
func TestRegistryCredentials(t *testing.T) {
	docker := fetch.Auth{
		"registry-1.docker.io": {Type: "basic", User: "hub", Password: "h"},
		"quay.io":              {Type: "basic", User: "quay", Password: "q"},
	}
	auth := fetch.Auth{
		"quay.io":              {Type: "basic", User: "aci", Password: "a"},
		"registry.example.com": {Type: "basic", User: "reg", Password: "r"},
		"tokens.example.com":   {Type: "oauth", Token: "t"},
	}
	creds := registryCredentials(docker, auth)
	for reg, want := range map[string]string{
		"index.docker.io":           "hub",
		"docker.io":                 "hub",
		"quay.io":                   "quay",
		"registry.example.com:5000": "reg",
		"tokens.example.com":        "",
		"other.example.com":         "",
	} {
		c, ok := creds(reg)
		if ok != (want != "") || c.User != want {
			t.Errorf("%s: %q %v, want %q", reg, c.User, ok, want)
		}
	}
}

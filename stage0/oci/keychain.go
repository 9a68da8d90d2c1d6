package oci

import (
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/acirun/acirun/stage0/ociref"
)

// Credentials are a registry's user and password.
type Credentials struct {
	User, Password string
}

// Keychain gives go-containerregistry the credentials of a registry: those
// of the local configuration (auth.d, the same files as ACI fetches: lookup
// answers for a host:port or host) first, then Docker's and podman's
// (~/.docker/config.json, $DOCKER_CONFIG, $REGISTRY_AUTH_FILE and their
// credential helpers, as authn.DefaultKeychain reads them) where present;
// none means anonymous, and a registry's token service is then asked for an
// anonymous token.
func Keychain(lookup func(registry string) (Credentials, bool)) authn.Keychain {
	return authn.NewMultiKeychain(configKeychain(lookup), authn.DefaultKeychain)
}

type configKeychain func(registry string) (Credentials, bool)

func (k configKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k == nil {
		return authn.Anonymous, nil
	}
	if c, ok := k(r.RegistryStr()); ok {
		return authn.FromConfig(authn.AuthConfig{Username: c.User, Password: c.Password}), nil
	}
	return authn.Anonymous, nil
}

// credentialGuard keeps a registry's credentials on the registry's own
// host. go-containerregistry sends them (as basic auth) to whatever token
// service the registry's WWW-Authenticate challenge names; a registry, or
// whoever answers for it, could name any host there. On a request to
// another host a basic Authorization header is dropped, so that the token
// is asked for anonymously, or with that host's own auth.d credentials,
// which the fetch transport adds. Docker Hub's token service,
// auth.docker.io, is Docker Hub's own.
type credentialGuard struct {
	registry string // host[:port]
	inner    http.RoundTripper
}

func (g credentialGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.Header.Get("Authorization"), "Basic ") && !g.sameService(req.URL.Host) {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return g.inner.RoundTrip(req)
}

func (g credentialGuard) sameService(host string) bool {
	if strings.EqualFold(host, g.registry) || strings.EqualFold(stripPort(host), stripPort(g.registry)) {
		return true
	}
	return ociref.IsDockerHub(g.registry) && strings.EqualFold(stripPort(host), "auth.docker.io")
}

func stripPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

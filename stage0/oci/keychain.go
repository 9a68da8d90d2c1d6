package oci

import (
	"github.com/google/go-containerregistry/pkg/authn"
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

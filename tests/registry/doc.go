// Package registry starts real OCI registries for tests, and builds and
// pushes the images they serve with the tools a user would use: Debian's
// docker-registry (the reference registry, github.com/docker/distribution)
// on a loopback port, speaking plain HTTP, TLS with a certificate of a test
// CA, or bearer-token auth through a token server of the test (JWTs signed
// with a test key, users checked with basic auth); images laid out with
// umoci, pushed with skopeo, and saved as archives with podman.
//
// A registry serves in the test process's network namespace, or in another
// one (the e2e box's, see InBox): the registry and every command that talks
// to it (skopeo) join it, and the token server listens there.
//
// Nothing of it is faked: what a test sees is what a user of these tools
// would see, so an acirun that pulls from it pulls from the real thing.
package registry

package main

import (
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestLinksNoFetching: acirun links none of what acirun-fetch does for it
// (package fetchcontract): no OpenPGP, no HTML discovery, no OCI registry
// client, no zstd decoder (OCI layers only), nor the packages of ours that
// import them (hostfetch, pull, trust, discovery, oci). Their packages'
// initialisation was more than a third of every acirun start's before
// main, a run of a stored image included, and one import of any of them
// anywhere acirun reaches (host, pod, the store, the supervisor acirun
// runs in its own process) brings it back unseen otherwise.
func TestLinksNoFetching(t *testing.T) {
	exact := []string{
		testenv.Module + "/stage0/hostfetch",
		testenv.Module + "/stage0/pull",
		testenv.Module + "/stage0/trust",
		testenv.Module + "/stage0/discovery",
		testenv.Module + "/stage0/oci",
	}
	prefixes := []string{
		"github.com/ProtonMail/go-crypto",
		"github.com/cloudflare/circl",
		"golang.org/x/net/html",
		"github.com/google/go-containerregistry",
		"github.com/opencontainers/go-digest",
		"github.com/opencontainers/image-spec",
		// OCI layers only: the store is given the decoder by its
		// importer (store.OCIImportOptions.Zstd).
		"github.com/klauspost/compress/zstd",
	}
	for _, d := range testenv.DepsAmong(t, ".", exact, prefixes) {
		t.Errorf("acirun links %s", d)
	}
}

package trust_test

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/acirun/acirun/stage0/trust"
)

// The fetcher tees the download into the Verifier while the same bytes
// are decompressed and extracted; nothing is made visible before Verify
// returns a signer.
func ExampleStore_NewVerifier() {
	store := trust.NewStore("/usr/lib/acirun/trustedkeys", "/etc/acirun/trustedkeys")
	store.Warnings = os.Stderr

	sig, _ := os.ReadFile("hello.aci.asc") // at most trust.MaxSignatureSize
	v, err := store.NewVerifier("example.com/hello", sig)
	if err != nil {
		fmt.Println(err) // no signature, untrusted signer, weak digest: before any download
		return
	}
	resp, err := http.Get("https://example.com/hello.aci")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body := io.TeeReader(resp.Body, v)
	_ = body // decompress, hash and extract from body into a staging directory
	signer, err := v.Verify()
	if err != nil {
		fmt.Println(err) // remove the staging directory
		return
	}
	fmt.Println("signed by", signer.Fingerprint, signer.UserIDs)
}

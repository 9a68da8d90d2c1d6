// Command acirun-fetch is acirun's helper for everything that talks to
// image sources or handles OpenPGP keys: fetching images (discovery, HTTP,
// OCI registries, the store's import), verifying their signatures, and the
// trust store (package hostfetch). acirun runs it for fetch, trust, the
// images a run or prepare does not find in the store and the repair of
// image verify, and talks to it through package fetchcontract: a request
// on its standard input, progress, questions and the result on its
// standard output, warnings on its standard error. Users do not type it;
// acirun finds it beside itself (fetchcontract.Find) and make install puts
// it there.
//
// It is a binary of its own so that acirun links none of those packages
// (their initialisation was a third of acirun's start before main), and so
// that the parsers of untrusted network input (HTML, HTTP, TLS, registry
// JSON, OpenPGP packets) run in a process of their own.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/acirun/acirun/stage0/hostfetch"
)

func main() {
	// acirun stops it with SIGTERM when its context ends; Ctrl-C reaches
	// it with acirun's own process group. Either cancels the work, which
	// cleans up as a cancelled fetch does. acirun's death kills it
	// (SIGKILL, fetchcontract.Client's Pdeathsig): nothing to catch.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := hostfetch.Serve(ctx, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "acirun-fetch: %v\n", err)
		os.Exit(1)
	}
}

// Package podcontract is the one definition of what passes between stage0
// (the host side, stage0/pod) and stage1 (the pod side, stage1-systemd): the
// pod directory's file names, the exit record stage1 writes and stage0
// reads, the flags of `acirun stage1 run` that stage0 chooses at prepare
// time and stage1 parses, the control message `stage1 run` sends the pod's
// PID 1, the parsers of the values those flags carry (host names, /etc/hosts
// entries, nameservers, --insecure-options), and the locking of a pod.
//
// stage1 never imports stage0 and stage0 never imports stage1: both import
// this package, so that a change to the contract is a change to one file
// and a compile error on the side that did not follow. docs/pod-layout.md
// describes the directory in prose and names the identifiers here.
//
// The pod's PID 1 imports this package too and lives as long as the pod
// with a resident set of about 3 MB: nothing here has package-level state
// to initialise, and what PID 1 calls after its setup (WriteExit) encodes
// by hand instead of through encoding/json's reflection.
package podcontract

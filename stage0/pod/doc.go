// Package pod is the host side of a pod: the preparation of a pod
// directory from a RunRequest (the reified pod manifest and everything else
// docs/pod-layout.md names), and the race-free reading of a pod's state for
// list, status and gc.
//
// A RunRequest is the library's input, whoever fills it in: the CLI parses
// it from the command line of `acirun run` (cmd/acirun holds that grammar
// and the flags' syntax), another front end builds it from its own API.
//
// The pod directory is the only thing shared with stage1; this package never
// runs a pod itself, it builds the command line (Stage1Command) that does.
package pod

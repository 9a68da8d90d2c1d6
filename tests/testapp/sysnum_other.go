//go:build !amd64 && !arm64

package main

// Unknown on this architecture: the probes report "skipped".
const (
	sysSetns = -1
	sysBPF   = -1
)

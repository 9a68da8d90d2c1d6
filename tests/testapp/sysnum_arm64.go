package main

// System call numbers, spelled as on amd64 so that the probes share code.
const (
	sysSetns = 268
	sysBPF   = 280
)

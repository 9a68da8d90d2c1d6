package main

// System call numbers the syscall package does not define on amd64.
const (
	sysSetns = 308
	sysBPF   = 321
)

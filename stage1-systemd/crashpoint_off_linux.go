//go:build !acirun_crashpoints

package stage1

// builtCrashHook is nil in the shipped acirun-stage1: no environment can
// make it die at a step (crashpoint_on_linux.go is the tests' build).
func builtCrashHook() func(startStep) { return nil }

//go:build !acirun_crashpoints

package stage1

// BuiltCrashHook is nil in the shipped acirun-stage1 and acirun-pod: no
// environment can make it die at a step (crashpoint_on_linux.go is the
// tests' build).
func BuiltCrashHook() func(StartStep) { return nil }

//go:build acirun_crashpoints

package stage1

import "os"

// BuiltCrashHook is the crash hook of an acirun-stage1 or acirun-pod built
// with the acirun_crashpoints tag, which only the tests build (tests/e2e
// TestKillAtEveryStartStep): it dies where crashEnv says.
func BuiltCrashHook() func(StartStep) { return crashHook(os.Getenv(crashEnv)) }

package stage1

import "os"

// What TestMain (main_linux_test.go, package stage1_test, which may import
// package supervisor) needs of this package's tests.

// MainEnv is testMainEnv: set, the test binary is a process of a test pod.
const MainEnv = testMainEnv

// CrashHookFromEnv is the crash hook of a test pod's processes: they die
// where crashEnv says (TestCrashAtEveryStartStep).
func CrashHookFromEnv() func(StartStep) { return crashHook(os.Getenv(crashEnv)) }

// RemoveProbe removes the probe program built for the tests (probeBin).
func RemoveProbe() {
	if probe.dir != "" {
		os.RemoveAll(probe.dir)
	}
}

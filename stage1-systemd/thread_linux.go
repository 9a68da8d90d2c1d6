package stage1

import "runtime"

// onOwnThread runs f on an OS thread of its own and returns what f
// returns. The thread is locked to f's goroutine and never unlocked, so
// that it ends with it: whatever f changes of its thread alone (its
// cgroups, file system UID, mount namespace, confinement) goes with the
// thread and never reaches another goroutine. PID 1 starts each app's
// process this way, and the app launcher opens a --private-users pod's
// terminal. The process's main thread must be its main goroutine's for
// good (initMain, enterMain): the runtime parks a main thread left locked
// forever instead of ending it, and it would keep what f changed.
func onOwnThread(f func() (int, error)) (int, error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		n, err := f()
		done <- result{n, err}
	}()
	r := <-done
	return r.n, r.err
}

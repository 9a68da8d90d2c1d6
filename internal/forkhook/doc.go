// Package forkhook gives code that forks with raw system calls the Go
// runtime's fork hooks, which syscall.forkExec brackets its own fork with:
// a child that must do what syscall.SysProcAttr has no field for (join a
// user namespace, confine itself with a seccomp filter and Landlock, or
// do nothing at all but exit) is forked as Go forks, between Before and
// After, and calls AfterInChild first.
package forkhook

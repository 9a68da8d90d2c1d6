// Package stage1 is the pod side of acirun: everything that happens between
// "run this prepared pod directory" and the apps' exit codes.
//
// stage0 prepares a pod directory (internal/podcontract defines it, and
// docs/pod-layout.md describes it) and
// then runs the hidden command `acirun stage1 run [flags] POD-DIR`, which the
// CLI hands to [Main]. stage1 re-executes the acirun binary itself (never an
// external runtime, never cgo) in three roles:
//
//   - `stage1 run [flags] POD-DIR` stays on the host: it takes the pod's lock,
//     writes `pid`, starts the pod's PID 1 in new mount, PID, UTS and IPC (and
//     usually network) namespaces from a read-only view of the binary (see
//     below), forwards SIGTERM/SIGINT, removes the pod's cgroups afterwards
//     and exits with the pod's exit code.
//   - `stage1 init [flags] POD-DIR` is PID 1 of the pod: it sets the pod's
//     sysctls (only those of its own namespaces), builds each app's
//     root (overlay, /proc, /sys, /dev, volumes, /etc/hosts, masked paths), runs
//     the event handlers and the apps, reaps zombies, stops the pod and writes
//     `exit.json`. Its flags are exactly those of `run`.
//   - `stage1 app [--phase=main|pre-start|post-stop] [--insecure-options=…]
//     POD-DIR NAME` is the last step before an app (or one of its event
//     handlers) runs, started in the app's cgroups: it enters a private mount namespace, pivots into
//     the app's root, resolves user and group inside it, applies capabilities,
//     no_new_privs, seccomp and oom-score-adj, and executes the app.
//
// All three mark themselves non-dumpable, so that an app, even root in its
// pod, cannot open /proc/PID/exe, /proc/PID/root or /proc/PID/cwd of them
// (the way to the host's root), and the pod's processes execute the binary
// through a private read-only bind mount of it (a sealed memfd copy on
// kernels without open_tree), so that even an app that gets hold of one of
// our executables cannot overwrite the host's acirun binary (CVE-2019-5736).
// Every descriptor inherited from the caller is made close-on-exec on entry.
package stage1

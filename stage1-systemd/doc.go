// Package stage1 is the pod side of acirun: the processes of a pod, from
// its PID 1 to the exec of each app. The pod's supervisor, `stage1 run`,
// which stays on the host, is package supervisor (stage1-systemd/supervisor),
// which imports this one; nothing here imports it, so that the binary of
// the pod's processes, acirun-pod, links none of the supervisor's network,
// CNI, D-Bus, HTTP and TLS code, whose packages' initialisation every
// PID 1 and launcher would otherwise pay at its start.
//
// stage0 prepares a pod directory (internal/podcontract defines it, and
// docs/pod-layout.md describes it); the supervisor checks it (CheckPod),
// starts the pod's PID 1 from a sealed view of acirun-pod
// (SealedExecutable, ForkExecFile), and [Main] runs acirun-pod's entry
// points:
//
//   - `init [flags] POD-DIR` is PID 1 of the pod: it sets the pod's sysctls
//     (only those of its own namespaces), builds each app's root (overlay,
//     /proc, /sys, /dev, volumes, /etc/hosts, masked paths), runs the event
//     handlers and the apps, reaps zombies, stops the pod and writes
//     `exit.json`. Its flags are those of `run`, and what `run` sets for it.
//   - `app [--phase=main|pre-start|post-stop|enter] … POD-DIR NAME` is the
//     last step before an app (or one of its event handlers) runs, where PID
//     1 cannot launch it from a thread of its own, started in the app's
//     cgroups: it enters a private mount namespace, pivots into the app's
//     root, resolves user and group inside it, applies capabilities,
//     no_new_privs, seccomp and oom-score-adj, and executes the app.
//   - `enter [flags] POD-DIR NAME CMD…` is what `acirun enter` execs: it
//     starts `app --phase=enter` in the app's namespaces and waits for it.
//
// Every process of the pod side marks itself non-dumpable (HardenProcess),
// so that an app, even root in its pod, cannot open /proc/PID/exe,
// /proc/PID/root or /proc/PID/cwd of them (the way to the host's root), and
// the pod's processes execute acirun-pod through a private read-only bind
// mount of it (a sealed memfd copy on kernels without open_tree), so that
// even an app that gets hold of one of our executables cannot overwrite the
// host's binary (CVE-2019-5736). Every descriptor inherited from the caller
// is made close-on-exec on entry.
package stage1

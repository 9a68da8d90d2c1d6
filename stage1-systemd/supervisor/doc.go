// Package supervisor is `stage1 run [flags] POD-DIR`, the host-side
// supervisor of one pod: what a pod's systemd unit runs as its main
// process (acirun-stage1), and what acirun runs in its own process for a
// pod without a unit. It takes the pod's lock, writes `pid`, checks the pod
// (stage1.CheckPod), starts the pod's PID 1 from a sealed view of
// acirun-pod in new mount, PID, UTS and IPC (and usually network)
// namespaces, puts the pod on its network (netns, or CNI for named
// networks), serves its metadata, registers it with systemd-machined,
// sends the apps' output to the journal, forwards SIGTERM/SIGINT, undoes
// all of it when the pod ends and exits with the pod's exit code
// (docs/pod-layout.md).
//
// It is a package of its own, apart from the pod's processes (package
// stage1), because of what it links: the network, nftables, netlink, CNI,
// D-Bus, HTTP and TLS code is only ever used here, and acirun-pod, the
// binary of the pod's PID 1 and launchers, must not pay their packages'
// initialisation at every start.
package supervisor

// Package box boots a real systemd for acirun's end-to-end tests: Debian's
// systemd as PID 1 of new pid, mount, cgroup, network, UTS and IPC
// namespaces, on an overlay whose lower layer is the host's root and whose
// upper layer is a fresh tmpfs, with cgroups of its own in every hierarchy
// the host mounts. Tests talk to it as acirun's users talk to their
// systemd: over D-Bus (Systemd, SystemBus), through its journal (Journal)
// and by running commands inside it (Command, Exec, Output).
//
// The test binary re-executes itself for the box's init step and for every
// command it runs in the box, so a package using boxes needs
//
//	func TestMain(m *testing.M) { box.Main(m) }
//
// Booting needs root. Start skips a test when not root, unless CI=true,
// where it fails it. See tests/README.md for how the box is built and why.
package box

package main

import (
	"testing"

	"github.com/acirun/acirun/internal/testenv"
)

// TestLinksThePodSideOnly: acirun-pod, every pod's PID 1 and app launcher,
// links none of what it was split from acirun-stage1 to leave out (the
// supervisor, the pod network, its nftables, netlink, CNI and D-Bus
// libraries, the network and HTTP stacks, regexp, debug/elf), whose
// packages' initialisation every start of theirs would pay, nor anything
// of stage0 (the pod side never imports it). One import of any of them
// anywhere under stage1-systemd brings it back unseen otherwise.
func TestLinksThePodSideOnly(t *testing.T) {
	exact := []string{"net", "net/http", "crypto/tls", "regexp", "debug/elf", "debug/dwarf"}
	prefixes := []string{
		testenv.Module + "/stage0/",
		testenv.Module + "/netns",
		testenv.Module + "/stage1-systemd/supervisor",
		"github.com/containernetworking/",
		"github.com/google/nftables",
		"github.com/vishvananda/",
		"github.com/mdlayher/",
		"github.com/godbus/",
		"github.com/coreos/go-systemd",
	}
	for _, d := range testenv.DepsAmong(t, ".", exact, prefixes) {
		t.Errorf("acirun-pod links %s", d)
	}
}

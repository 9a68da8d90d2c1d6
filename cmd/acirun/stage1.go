package main

import stage1 "github.com/acirun/acirun/stage1-systemd"

// hiddenEntry dispatches the entry points that acirun re-executes itself
// into (docs/pod-layout.md); they are not commands a user types. This is
// the one place the CLI reaches into the pod side: the acirun binary is
// also stage1.
func hiddenEntry(args []string) (int, bool) {
	if len(args) > 0 && args[0] == "stage1" {
		return stage1.Main(args[1:]), true
	}
	return 0, false
}

// Command measure runs a command with its standard output thrown away and
// prints its wall-clock time in seconds, its peak resident set size in KiB
// and the CPU time it used in seconds, user and system ("1.234 5678 2.345"),
// like `/usr/bin/time -f '%e %M'` but with millisecond resolution and without
// needing GNU time installed. The peak RSS is the kernel's ru_maxrss for the
// child (its VmHWM), read from wait4.
//
// Usage: measure OUTFILE COMMAND [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: measure OUTFILE COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(254)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "measure: no rusage for the child")
		os.Exit(254)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	out := fmt.Sprintf("%.3f %d %.3f\n", elapsed.Seconds(), ru.Maxrss, cpu.Seconds())
	if werr := os.WriteFile(os.Args[1], []byte(out), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "measure:", werr)
		os.Exit(254)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "measure: %s: %v\n", os.Args[2], err)
		os.Exit(1)
	}
}

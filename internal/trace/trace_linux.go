package trace

import "golang.org/x/sys/unix"

// monotonic is CLOCK_MONOTONIC in nanoseconds: one clock for every process
// of the machine, unlike the monotonic reading of time.Now, which counts
// from an origin of its own process.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// cpuTime is the CPU time of the calling process, user and system, in
// nanoseconds.
func cpuTime() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

//go:build !race

package stage1

// raceEnabled is true in a test binary built with -race, whose
// instrumentation multiplies every process's private memory.
const raceEnabled = false

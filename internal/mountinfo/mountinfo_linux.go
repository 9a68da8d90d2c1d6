package mountinfo

import (
	"fmt"

	"github.com/acirun/acirun/internal/regfile"
)

// Self returns the mounts of the calling thread's mount namespace. It reads
// /proc/thread-self, not /proc/self: a thread locked after setns(2) into
// another mount namespace sees that namespace's mounts, where /proc/self
// would show the main thread's.
func Self() ([]Mount, error) {
	const path = "/proc/thread-self/mountinfo"
	b, err := regfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ms, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ms, nil
}

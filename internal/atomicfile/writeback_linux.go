package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback starts writing the n bytes of f at off to disk and does not
// wait (sync_file_range SYNC_FILE_RANGE_WRITE). A large file that is to be
// synced once it is complete (an image's stored copy) is written back while
// it is being written, so that the final sync finds it mostly on disk
// instead of waiting for all of it. Only a hint: the final sync is what
// makes the file durable, so an error is of no use and none is returned.
func StartWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

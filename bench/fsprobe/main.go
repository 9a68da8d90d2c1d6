// Command fsprobe times file creation on a file system: it makes a new
// directory below DIR, creates N empty files in it, spread over nested
// subdirectories of 100 files each (as an extracted tree is, so that they
// land in the block groups a tree's files would), and prints the mean
// microseconds per file or directory made. The files stay (deleting them would itself slow
// what it measures; see below); the caller removes DIR's contents later.
//
// On ext4 without a journal, allocating an inode skips every inode freed in
// the last minutes in the same block group, one buffer lookup each: one freed
// less than 60 s ago if its inode-table block is cached, less than 360 s ago
// if that block is dirty (as it is once a new inode in it was written). Right
// after a large tree was deleted, a file creation costs half a millisecond
// instead of a few microseconds. A sync and a drop of the clean page cache
// make it cheaper, but only the six minutes end it. The import benchmark
// waits for them after its own deletions, and uses this probe for those it
// cannot know of. One probe samples a few block groups only: the benchmark
// asks for three good ones in a row.
//
// Usage: fsprobe DIR N
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fsprobe DIR N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "fsprobe: N must be a positive number, not %q\n", os.Args[2])
		os.Exit(2)
	}
	dir, err := os.MkdirTemp(os.Args[1], "fsprobe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsprobe:", err)
		os.Exit(1)
	}
	start := time.Now()
	made := 0
	for i := range n {
		if i%100 == 0 {
			if dir, err = os.MkdirTemp(dir, "d"); err != nil {
				fmt.Fprintln(os.Stderr, "fsprobe:", err)
				os.Exit(1)
			}
			made++
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fsprobe:", err)
			os.Exit(1)
		}
		f.Close()
		made++
	}
	fmt.Printf("%.1f\n", float64(time.Since(start).Microseconds())/float64(made))
}

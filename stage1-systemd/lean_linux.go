package stage1

import (
	"bufio"
	"debug/elf"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropStartupPages unmaps, from PID 1's page tables only, the pages of its
// executable that it touched while starting: runtime and package
// initialisation of the whole acirun binary fault in megabytes of text and
// read-only data that the supervisor loop never uses again. The pages stay
// in the page cache (shared with every other acirun process) and fault back
// in one by one (MADV_RANDOM: no read-around) if used, so afterwards the
// resident set is PID 1's real working set.
//
// Only mappings nothing has written to are dropped: text always; read-only
// data only in a non-PIE executable, where no relocation ever touched it.
func dropStartupPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	pie := true
	if f, err := elf.Open("/proc/self/exe"); err == nil {
		pie = f.Type != elf.ET_EXEC
		f.Close()
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != exe {
			continue
		}
		if f[1] != "r-xp" && (pie || f[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_RANDOM)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

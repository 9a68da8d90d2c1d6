package stage1

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropStartupPages unmaps, from PID 1's page tables only, the pages of its
// executable that it touched while starting: runtime and package
// initialisation and the pod's set-up fault in text and read-only data of
// acirun-pod that its supervision loop never uses again. The pages stay in
// the page cache (shared with every process of acirun-pod) and fault back
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
	pie := !isELFExec("/proc/self/exe")
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

// isELFExec reports whether the executable at path is a fixed-address ELF
// executable (e_type ET_EXEC), not a position-independent one: its header
// says so in the two bytes at 16, in the byte order of e_ident[EI_DATA].
// It reads those bytes rather than calling debug/elf, whose packages'
// initialisation (DWARF tables, zlib) every start of PID 1 would pay.
func isELFExec(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [18]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != "\x7fELF" {
		return false
	}
	const etExec = 2 // ET_EXEC
	switch h[5] {
	case 1: // ELFDATA2LSB
		return binary.LittleEndian.Uint16(h[16:]) == etExec
	case 2: // ELFDATA2MSB
		return binary.BigEndian.Uint16(h[16:]) == etExec
	}
	return false
}

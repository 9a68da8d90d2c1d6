package oci

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// maxPasswd bounds how much of an image's /etc/passwd is read: it comes
// from an untrusted image.
const maxPasswd = 4 << 20

// primaryGroup finds user's line in an /etc/passwd formatted file and
// returns its numeric GID. Malformed lines are skipped, as the C library
// does.
func primaryGroup(r io.Reader, user string) (string, bool) {
	_, numErr := strconv.ParseUint(user, 10, 32)
	sc := bufio.NewScanner(io.LimitReader(r, maxPasswd))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 5)
		if len(f) < 4 || !(f[0] == user || numErr == nil && f[2] == user) {
			continue
		}
		if _, err := strconv.ParseUint(f[3], 10, 32); err != nil {
			continue
		}
		return f[3], true
	}
	return "", false
}

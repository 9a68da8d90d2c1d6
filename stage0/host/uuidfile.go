package host

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/acirun/acirun/stage0/pod"
)

// maxUUIDFile bounds what ReadUUIDFile reads: a UUID and a line break, with
// room for a carriage return and blanks an editor may add.
const maxUUIDFile = 256

// ReadUUIDFile reads the pod UUID that `--uuid-file-save=FILE` wrote (or a
// person did): one whole UUID, surrounding blanks and line breaks allowed,
// nothing else. It is the one reader of --uuid-file, for every command that
// takes a pod, so that a file every command accepts is the same file. A
// prefix is refused: a file that names a pod names it wholly, and a
// truncated write must not select another pod.
func ReadUUIDFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read pod UUID from --uuid-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUUIDFile+1))
	if err != nil {
		return "", fmt.Errorf("read pod UUID from %s: %w", path, err)
	}
	if len(b) > maxUUIDFile {
		return "", fmt.Errorf("read pod UUID from %s: the file is longer than a UUID (want only the UUID that --uuid-file-save writes)", path)
	}
	s := strings.TrimSpace(string(b))
	switch {
	case s == "":
		return "", fmt.Errorf("read pod UUID from %s: %w (was it written by --uuid-file-save of a prepare or run that succeeded?)", path, errEmptyUUIDFile)
	case !pod.IsUUID(strings.ToLower(s)):
		return "", fmt.Errorf("read pod UUID from %s: %q is not a pod UUID (want the 36 characters --uuid-file-save writes, such as 4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11)", path, s)
	}
	return strings.ToLower(s), nil
}

var errEmptyUUIDFile = errors.New("the file is empty")

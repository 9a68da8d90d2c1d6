package supervisor

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/podcontract"
)

func TestMetadataKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata", "hmac.key")
	k1, err := metadataKey(path)
	if err != nil || len(k1) != metadataKeySize {
		t.Fatalf("new key: %d bytes, %v", len(k1), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v, want mode 0600", fi, err)
	}
	k2, err := metadataKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second call: a different key (%v)", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := metadataKey(path); err == nil || !strings.Contains(err.Error(), "5 bytes, want 64") {
		t.Errorf("a damaged key: %v", err)
	}
}

// TestMetadataListenerPlainTCP: the metadata service listens on a TCP
// socket, not on Go's default MPTCP one (plainTCP), here on the host
// network's loopback port.
func TestMetadataListenerPlainTCP(t *testing.T) {
	ln, _, err := metadataListener(podcontract.NetHost, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var proto int
	var serr error
	if err := rc.Control(func(fd uintptr) { proto, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	if proto != unix.IPPROTO_TCP {
		t.Errorf("the metadata listener's protocol is %d, want IPPROTO_TCP (%d)", proto, unix.IPPROTO_TCP)
	}
}

package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRegisterMachineNoBus(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on: connection refused.
	refusing := filepath.Join(dir, "refusing.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: refusing}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"unix:path=" + filepath.Join(dir, "missing.sock"), "unix:path=" + refusing} {
		t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
		ctx := context.Background()
		_, err := registerMachine(ctx, dialSystemBus(ctx), "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11", os.Getpid(), nil, true)
		if !errors.Is(err, errNoMachined) {
			t.Errorf("bus %s: %v, want errNoMachined (no warning for a host without a bus)", addr, err)
		}
	}
}

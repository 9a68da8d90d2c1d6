package stage1

import (
	"context"
	"errors"
	"net/netip"
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
		_, err := registerMachine(context.Background(), "4f215d60-0b37-4c2d-9a1e-5b0c9f3e2a11", os.Getpid(), nil)
		if !errors.Is(err, errNoMachined) {
			t.Errorf("bus %s: %v, want errNoMachined (no warning for a host without a bus)", addr, err)
		}
	}
}

func TestParseGo(t *testing.T) {
	for _, tc := range []struct {
		msg, addr, gw, url string
		bad                bool
	}{
		{msg: "g"},
		{msg: "g metadata=http://127.0.0.1:18112/abc", url: "http://127.0.0.1:18112/abc"},
		{msg: "g addr=172.16.28.2 gateway=172.16.28.1", addr: "172.16.28.2", gw: "172.16.28.1"},
		{msg: "g addr=172.16.28.2 gateway=172.16.28.1 metadata=http://172.16.28.1:18112/t", addr: "172.16.28.2", gw: "172.16.28.1", url: "http://172.16.28.1:18112/t"},
		{msg: "", bad: true},
		{msg: "x", bad: true},
		{msg: "g addr=172.16.28.2", bad: true},
		{msg: "g addr=nope gateway=172.16.28.1", bad: true},
		{msg: "g color=blue", bad: true},
	} {
		addr, gw, url, err := parseGo(tc.msg)
		if tc.bad {
			if err == nil {
				t.Errorf("parseGo(%q): no error", tc.msg)
			}
			continue
		}
		got := func(a netip.Addr) string {
			if !a.IsValid() {
				return ""
			}
			return a.String()
		}
		if err != nil || got(addr) != tc.addr || got(gw) != tc.gw || url != tc.url {
			t.Errorf("parseGo(%q) = %v %v %q %v", tc.msg, addr, gw, url, err)
		}
	}
}

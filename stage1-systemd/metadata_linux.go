package stage1

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/acirun/acirun/internal/atomicfile"
)

// metadataPort is where a pod finds its metadata service on the gateway.
const metadataPort = 18112

// metadataServer is a pod's running metadata service.
type metadataServer struct {
	srv  *http.Server
	done chan struct{}
	URL  string // AC_METADATA_URL
}

// startMetadata serves the pod's metadata on gateway:metadataPort, taking
// only connections that come over the pod's link hostIface (the socket is
// bound to it, so every pod's supervisor has the same address and port for
// its own pod, and no pod reaches another's), at a URL with a fresh token.
func startMetadata(podDir, runDir, hostIface string, gateway netip.Addr) (*metadataServer, error) {
	key, err := metadataKey(filepath.Join(runDir, "metadata", "hmac.key"))
	if err != nil {
		return nil, err
	}
	t := make([]byte, 16)
	if _, err := rand.Read(t); err != nil {
		return nil, fmt.Errorf("metadata service: token: %w", err)
	}
	token := hex.EncodeToString(t)
	svc, err := newMetadataService(podDir, token, key)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, hostIface)
		})
		if err == nil {
			err = serr
		}
		return err
	}}
	addr := netip.AddrPortFrom(gateway, metadataPort)
	ln, err := lc.Listen(context.Background(), "tcp4", addr.String())
	if err != nil {
		return nil, fmt.Errorf("metadata service on %s (%s): %w", addr, hostIface, err)
	}
	m := &metadataServer{
		srv:  &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		done: make(chan struct{}),
		URL:  fmt.Sprintf("http://%s/%s", addr, token),
	}
	go func() {
		defer close(m.done)
		m.srv.Serve(ln)
	}()
	return m, nil
}

// Close stops the service and waits for it.
func (m *metadataServer) Close() error {
	err := m.srv.Close()
	<-m.done
	return err
}

// metadataKey returns the host's metadata HMAC key from path, making it
// (random, mode 0600) if there is none yet. The key is the host's, not a
// pod's: a pod verifies another's signature with it. It lives in the run
// directory, so a reboot makes a new one, as it does new pods.
func metadataKey(path string) ([]byte, error) {
	for try := 0; try < 2; try++ {
		key, err := os.ReadFile(path)
		if err == nil {
			if len(key) != metadataKeySize {
				return nil, fmt.Errorf("metadata service: key %s: %d bytes, want %d (remove it to make a new one)", path, len(key), metadataKeySize)
			}
			return key, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("metadata service: %w", err)
		}
		key = make([]byte, metadataKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("metadata service: key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("metadata service: %w", err)
		}
		err = atomicfile.WriteFile(path, key, atomicfile.Options{Perm: 0o600, NoReplace: true})
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fs.ErrExist) { // else another pod made it first: read that one
			return nil, fmt.Errorf("metadata service: %w", err)
		}
	}
	return nil, fmt.Errorf("metadata service: key %s: cannot be read or made", path)
}

package supervisor

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
	"github.com/acirun/acirun/internal/podcontract"
)

// metadataPort is where a pod finds its metadata service on the gateway.
const metadataPort = 18112

// metadataServer is a pod's running metadata service.
type metadataServer struct {
	srv  *http.Server
	done chan struct{}
	URL  string // AC_METADATA_URL
}

// podMetadata is the pod's metadata service, with the host's key and a
// fresh token, before it listens (startMetadata): what it serves (the
// manifests, read and parsed here) needs no network, so that run makes it
// while the pod's network is still being attached, off the way to PID 1's
// network-ready message.
func podMetadata(o *options, podDir string) (*metadataService, error) {
	key, err := metadataKey(filepath.Join(o.RunDir, "metadata", "hmac.key"))
	if err != nil {
		return nil, err
	}
	t := make([]byte, 16)
	if _, err := rand.Read(t); err != nil {
		return nil, fmt.Errorf("metadata service: token: %w", err)
	}
	return newMetadataService(podDir, hex.EncodeToString(t), key)
}

// startMetadata serves svc on a listener the pod can reach, at a URL with
// its token. Where the listener is depends on the pod's network
// (metadataListener).
func startMetadata(o *options, svc *metadataService, pn *podNetwork, thread *podThread) (*metadataServer, error) {
	ln, host, err := metadataListener(o.Net, pn, thread)
	if err != nil {
		return nil, fmt.Errorf("metadata service: %w", err)
	}
	m := &metadataServer{
		srv:  &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		done: make(chan struct{}),
		URL:  fmt.Sprintf("http://%s/%s", host, svc.token),
	}
	go func() {
		defer close(m.done)
		m.srv.Serve(ln)
	}()
	return m, nil
}

// metadataListener opens where the pod finds its metadata service, and
// returns the host:port for its URL:
//
//   - default network: the gateway, port metadataPort, on a socket bound to
//     the pod's own link, so that every pod's supervisor has the same address
//     and no pod reaches another's;
//   - none: port metadataPort on the pod's own loopback, a socket made in
//     the pod's network namespace (on the thread that made it, podThread),
//     reachable by nothing else;
//   - named networks: the same socket in the pod's namespace, which the
//     pod's peers on those networks can reach too (the token keeps them
//     out): their plugins give the host no address of its own on them;
//   - host: a free port on the host's 127.0.0.1, which the pod shares.
//
// The token keeps others out wherever others can connect. Each socket is
// plain TCP (plainTCP).
func metadataListener(network string, pn *podNetwork, thread *podThread) (net.Listener, string, error) {
	ctx := context.Background()
	switch {
	case podcontract.OnDefaultNetwork(network):
		iface := pn.att.HostIface
		lc := plainTCP()
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface)
			})
			if err == nil {
				err = serr
			}
			return err
		}
		// The IPv4 gateway, or the IPv6 one on a network without IPv4.
		gw, family := pn.att.Gateway, "tcp4"
		if !gw.IsValid() {
			gw, family = pn.att.Gateway6, "tcp6"
		}
		addr := netip.AddrPortFrom(gw, metadataPort).String()
		ln, err := lc.Listen(ctx, family, addr)
		if err != nil {
			return nil, "", fmt.Errorf("listen on %s (%s): %w", addr, iface, err)
		}
		return ln, addr, nil
	case network == podcontract.NetNone || !podcontract.IsBuiltinNet(network):
		// 0.0.0.0: the namespace has nothing but loopback, whose
		// 127.0.0.1 exists only once PID 1 brings it up.
		addr := fmt.Sprintf("0.0.0.0:%d", metadataPort)
		var ln net.Listener
		err := thread.do(func() (err error) {
			lc := plainTCP()
			if ln, err = lc.Listen(ctx, "tcp4", addr); err != nil {
				return fmt.Errorf("listen on %s in the pod: %w", addr, err)
			}
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		return ln, fmt.Sprintf("127.0.0.1:%d", metadataPort), nil
	default:
		lc := plainTCP()
		ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, "", fmt.Errorf("listen on the host's loopback: %w", err)
		}
		return ln, ln.Addr().String(), nil
	}
}

// plainTCP is the metadata service's listener configuration: TCP, not the
// Multipath TCP that Go's listeners use by default where the kernel has it.
// The service's peer is the pod on loopback or on its own link, where MPTCP
// has no second path to use, and an MPTCP listener cost every start four
// sockets more than the listener's own (the probes of the IP stack and of
// MPTCP, and the MPTCP socket with its subflow): in a new network
// namespace, the first listen of a process took 355 us of its thread's
// CPU against 222 us for TCP (medians of 150, load 17).
func plainTCP() net.ListenConfig {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	return lc
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

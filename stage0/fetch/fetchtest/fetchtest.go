// Package fetchtest gives tests a private little internet on loopback: HTTPS
// servers with certificates from a throw-away CA, reachable under real-looking
// host names (example.com, storage.example.com, ...) through a DialContext
// that maps those names to 127.0.0.1 ports. Nothing ever leaves loopback:
// a name that no test server registered fails to dial.
package fetchtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Net is a set of loopback servers known by host name, and the CA that
// signed their certificates.
type Net struct {
	// Pool holds the test CA; give it to the client as its roots.
	Pool *x509.CertPool

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey

	mu    sync.Mutex
	addrs map[string]string // "host:port" as dialed -> loopback address
}

// New creates a Net with a fresh CA.
func New(t testing.TB) *Net {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "acirun test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &Net{Pool: pool, caCert: cert, caKey: key, addrs: map[string]string{}}
}

// CAPEM returns the test CA certificate in PEM form, for a child process
// that has to trust the same servers.
func (n *Net) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.caCert.Raw})
}

// Certificate returns a server certificate signed by the test CA for hosts.
func (n *Net) Certificate(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, n.caCert, &key.PublicKey, n.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ServeTLS starts an HTTPS server with a certificate for hosts and makes
// https://HOST/ (port 443) reach it for each of them. It is closed when the
// test ends.
func (n *Net) ServeTLS(t testing.TB, h http.Handler, hosts ...string) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{n.Certificate(t, hosts...)}}
	// Handshakes refused by clients that do not trust the CA are what
	// some tests are about; keep them out of the test log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	n.Register(s.Listener.Addr().String(), "443", hosts...)
	return s
}

// ServeHTTP starts a plain HTTP server and makes http://HOST/ (port 80) reach
// it for each of hosts.
func (n *Net) ServeHTTP(t testing.TB, h http.Handler, hosts ...string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	n.Register(s.Listener.Addr().String(), "80", hosts...)
	return s
}

// Register makes host:port dial addr, which must be a loopback address.
func (n *Net) Register(addr, port string, hosts ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range hosts {
		n.addrs[net.JoinHostPort(strings.ToLower(h), port)] = addr
	}
}

// DialContext dials the loopback server registered for addr, and refuses
// anything else, so a test can never reach a real host.
func (n *Net) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	target, ok := n.addrs[strings.ToLower(addr)]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fetchtest: no test server for %s", addr)
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("fetchtest: %s is not a loopback address", target)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// Client returns a plain http.Client that trusts the test CA and dials the
// test servers, without any of stage0/fetch's policy.
func (n *Net) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:     n.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: n.Pool},
		Proxy:           nil,
	}}
}

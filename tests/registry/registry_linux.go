package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acirun/acirun/internal/testenv"
	"github.com/acirun/acirun/stage0/fetch/fetchtest"
)

// Netns is the network namespace a registry serves in. The zero value is
// the test process's own.
type Netns struct {
	// Path is the namespace's file (/proc/PID/ns/net), which the
	// registry and skopeo join with nsenter(1); "" for the test's own.
	Path string
	// Do runs f on a thread in the namespace, so that the sockets f opens
	// are there (box.Box.InNetNS); nil runs f as it is.
	Do func(f func() error) error
}

func (n Netns) do(f func() error) error {
	if n.Do == nil {
		return f()
	}
	return n.Do(f)
}

// Command returns a command running argv in the namespace. Its file
// system is the test's: paths mean the same to it and to the test.
func (n Netns) Command(ctx context.Context, argv ...string) *exec.Cmd {
	if n.Path != "" {
		argv = append([]string{"nsenter", "--net=" + n.Path, "--"}, argv...)
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

// DialContext dials addr from the namespace.
func (n Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener in the namespace.
func (n Netns) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// Options choose how a registry serves. The zero value is an anonymous
// registry speaking plain HTTP on 127.0.0.1 in the test's namespace.
type Options struct {
	// Dir holds the registry's configuration, certificates, log and
	// storage (Dir/storage); t.TempDir() if empty. A registry in the box
	// needs it under the box's directory only if a command in the box is
	// to read its files (acirun reading CAFile).
	Dir string
	// Netns is where the registry listens and skopeo runs.
	Netns Netns
	// IP is the loopback address the registry listens on (127.0.0.1 if
	// empty).
	IP string
	// Name, if set, is a host name the registry is also known by (its
	// certificate names it; NameRef uses it), which a test maps to IP in
	// the box's /etc/hosts. The harness itself reaches it by IP.
	Name string
	// CA, if set, makes the registry (and the token server) speak TLS with
	// a certificate from this CA for IP.
	CA *fetchtest.Net
	// Token, if set, makes the registry ask for bearer tokens from a token
	// server of the test.
	Token *Token
}

// Registry is a running docker-registry. It stops when the test ends.
type Registry struct {
	// Host is IP:PORT, the registry part of image references.
	Host string
	// Scheme is "http" or "https".
	Scheme string
	// Dir is Options.Dir.
	Dir string
	// Storage is the registry's filesystem storage root.
	Storage string

	t       testing.TB
	opts    Options
	certDir string // skopeo's --*-cert-dir: the CA as ca.crt
	caFile  string
	tokens  *tokenServer
	client  *http.Client
	logFile string
}

// Start starts a registry as opts say and waits until it answers on /v2/.
// It needs docker-registry and skopeo (scripts/setup installs them).
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin := testenv.NeedTool(t, "docker-registry", "the registry acirun pulls from")
	testenv.NeedTool(t, "skopeo", "pushes images to the registry")
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	r := &Registry{t: t, opts: opts, Dir: opts.Dir, Storage: filepath.Join(opts.Dir, "storage"), Scheme: "http",
		logFile: filepath.Join(opts.Dir, "registry.log")}
	if err := os.MkdirAll(r.Storage, 0o755); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: opts.Netns.DialContext, Proxy: nil}
	var tlsConf string
	if opts.CA != nil {
		r.Scheme = "https"
		r.certDir = filepath.Join(opts.Dir, "certs.d")
		r.caFile = filepath.Join(r.certDir, "ca.crt")
		cert, key := writeCertificate(t, opts.CA, opts.Dir, "registry", opts.hosts()...)
		writeFile(t, r.caFile, opts.CA.CAPEM())
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %q\n    key: %q\n", cert, key)
		tr.TLSClientConfig = &tls.Config{RootCAs: opts.CA.Pool}
	}
	r.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	var authConf string
	var front net.Listener
	if opts.Token != nil {
		r.tokens = newTokenServer(t, opts)
		if opts.Token.IP == "" {
			// The token service on the registry's own host and port,
			// in front of it, as Harbor or GHCR serve it: clients
			// (go-containerregistry among them) refuse a realm on
			// another port of a loopback address.
			ln, err := opts.Netns.Listen("tcp4", net.JoinHostPort(opts.IP, "0"))
			if err != nil {
				t.Fatalf("registry: listen on %s: %v", opts.IP, err)
			}
			front = ln
			r.tokens.realm = r.Scheme + "://" + ln.Addr().String() + "/token"
		} else {
			r.tokens.listen(t, opts, r.Scheme)
		}
		authConf = r.tokens.config()
	}

	// The port: one free now in the namespace. Another process may take
	// it before the registry does; then the registry exits saying so and
	// another port is tried.
	for try := 0; ; try++ {
		ln, err := opts.Netns.Listen("tcp4", net.JoinHostPort(opts.IP, "0"))
		if err != nil {
			t.Fatalf("registry: find a free port on %s: %v", opts.IP, err)
		}
		addr := ln.Addr().String()
		ln.Close()
		config := filepath.Join(opts.Dir, "config.yml")
		writeFile(t, config, []byte(fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: %q
%s%s`, r.Storage, addr, tlsConf, authConf)))
		err = r.run(bin, config, addr)
		if err == nil {
			r.Host = addr
			if front != nil {
				r.Host = front.Addr().String()
				r.serveFront(front, addr)
			}
			return r
		}
		if try < 3 && strings.Contains(r.Log(), "address already in use") {
			continue
		}
		t.Fatalf("registry: %v\n%s", err, r.Log())
	}
}

// serveFront serves the token service at /token of ln and passes every
// other request on to the registry at addr, with the Host the client
// sent (the registry writes it into the upload URLs it hands out).
func (r *Registry) serveFront(ln net.Listener, addr string) {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: r.Scheme, Host: addr})
			pr.Out.Host = pr.In.Host
		},
		Transport: r.client.Transport,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", r.tokens.serve)
	mux.Handle("/", proxy)
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	if r.opts.CA != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{r.opts.CA.Certificate(r.t, r.opts.hosts()...)}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	r.t.Cleanup(func() { srv.Close() })
}

// run starts docker-registry serve config, stopped when the test ends,
// and waits until it answers.
func (r *Registry) run(bin, config, addr string) error {
	logf, err := os.Create(r.logFile)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := r.opts.Netns.Command(context.Background(), bin, "serve", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The registry dies with the test process, should it die first. The
	// signal follows the thread that started it, so that thread is kept
	// for the registry's life: another, which a goroutine locked and
	// ended (Netns.Do), would take the registry with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, done := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			return fmt.Errorf("%s serve %s exited before it answered: %v", bin, config, err)
		default:
		}
		resp, err := r.client.Get(r.Scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				r.t.Cleanup(stop)
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("%s serve %s: no answer on %s after 20s: %v", bin, config, addr, err)
		}
	}
}

// URL is the URL of path on the registry.
func (r *Registry) URL(path string) string { return r.Scheme + "://" + r.Host + path }

// names are /etc/hosts lines for the registry's and the token server's
// names, "" if they have none.
func (r *Registry) names() string {
	var b strings.Builder
	if r.opts.Name != "" {
		fmt.Fprintf(&b, "%s %s\n", r.opts.IP, r.opts.Name)
	}
	if t := r.opts.Token; t != nil && t.Name != "" && t.IP != "" {
		fmt.Fprintf(&b, "%s %s\n", t.IP, t.Name)
	}
	return b.String()
}

// hosts are the names the registry's certificate is for.
func (o Options) hosts() []string {
	if o.Name != "" {
		return []string{o.Name, o.IP}
	}
	return []string{o.IP}
}

// NameRef is Ref with the registry's Name (Options.Name) for its IP.
func (r *Registry) NameRef(name string) string {
	_, port, _ := net.SplitHostPort(r.Host)
	return net.JoinHostPort(r.opts.Name, port) + "/" + name
}

// Ref is the image reference of name (NAME[:TAG|@DIGEST]) on the
// registry, without a transport: HOST:PORT/name.
func (r *Registry) Ref(name string) string { return r.Host + "/" + name }

// Client is an HTTP client that reaches the registry from its namespace
// and trusts its CA. It sends no credentials by itself.
func (r *Registry) Client() *http.Client { return r.client }

// CAFile is the test CA's certificate (PEM) the registry's certificate
// chains to, for a client's SSL_CERT_FILE; "" without TLS.
func (r *Registry) CAFile() string { return r.caFile }

// Log is what the registry has logged so far (its access log included).
func (r *Registry) Log() string {
	b, _ := os.ReadFile(r.logFile)
	return string(b)
}

// TokenRequests returns the requests the token server has answered so far
// (nil without token auth).
func (r *Registry) TokenRequests() []TokenRequest {
	if r.tokens == nil {
		return nil
	}
	return r.tokens.requests()
}

// Realm is the token server's URL the registry's challenges name; "" without
// token auth.
func (r *Registry) Realm() string {
	if r.tokens == nil {
		return ""
	}
	return r.tokens.realm
}

// skopeoArgs are the options skopeo needs to reach the registry as a
// copy's source ("src-") or destination ("dest-"), or for inspect (""):
// its CA, and the first user of the token server, if any.
func (r *Registry) skopeoArgs(side string) []string {
	var args []string
	if r.certDir != "" {
		args = append(args, "--"+side+"cert-dir="+r.certDir)
	} else {
		args = append(args, "--"+side+"tls-verify=false") // plain http
	}
	if r.tokens != nil {
		if user, pass, ok := r.tokens.anyUser(); ok {
			args = append(args, "--"+side+"creds="+user+":"+pass)
		}
	}
	return args
}

// Skopeo runs skopeo ARGS in the registry's namespace and returns its
// standard output; a failure fails the test with skopeo's output.
func (r *Registry) Skopeo(args ...string) []byte {
	r.t.Helper()
	out, err := r.skopeo(args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *Registry) skopeo(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := append([]string{"skopeo"}, args...)
	if names := r.names(); names != "" {
		// The registry's and the token server's names resolve for
		// skopeo through a hosts file of their own, bound over
		// /etc/hosts in a mount namespace of skopeo's (never through
		// DNS).
		hosts := filepath.Join(r.Dir, "hosts")
		writeFile(r.t, hosts, []byte("127.0.0.1 localhost\n"+names))
		argv = append([]string{"unshare", "--mount", "--propagation=private", "sh", "-c",
			`mount --bind "$0" /etc/hosts && exec "$@"`, hosts}, argv...)
	}
	cmd := r.opts.Netns.Command(ctx, argv...)
	// No credentials or settings of the machine's user: only the
	// options given.
	home := filepath.Join(r.Dir, "skopeo-home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+home, "XDG_CONFIG_HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// Push copies the image src (a skopeo reference: oci:DIR:TAG,
// docker-archive:FILE, …) to name (NAME:TAG) on the registry with skopeo
// copy and more skopeo options (--all for an index), authenticated as the
// token server's first user, and returns the digest of the manifest (or
// index) the registry now holds.
func (r *Registry) Push(src, name string, more ...string) string {
	r.t.Helper()
	digestFile := filepath.Join(r.t.TempDir(), "digest")
	args := append([]string{"copy", "--quiet", "--digestfile=" + digestFile}, r.skopeoArgs("dest-")...)
	args = append(args, more...)
	r.Skopeo(append(args, src, "docker://"+r.Ref(name))...)
	d, err := os.ReadFile(digestFile)
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(d))
}

// Inspect returns the raw manifest (or index) of name on the registry, as
// skopeo inspect --raw reads it.
func (r *Registry) Inspect(name string) []byte {
	r.t.Helper()
	args := append([]string{"inspect", "--raw"}, r.skopeoArgs("")...)
	return r.Skopeo(append(args, "docker://"+r.Ref(name))...)
}

// BlobFile is the file in the registry's storage holding the blob with
// digest (sha256:HEX): a test corrupts or removes it to make the registry
// serve a bad blob or none.
func (r *Registry) BlobFile(digest string) string {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) < 2 {
		r.t.Fatalf("registry: blob digest %q is not sha256:HEX", digest)
	}
	return filepath.Join(r.Storage, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")
}

// writeCertificate writes a certificate of ca for hosts and its key as
// PEM files NAME.pem and NAME-key.pem in dir, and returns their paths.
func writeCertificate(t testing.TB, ca *fetchtest.Net, dir, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	c := ca.Certificate(t, hosts...)
	der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	return certFile, keyFile
}

func writeFile(t testing.TB, file string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readJSON decodes the JSON file into v.
func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

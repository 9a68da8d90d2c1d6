// Command testapp is the program end-to-end tests put into test images. It is
// built static (CGO_ENABLED=0, standard library only) so that it runs in a
// rootfs holding nothing else, and it prints what it sees in lines that are
// easy to assert on: KEY=VALUE or "OP ok" / "OP error=ERRNO message".
//
// Usage: testapp CMD [ARGS...] [+ CMD [ARGS...]]...
//
// Several commands separated by a lone "+" run in order, so one pod can check
// several things. The commands are:
//
//	env                  the environment, sorted, one NAME=VALUE a line
//	ids                  uid=, gid=, euid=, egid=, groups=
//	caps                 CapInh= CapPrm= CapEff= CapBnd= CapAmb= (hex) and *-names= lists
//	mounts               /proc/self/mountinfo as is
//	hostname             hostname=NAME
//	cwd                  cwd=PATH
//	pid                  pid=N ppid=N
//	cat FILE             the file's content
//	write FILE CONTENT   writes CONTENT to FILE, prints "write FILE ok" or an error line
//	rm PATH              removes PATH and what it holds, prints "rm PATH ok" or an error line
//	rename OLD NEW       rename(2): "rename OLD NEW ok" or an error line
//	stat PATH            type= perm= uid= gid= size= (lstat), or an error line
//	ls DIR               the names in DIR, sorted
//	exit N               exits with status N
//	sleep DURATION       sleeps (Go duration, e.g. 2s)
//	serve ADDR           serves "hello from testapp" over HTTP on ADDR, forever;
//	                     prints "serving HOST:PORT" once listening (port 0 works), and
//	                     "request from IP:PORT" for each request
//	udp-from SRC DST:PORT
//	                     sends one UDP datagram "from SRC" to DST:PORT over a raw IPv4 socket,
//	                     with SRC as its source whatever the pod's address (CAP_NET_RAW);
//	                     SRC "eth0" is that interface's IPv4 address: "udp-from SRC ok" or an error line
//	udp-echo ADDR        answers each UDP datagram on ADDR with "echo " and it, in the background;
//	                     prints "udp-echo ADDR" once it listens and "udp from ADDR" for each
//	get URL              an HTTP GET (5s timeout): "get URL status=N body=FIRST-LINE" or "get URL error=..."
//	addrs                every interface's addresses: "addr NAME PREFIX", in order
//	ra IFACE PREFIX      sends 3 IPv6 router advertisements to ff02::1 on IFACE: a default router and
//	                     the /64 PREFIX to take an address from; "ra IFACE ok" or an error line
//	notify STATE         sends STATE (e.g. READY=1) to $NOTIFY_SOCKET: "notify STATE ok" or an error line
//	meta PATH            GET $AC_METADATA_URL/acMetadata/v1/PATH: "meta PATH status=N body=FIRST-LINE"
//	meta-sign CONTENT    POST pod/hmac/sign: "meta-sign status=N signature=SIG"
//	meta-verify CONTENT UUID SIG
//	                     POST pod/hmac/verify: "meta-verify status=N"
//	ignore-sigterm [D]   ignores SIGTERM, prints "ignoring SIGTERM", sleeps D (default 1h)
//	fds                  the open file descriptors: "fd=N target=..."
//	zombies              orphans children that exit, waits, prints zombies=N
//	exe-overwrite        tries to write /proc/self/exe and /proc/1/exe and to read /proc/1/root
//	peer-roots NAME D    waits up to D for another process whose argv[1] is NAME (another app's
//	                     testapp NAME ...), then tries its /proc/PID/root, cwd, environ and mem and the
//	                     same of itself: "peer root ok" or "peer root error=ERRNO ...", "self root ok", ...
//	seccomp [CALL...]    tries mount, umount2, unshare, keyctl, setns, bpf; prints the errno of each
//	signal NAME          sends itself signal NAME (KILL, TERM, INT, HUP) with its default
//	                     action; prints "signal NAME survived" and exits 1 if alive after 5s
//	wait-signal NAME [FILE]  waits for a stop signal (TERM, INT, HUP, QUIT), writing FILE once
//	                     it listens; exits 0 with "got NAME" if it is NAME, else 3 with
//	                     "got OTHER, not NAME"
//	alloc MIB            allocates and touches MIB mebibytes, printing "allocated N MiB" every
//	                     8 MiB, then "alloc ok" (a memory limit ends it on the way)
//	print TEXT           TEXT and a newline on stdout
//	print-err TEXT       TEXT and a newline on stderr
//	print-partial TEXT   TEXT on stdout, no newline
//	print-long N         a line of N bytes on stdout: "0123456789" over and over, then a newline
//	forks N              starts up to N processes that sleep: "forked=K", the error that stopped
//	                     it ("fork error=EAGAIN ..." under a pids limit), then kills them: "killed=K"
//	argv ARGS...         only as the first command, taking every argument after it ("+" too):
//	                     each of the process's arguments, argv[0] included, as argv[N]=QUOTED,
//	                     then its environment, sorted, as env QUOTED (Go's %q)
//
// A command that cannot run (bad arguments) prints "testapp: ..." to stderr
// and exits 2. Failures of what is probed are printed, not fatal.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usage("no command")
	}
	if args[0] == "argv" {
		argv()
		return
	}
	var cmd []string
	for i := 0; i <= len(args); i++ {
		if i == len(args) || args[i] == "+" {
			if len(cmd) == 0 {
				usage("empty command")
			}
			run(cmd[0], cmd[1:])
			cmd = nil
			continue
		}
		cmd = append(cmd, args[i])
	}
}

// argv prints the process's arguments and environment exactly, quoted, so
// that a test sees what reached the app byte for byte.
func argv() {
	for i, a := range os.Args {
		fmt.Printf("argv[%d]=%q\n", i, a)
	}
	env := os.Environ()
	sort.Strings(env)
	for _, e := range env {
		fmt.Printf("env %q\n", e)
	}
}

func usage(msg string) {
	fmt.Fprintf(os.Stderr, "testapp: %s\nusage: testapp CMD [ARGS...] [+ CMD [ARGS...]]...\n", msg)
	os.Exit(2)
}

func nargs(cmd string, args []string, n int) {
	if len(args) != n {
		usage(fmt.Sprintf("%s takes %d argument(s), got %d", cmd, n, len(args)))
	}
}

func run(cmd string, args []string) {
	switch cmd {
	case "env":
		nargs(cmd, args, 0)
		env := os.Environ()
		sort.Strings(env)
		for _, e := range env {
			fmt.Println(e)
		}
	case "ids":
		nargs(cmd, args, 0)
		groups, err := os.Getgroups()
		if err != nil {
			fmt.Printf("groups error=%s %v\n", errnoName(err), err)
		}
		gs := make([]string, len(groups))
		for i, g := range groups {
			gs[i] = strconv.Itoa(g)
		}
		fmt.Printf("uid=%d\ngid=%d\neuid=%d\negid=%d\ngroups=%s\n", os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid(), strings.Join(gs, ","))
	case "caps":
		nargs(cmd, args, 0)
		caps()
	case "mounts":
		nargs(cmd, args, 0)
		cat("/proc/self/mountinfo")
	case "hostname":
		nargs(cmd, args, 0)
		h, err := os.Hostname()
		report("hostname", err)
		fmt.Printf("hostname=%s\n", h)
	case "cwd":
		nargs(cmd, args, 0)
		wd, err := os.Getwd()
		report("getwd", err)
		fmt.Printf("cwd=%s\n", wd)
	case "pid":
		nargs(cmd, args, 0)
		fmt.Printf("pid=%d\nppid=%d\n", os.Getpid(), os.Getppid())
	case "cat":
		nargs(cmd, args, 1)
		cat(args[0])
	case "write":
		nargs(cmd, args, 2)
		err := os.WriteFile(args[0], []byte(args[1]), 0o644)
		report("write "+args[0], err)
	case "rm":
		nargs(cmd, args, 1)
		report("rm "+args[0], os.RemoveAll(args[0]))
	case "rename":
		nargs(cmd, args, 2)
		report("rename "+args[0]+" "+args[1], os.Rename(args[0], args[1]))
	case "stat":
		nargs(cmd, args, 1)
		statPath(args[0])
	case "ls":
		nargs(cmd, args, 1)
		ents, err := os.ReadDir(args[0])
		if err != nil {
			report("ls "+args[0], err)
			return
		}
		for _, e := range ents {
			fmt.Println(e.Name())
		}
	case "exit":
		nargs(cmd, args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil {
			usage("exit: not a number: " + args[0])
		}
		os.Exit(n)
	case "sleep":
		nargs(cmd, args, 1)
		time.Sleep(duration(args[0]))
	case "serve":
		nargs(cmd, args, 1)
		serve(args[0])
	case "get":
		nargs(cmd, args, 1)
		get(args[0])
	case "udp-echo":
		nargs(cmd, args, 1)
		udpEcho(args[0])
	case "udp-from":
		nargs(cmd, args, 2)
		udpFrom(args[0], args[1])
	case "addrs":
		nargs(cmd, args, 0)
		addrs()
	case "ra":
		nargs(cmd, args, 2)
		routerAdvertisement(args[0], args[1])
	case "notify":
		nargs(cmd, args, 1)
		notify(args[0])
	case "meta":
		nargs(cmd, args, 1)
		meta("meta "+args[0], "GET", args[0], nil)
	case "meta-sign":
		nargs(cmd, args, 1)
		meta("meta-sign", "POST", "pod/hmac/sign", url.Values{"content": {args[0]}})
	case "meta-verify":
		nargs(cmd, args, 3)
		meta("meta-verify", "POST", "pod/hmac/verify", url.Values{"content": {args[0]}, "uuid": {args[1]}, "signature": {args[2]}})
	case "ignore-sigterm":
		d := time.Hour
		if len(args) > 1 {
			usage("ignore-sigterm takes at most one argument")
		} else if len(args) == 1 {
			d = duration(args[0])
		}
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(d)
	case "fds":
		nargs(cmd, args, 0)
		fds()
	case "zombies":
		nargs(cmd, args, 0)
		zombies()
	case "zombies-child": // internal: orphan N grandchildren and exit at once
		nargs(cmd, args, 1)
		n, _ := strconv.Atoi(args[0])
		for i := 0; i < n; i++ {
			c := exec.Command("/proc/self/exe", "sleep", "100ms")
			if err := c.Start(); err != nil {
				fmt.Fprintf(os.Stderr, "testapp: zombies-child: %v\n", err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	case "exe-overwrite":
		nargs(cmd, args, 0)
		exeOverwrite()
	case "peer-roots":
		nargs(cmd, args, 2)
		peerRoots(args[0], duration(args[1]))
	case "seccomp":
		probeSeccomp(args)
	case "signal":
		nargs(cmd, args, 1)
		raise(args[0])
	case "wait-signal":
		if len(args) < 1 || len(args) > 2 {
			usage("wait-signal takes a signal name and maybe a file")
		}
		waitSignal(args[0], args[1:])
	case "alloc":
		nargs(cmd, args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 {
			usage("alloc: not a number of MiB: " + args[0])
		}
		alloc(n)
	case "forks":
		nargs(cmd, args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil {
			usage("forks: not a number of processes: " + args[0])
		}
		forks(n)
	case "print":
		nargs(cmd, args, 1)
		fmt.Println(args[0])
	case "print-err":
		nargs(cmd, args, 1)
		fmt.Fprintln(os.Stderr, args[0])
	case "print-partial":
		nargs(cmd, args, 1)
		fmt.Print(args[0])
	case "print-long":
		nargs(cmd, args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 {
			usage("print-long: not a length: " + args[0])
		}
		fmt.Println(longLine(n))
	default:
		usage("unknown command " + strconv.Quote(cmd))
	}
}

func duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		usage("not a duration: " + s)
	}
	return d
}

// report prints "OP ok" or "OP error=ERRNO message".
func report(op string, err error) {
	if err == nil {
		fmt.Printf("%s ok\n", op)
		return
	}
	fmt.Printf("%s error=%s %v\n", op, errnoName(err), err)
}

func errnoName(err error) string {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return "none"
	}
	names := map[syscall.Errno]string{
		syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH", syscall.EINTR: "EINTR",
		syscall.EIO: "EIO", syscall.ENXIO: "ENXIO", syscall.EBADF: "EBADF", syscall.EAGAIN: "EAGAIN",
		syscall.ENOMEM: "ENOMEM", syscall.EACCES: "EACCES", syscall.EFAULT: "EFAULT", syscall.EBUSY: "EBUSY",
		syscall.EEXIST: "EEXIST", syscall.EXDEV: "EXDEV", syscall.ENODEV: "ENODEV", syscall.ENOTDIR: "ENOTDIR",
		syscall.EISDIR: "EISDIR", syscall.EINVAL: "EINVAL", syscall.EMFILE: "EMFILE", syscall.ETXTBSY: "ETXTBSY",
		syscall.ENOSPC: "ENOSPC", syscall.EROFS: "EROFS", syscall.ENOSYS: "ENOSYS", syscall.ELOOP: "ELOOP",
		syscall.ENOTEMPTY: "ENOTEMPTY", syscall.ENOKEY: "ENOKEY",
		syscall.EDQUOT: "EDQUOT", syscall.ESPIPE: "ESPIPE", syscall.EOPNOTSUPP: "EOPNOTSUPP",
	}
	if n, ok := names[e]; ok {
		return n
	}
	return "errno" + strconv.Itoa(int(e))
}

func cat(name string) {
	b, err := os.ReadFile(name)
	if err != nil {
		report("cat "+name, err)
		return
	}
	os.Stdout.Write(b)
}

func statPath(name string) {
	fi, err := os.Lstat(name)
	if err != nil {
		report("stat "+name, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	typ := "file"
	switch m := fi.Mode(); {
	case m.IsDir():
		typ = "dir"
	case m&os.ModeSymlink != 0:
		typ = "symlink"
	case m&os.ModeCharDevice != 0:
		typ = "chardev"
	case m&os.ModeDevice != 0:
		typ = "blockdev"
	case m&os.ModeNamedPipe != 0:
		typ = "fifo"
	case m&os.ModeSocket != 0:
		typ = "socket"
	}
	fmt.Printf("type=%s\nperm=%04o\nuid=%d\ngid=%d\nsize=%d\n", typ, st.Mode&0o7777, st.Uid, st.Gid, st.Size)
	if typ == "symlink" {
		t, _ := os.Readlink(name)
		fmt.Printf("target=%s\n", t)
	}
}

func caps() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		report("read /proc/self/status", err)
		return
	}
	names := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
		"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
		"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
		"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		v = strings.TrimSpace(v)
		fmt.Printf("%s=%s\n", k, v)
		mask, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			continue
		}
		var set []string
		for i := 0; i < 64; i++ {
			if mask&(1<<i) == 0 {
				continue
			}
			if i < len(names) {
				set = append(set, names[i])
			} else {
				set = append(set, "CAP_"+strconv.Itoa(i))
			}
		}
		fmt.Printf("%s-names=%s\n", k, strings.Join(set, ","))
	}
}

// serve listens first and then prints the address it got, so that a test
// can ask for port 0 and learn the port.
func serve(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testapp: serve %s: %v\n", addr, err)
		os.Exit(1)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request from %s\n", r.RemoteAddr)
		fmt.Fprintln(w, "hello from testapp")
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("serving %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "testapp: serve %s: %v\n", addr, err)
		os.Exit(1)
	}
}

// udpEcho answers the datagrams sent to addr, from a goroutine: the
// commands after it run meanwhile (a serve, a sleep).
func udpEcho(addr string) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testapp: udp-echo %s: %v\n", addr, err)
		os.Exit(1)
	}
	fmt.Printf("udp-echo %s\n", c.LocalAddr())
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			fmt.Printf("udp from %s\n", from)
			c.WriteTo(append([]byte("echo "), b[:n]...), from)
		}
	}()
}

// udpFrom sends one UDP datagram with a source address of its choosing:
// an IPv4 header written by hand (IP_HDRINCL, implied by IPPROTO_RAW), the
// UDP checksum left out (0, which IPv4 allows).
func udpFrom(src, dst string) {
	if src == "eth0" {
		if i, err := net.InterfaceByName(src); err == nil {
			as, _ := i.Addrs()
			for _, a := range as {
				if ip := a.(*net.IPNet).IP.To4(); ip != nil {
					src = ip.String()
					break
				}
			}
		}
	}
	s, err := netip.ParseAddr(src)
	if err != nil || !s.Is4() {
		usage("udp-from: not an IPv4 address: " + src)
	}
	d, err := netip.ParseAddrPort(dst)
	if err != nil || !d.Addr().Is4() {
		usage("udp-from: not an IPv4 ADDR:PORT: " + dst)
	}
	payload := []byte("from " + src)
	pkt := make([]byte, 28, 28+len(payload))
	pkt[0] = 0x45                                                      // version 4, 5 words of header
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)+len(payload))) // total length
	pkt[8], pkt[9] = 64, syscall.IPPROTO_UDP                           // TTL, protocol
	sa, da := s.As4(), d.Addr().As4()
	copy(pkt[12:], sa[:])
	copy(pkt[16:], da[:])
	binary.BigEndian.PutUint16(pkt[20:], 40000)
	binary.BigEndian.PutUint16(pkt[22:], d.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	pkt = append(pkt, payload...)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		report("udp-from "+src, err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: da}); err != nil {
		report("udp-from "+src, err)
		return
	}
	fmt.Printf("udp-from %s ok\n", src)
}

// get prints the outcome of one HTTP GET.
func get(url string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Printf("get %s error=%v\n", url, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line, _, _ := strings.Cut(string(b), "\n")
	fmt.Printf("get %s status=%d body=%s\n", url, resp.StatusCode, line)
}

// notify sends one sd_notify message, as an app that supports it would.
func notify(state string) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		fmt.Printf("notify %s error=no NOTIFY_SOCKET\n", state)
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(state))
		c.Close()
	}
	if err != nil {
		fmt.Printf("notify %s error=%v\n", state, err)
		return
	}
	fmt.Printf("notify %s ok\n", state)
}

// meta asks the pod's metadata service, at AC_METADATA_URL.
func meta(what, method, path string, form url.Values) {
	base := os.Getenv("AC_METADATA_URL")
	if base == "" {
		fmt.Printf("%s error=no AC_METADATA_URL\n", what)
		return
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+"/acMetadata/v1/"+path, body)
	if err != nil {
		fmt.Printf("%s error=%v\n", what, err)
		return
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		fmt.Printf("%s error=%v\n", what, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	line, _, _ := strings.Cut(string(b), "\n")
	switch what {
	case "meta-sign":
		fmt.Printf("%s status=%d signature=%s\n", what, resp.StatusCode, line)
	case "meta-verify":
		fmt.Printf("%s status=%d\n", what, resp.StatusCode)
	default:
		fmt.Printf("%s status=%d body=%s\n", what, resp.StatusCode, line)
	}
}

// addrs prints the addresses of every interface.
func addrs() {
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Printf("addrs error=%v\n", err)
		return
	}
	for _, i := range ifs {
		as, _ := i.Addrs()
		for _, a := range as {
			fmt.Printf("addr %s %s\n", i.Name, a)
		}
	}
}

// routerAdvertisement sends what a rogue router on iface's link would
// (RFC 4861 4.2): a router advertisement, to every node, that offers itself
// as the default router for 30 minutes and prefix (a /64) as on-link and for
// autoconfiguration, so that a host that takes it gains a default route and
// an address. The kernel fills in the checksum of an ICMPv6 raw socket.
func routerAdvertisement(iface, prefix string) {
	op := "ra " + iface
	p, err := netip.ParsePrefix(prefix)
	if err != nil || !p.Addr().Is6() || p.Bits() != 64 {
		usage("ra: want an IPv6 /64 prefix, got " + prefix)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		report(op, err)
		return
	}
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_ICMPV6)
	if err != nil {
		report(op, err)
		return
	}
	defer syscall.Close(fd)
	for _, o := range []int{syscall.IPV6_MULTICAST_HOPS, syscall.IPV6_UNICAST_HOPS} {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, o, 255); err != nil {
			report(op, err)
			return
		}
	}
	msg := []byte{
		134, 0, 0, 0, // router advertisement, code, checksum
		64, 0, 0x07, 0x08, // hop limit, flags, router lifetime 1800 s
		0, 0, 0, 0, 0, 0, 0, 0, // reachable time, retransmission timer
		3, 4, 64, 0xc0, // prefix information, 32 bytes, /64, on-link and autonomous
		0, 1, 0x51, 0x80, // valid lifetime 86400 s
		0, 0, 0x38, 0x40, // preferred lifetime 14400 s
		0, 0, 0, 0, // reserved
	}
	a := p.Addr().As16()
	msg = append(msg, a[:]...)
	to := &syscall.SockaddrInet6{Addr: netip.MustParseAddr("ff02::1").As16(), ZoneId: uint32(ifi.Index)}
	for i := 0; i < 3; i++ {
		if err := syscall.Sendto(fd, msg, 0, to); err != nil {
			report(op, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	report(op, nil)
}

// fds lists the open descriptors with raw system calls, so that the Go
// runtime opens none of its own (no netpoller); run it as the first command.
func fds() {
	dfd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		report("open /proc/self/fd", err)
		return
	}
	defer syscall.Close(dfd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(dfd, buf)
		if err != nil {
			report("getdents /proc/self/fd", err)
			return
		}
		if n == 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	var nums []int
	for _, n := range names {
		if i, err := strconv.Atoi(n); err == nil && i != dfd {
			nums = append(nums, i)
		}
	}
	sort.Ints(nums)
	for _, n := range nums {
		t, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(n))
		if err != nil {
			t = "?"
		}
		fmt.Printf("fd=%d target=%s\n", n, t)
	}
}

// zombies orphans children that exit after their parent, so that the pod's
// PID 1 inherits them, then counts the processes in state Z that it can see.
func zombies() {
	const n = 3
	c := exec.Command("/proc/self/exe", "zombies-child", strconv.Itoa(n))
	c.Stderr = os.Stderr
	if err := c.Run(); err != nil {
		report("zombies-child", err)
		return
	}
	time.Sleep(time.Second)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var z []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		// The state follows the last ')' (the command name may contain one).
		i := strings.LastIndexByte(s, ')')
		if i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			z = append(z, strings.Fields(s)[0])
		}
	}
	fmt.Printf("orphaned=%d\nzombies=%d\n", n, len(z))
	if len(z) > 0 {
		fmt.Printf("zombie-pids=%s\n", strings.Join(z, ","))
	}
}

// exeOverwrite tries what CVE-2019-5736 and its relatives do: open the
// runtime's binary through /proc/*/exe for writing and reach the host
// through /proc/1/root.
func exeOverwrite() {
	for _, p := range []string{"/proc/self/exe", "/proc/1/exe"} {
		t, err := os.Readlink(p)
		if err != nil {
			report("readlink "+p, err)
		} else {
			fmt.Printf("readlink %s ok target=%s\n", p, t)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		report("open-write "+p, err)
		if err == nil {
			f.Close()
		}
		f, err = os.Open(p)
		report("open-read "+p, err)
		if err == nil {
			f.Close()
		}
	}
	ents, err := os.ReadDir("/proc/1/root/")
	report("readdir /proc/1/root", err)
	if err == nil {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Printf("/proc/1/root entries=%s\n", strings.Join(names, ","))
	}
	f, err := os.OpenFile("/proc/1/root/.testapp-escape", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	report("create /proc/1/root/.testapp-escape", err)
	if err == nil {
		f.Close()
		os.Remove("/proc/1/root/.testapp-escape")
	}
}

// peerRoots tries what a process of one app could take from another of the
// same pod through /proc/PID (the shared PID namespace): its root, working
// directory, environment and memory, and as a control the same of itself.
func peerRoots(name string, wait time.Duration) {
	self := os.Getpid()
	peer := 0
	for deadline := time.Now().Add(wait); peer == 0; time.Sleep(20 * time.Millisecond) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || pid == 1 {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if argv := strings.Split(string(b), "\x00"); err == nil && len(argv) > 1 && argv[1] == name {
				peer = pid
			}
		}
		if peer == 0 && time.Now().After(deadline) {
			fmt.Printf("peer-roots: no process running %s within %s\n", name, wait)
			return
		}
	}
	fmt.Printf("peer pid=%d\n", peer)
	for _, who := range []struct{ label, dir string }{{"peer", "/proc/" + strconv.Itoa(peer)}, {"self", "/proc/self"}} {
		_, err := os.ReadDir(who.dir + "/root/")
		report(who.label+" root", err)
		_, err = os.Readlink(who.dir + "/cwd")
		report(who.label+" cwd", err)
		_, err = os.ReadFile(who.dir + "/environ")
		report(who.label+" environ", err)
		f, err := os.Open(who.dir + "/mem")
		report(who.label+" mem", err)
		if err == nil {
			f.Close()
		}
	}
}

// probeSeccomp makes system calls a default seccomp filter should deny, with
// arguments that do no harm if they are allowed.
func probeSeccomp(which []string) {
	calls := map[string]func() error{
		"mount": func() error {
			return syscall.Mount("none", "/nonexistent-testapp", "tmpfs", 0, "")
		},
		"umount2": func() error { return syscall.Unmount("/nonexistent-testapp", 0) },
		"unshare": func() error {
			// A new UTS namespace for this thread only, which stays
			// locked to this goroutine until exit; harmless.
			runtime.LockOSThread()
			return syscall.Unshare(syscall.CLONE_NEWUTS)
		},
		"keyctl": func() error {
			// KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), no create.
			return rawSyscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0)
		},
		"setns": func() error {
			// fd -1: EBADF when allowed.
			return rawSyscall(sysSetns, ^uintptr(0), 0, 0)
		},
		"bpf": func() error {
			// BPF_PROG_LOAD with a NULL attribute: EFAULT or EINVAL when allowed.
			return rawSyscall(sysBPF, 5, 0, 0)
		},
	}
	if len(which) == 0 {
		which = []string{"mount", "umount2", "unshare", "keyctl", "setns", "bpf"}
	}
	for _, w := range which {
		f, ok := calls[w]
		if !ok {
			usage("seccomp: unknown call " + w)
		}
		report(w, f())
	}
}

// errSkipped reports a probe this architecture cannot make.
var errSkipped = errors.New("skipped: system call number unknown on this architecture")

func rawSyscall(nr int, a1, a2, a3 uintptr) error {
	if nr < 0 {
		return errSkipped
	}
	_, _, e := syscall.Syscall(uintptr(nr), a1, a2, a3)
	if e == 0 {
		return nil
	}
	return e
}

// raise sends the process a signal with its default action restored, so
// that it dies of it. Signals the Go runtime turns into a panic (SEGV, ABRT,
// QUIT …) are left out: the process would exit 2 instead.
// signals are the signals raise and waitSignal know, by name without SIG.
var signals = map[string]syscall.Signal{
	"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
}

func raise(name string) {
	sig, ok := signals[strings.TrimPrefix(name, "SIG")]
	if !ok || sig == syscall.SIGQUIT {
		usage("signal: unknown signal " + name)
	}
	signal.Reset(sig)
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		report("kill "+name, err)
		os.Exit(1)
	}
	time.Sleep(5 * time.Second)
	fmt.Printf("signal %s survived\n", name)
	os.Exit(1)
}

// waitSignal waits for one of the signals that stop a pod's app and says
// which it got: the exit code shows whether it was the one named, so a
// test sees which signal its pod's stop sent. With file, it writes it once
// it listens, for a test that must not signal before.
func waitSignal(name string, file []string) {
	want, ok := signals[strings.TrimPrefix(name, "SIG")]
	if !ok || want == syscall.SIGKILL {
		usage("wait-signal: unknown signal " + name)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	if len(file) == 1 {
		if err := os.WriteFile(file[0], []byte("waiting"), 0o644); err != nil {
			report("wait-signal write "+file[0], err)
			os.Exit(1)
		}
	}
	fmt.Printf("waiting for %s\n", name)
	got := (<-c).(syscall.Signal)
	if got != want {
		fmt.Printf("got %s, not %s\n", got, name)
		os.Exit(3)
	}
	fmt.Printf("got %s\n", name)
	os.Exit(0)
}

// alloc allocates n MiB and writes to every page, so that the memory is
// really charged to the process (and its cgroup), and keeps it until it
// returns.
func alloc(n int) {
	const mib = 1 << 20
	chunks := make([][]byte, 0, n)
	for i := 1; i <= n; i++ {
		c := make([]byte, mib)
		for j := 0; j < len(c); j += 4096 {
			c[j] = byte(i)
		}
		chunks = append(chunks, c)
		if i%8 == 0 {
			fmt.Printf("allocated %d MiB\n", i)
		}
	}
	fmt.Println("alloc ok")
	runtime.KeepAlive(chunks)
}

// longLine is the line print-long prints without its newline: n bytes of
// "0123456789" repeated, so that a line cut into pieces can be checked.
func longLine(n int) string {
	return strings.Repeat("0123456789", n/10+1)[:n]
}

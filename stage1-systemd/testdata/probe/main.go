// Command probe is the app the stage1 tests run inside pods. It is built
// statically on the fly; each argument is one action, done in order:
//
//	env                print the environment
//	ids                print uid, gid and groups
//	status             print the Cap*, NoNewPrivs, Seccomp*, Uid, Gid and Groups lines of /proc/self/status
//	hostname           print the host name
//	cat:FILE           print FILE
//	write:FILE         write "probe" to FILE
//	open-write:FILE    open FILE for writing, print "ok" or the error
//	open-read:FILE     open FILE for reading, print "ok" or the error
//	fds                print the open file descriptors (from /proc/self/fd)
//	exit:N             exit with code N
//	sleep:DUR          sleep DUR
//	ignore-term        ignore SIGTERM from now on
//	zombie             start a child that exits at once, never wait for it
//	mount              try mount(2), print "ok" or the error
//	pwd                print the working directory
//	mkdir:DIR          mkdir DIR, print "ok" or the error
//	spawn:ACTIONS      start "probe ACTIONS" (ACTIONS joined by '+'), print its PID, do not wait
//	orphan             spawn a child that spawns a short-lived grandchild and exits; later
//	                   check that the orphaned grandchild was reaped by PID 1
//	stat:FILE          print the type, permissions and owner (UID:GID) of FILE (lstat)
//	ifaces             print the network interfaces and whether they are up
//	userns             try to start a child in a new user namespace, print "ok" or the error
//	listen-fds:LABEL   print "LABEL" lines: LISTEN_FDS, LISTEN_FDNAMES, whether LISTEN_PID is our
//	                   PID, each fd from 3 on (LISTEN_FDS of them): type, family, port; and how
//	                   many of our fds are sockets
//	serve:FD           accept one connection on listening socket FD, answer "hello" (10s timeout)
//	recv:FD            read one datagram from socket FD and print it (10s timeout)
//	dial:HOST:PORT     connect over TCP, print the answer
//	send-udp:HOST:PORT send the datagram "ping"
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	for _, a := range os.Args[1:] {
		verb, arg, _ := strings.Cut(a, ":")
		switch verb {
		case "env":
			for _, e := range os.Environ() {
				fmt.Println("env", e)
			}
		case "ids":
			g, _ := os.Getgroups()
			fmt.Printf("uid %d gid %d groups %v\n", os.Getuid(), os.Getgid(), g)
		case "status":
			f, err := os.Open("/proc/self/status")
			if err != nil {
				fmt.Println("status error", err)
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				l := sc.Text()
				if strings.HasPrefix(l, "Cap") || strings.HasPrefix(l, "NoNewPrivs") || strings.HasPrefix(l, "Seccomp") ||
					strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "Groups:") {
					fmt.Println("status", strings.Join(strings.Fields(l), " "))
				}
			}
			f.Close()
		case "hostname":
			h, _ := os.Hostname()
			fmt.Println("hostname", h)
		case "cat":
			b, err := os.ReadFile(arg)
			if err != nil {
				fmt.Println("cat error", err)
				continue
			}
			fmt.Printf("cat %s\n%s\n", arg, b)
		case "write":
			if err := os.WriteFile(arg, []byte("probe"), 0o644); err != nil {
				fmt.Println("write error", err)
			} else {
				fmt.Println("write ok", arg)
			}
		case "open-write", "open-read":
			flag := os.O_RDONLY
			if verb == "open-write" {
				flag = os.O_WRONLY
			}
			f, err := os.OpenFile(arg, flag, 0)
			if err != nil {
				fmt.Println(verb, arg, "error", err)
				continue
			}
			if verb == "open-write" {
				if _, err := f.Write([]byte("x")); err != nil {
					fmt.Println(verb, arg, "write-error", err)
					f.Close()
					continue
				}
			}
			f.Close()
			fmt.Println(verb, arg, "ok")
		case "fds":
			ents, _ := os.ReadDir("/proc/self/fd")
			var fds []string
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				fds = append(fds, e.Name()+"="+l)
			}
			fmt.Println("fds", strings.Join(fds, " "))
		case "mkdir":
			if err := os.Mkdir(arg, 0o755); err != nil {
				fmt.Println("mkdir error", err)
			} else {
				fmt.Println("mkdir ok")
			}
		case "spawn":
			argv := append([]string{"/probe"}, strings.Split(arg, "+")...)
			p, err := os.StartProcess("/probe", argv, &os.ProcAttr{Files: []*os.File{nil, os.Stdout, os.Stderr}})
			if err != nil {
				fmt.Println("spawn error", err)
				continue
			}
			fmt.Println("spawned", p.Pid)
		case "orphan":
			out, err := exec.Command("/probe", "spawn:sleep:100ms").Output()
			if err != nil {
				fmt.Println("orphan error", err)
				continue
			}
			pid := strings.TrimSpace(strings.TrimPrefix(string(out), "spawned"))
			time.Sleep(600 * time.Millisecond)
			b, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				fmt.Println("orphan reaped")
			} else {
				fmt.Println("orphan not reaped:", string(b))
			}
		case "ifaces":
			ifs, _ := net.Interfaces()
			for _, i := range ifs {
				fmt.Println("iface", i.Name, i.Flags&net.FlagUp != 0)
			}
		case "userns":
			cmd := exec.Command("/probe", "exit:0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
			if err := cmd.Run(); err != nil {
				fmt.Println("userns error", err)
			} else {
				fmt.Println("userns ok")
			}
		case "stat":
			st, err := os.Lstat(arg)
			if err != nil {
				fmt.Println("stat error", err)
				continue
			}
			owner := ""
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				owner = fmt.Sprintf(" owner %d:%d", sys.Uid, sys.Gid)
			}
			fmt.Println("stat", arg, st.Mode().String()+owner)
		case "exit":
			n, _ := strconv.Atoi(arg)
			os.Exit(n)
		case "sleep":
			d, _ := time.ParseDuration(arg)
			time.Sleep(d)
		case "ignore-term":
			signal.Ignore(syscall.SIGTERM)
		case "zombie":
			p, err := os.StartProcess("/probe", []string{"/probe", "exit:0"}, &os.ProcAttr{})
			if err != nil {
				fmt.Println("zombie error", err)
				continue
			}
			fmt.Println("zombie pid", p.Pid)
		case "mount":
			if err := syscall.Mount("none", "/mnt", "tmpfs", 0, ""); err != nil {
				fmt.Println("mount error", err)
			} else {
				fmt.Println("mount ok")
			}
		case "pwd":
			wd, _ := os.Getwd()
			fmt.Println("pwd", wd)
		case "listen-fds":
			listenFds(arg)
		case "serve", "recv":
			fd, _ := strconv.Atoi(arg)
			tv := syscall.Timeval{Sec: 10}
			if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
				fmt.Println(verb, arg, "error", err)
				continue
			}
			if verb == "recv" {
				b := make([]byte, 64)
				n, _, err := syscall.Recvfrom(fd, b, 0)
				if err != nil {
					fmt.Println("recv", arg, "error", err)
				} else {
					fmt.Printf("recv %s %s\n", arg, b[:n])
				}
				continue
			}
			c, _, err := syscall.Accept(fd)
			if err != nil {
				fmt.Println("serve", arg, "error", err)
				continue
			}
			_, err = syscall.Write(c, []byte("hello"))
			syscall.Close(c)
			fmt.Println("served", arg, err)
		case "dial":
			c, err := net.DialTimeout("tcp", arg, 5*time.Second)
			if err != nil {
				fmt.Println("dial", arg, "error", err)
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c)
			c.Close()
			fmt.Printf("dial %s reply %q %v\n", arg, b, err)
		case "send-udp":
			c, err := net.Dial("udp", arg)
			if err == nil {
				_, err = c.Write([]byte("ping"))
				c.Close()
			}
			fmt.Println("send-udp", arg, err)
		default:
			fmt.Fprintln(os.Stderr, "probe: unknown action", a)
			os.Exit(99)
		}
	}
}

// listenFds prints what sd_listen_fds(3) would see.
func listenFds(label string) {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	pid, set := os.LookupEnv("LISTEN_PID")
	fmt.Printf("%s LISTEN_FDS=%s LISTEN_FDNAMES=%s pid-set=%v pid-match=%v\n", label, os.Getenv("LISTEN_FDS"),
		os.Getenv("LISTEN_FDNAMES"), set, pid == strconv.Itoa(os.Getpid()))
	for fd := 3; fd < 3+n; fd++ {
		typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
		if err != nil {
			fmt.Printf("%s fd %d error %v\n", label, fd, err)
			continue
		}
		t := map[int]string{syscall.SOCK_STREAM: "tcp", syscall.SOCK_DGRAM: "udp"}[typ]
		acc, _ := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
		sa, err := syscall.Getsockname(fd)
		switch sa := sa.(type) {
		case *syscall.SockaddrInet6:
			fmt.Printf("%s fd %d %s inet6 port %d listening %v\n", label, fd, t, sa.Port, acc == 1)
		case *syscall.SockaddrInet4:
			fmt.Printf("%s fd %d %s inet port %d listening %v\n", label, fd, t, sa.Port, acc == 1)
		default:
			fmt.Printf("%s fd %d getsockname %T %v\n", label, fd, sa, err)
		}
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	socks := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			socks++
		}
	}
	fmt.Printf("%s sockets %d\n", label, socks)
}

package netns

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// echoTCP serves one line back, upper-cased, then half-closes; it stands in
// for the app in the pod. Loopback only.
func echoTCP(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c) // until the client's half close
				c.Write([]byte(strings.ToUpper(string(b))))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func echoUDP(t *testing.T) netip.AddrPort {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort([]byte(strings.ToUpper(string(b[:n]))), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T, network string) netip.AddrPort {
	if network == "udp" {
		pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func TestPublishTCPAndUDP(t *testing.T) {
	tcpHost, udpHost := freePort(t, "tcp"), freePort(t, "udp")
	p, warnings, err := Publish([]PortMap{
		{Name: "web", Protocol: "tcp", Host: tcpHost, Pod: echoTCP(t)},
		{Name: "dns", Protocol: "udp", Host: udpHost, Pod: echoUDP(t)},
	}, t.Logf)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Publish: %v %v", err, warnings)
	}
	defer p.Close()

	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp4", tcpHost.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello over tcp"))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "HELLO OVER TCP" {
			t.Fatalf("through the published TCP port: %q, %v", b, err)
		}
	}
	u, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(udpHost))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	r := bufio.NewReader(u)
	for _, msg := range []string{"one", "two"} {
		u.Write([]byte(msg))
		u.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 100)
		n, err := r.Read(b)
		if err != nil || string(b[:n]) != strings.ToUpper(msg) {
			t.Fatalf("through the published UDP port: %q, %v", b[:n], err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: the host port is free again.
	ln, err := net.Listen("tcp4", tcpHost.String())
	if err != nil {
		t.Fatalf("the host port is still taken after Close: %v", err)
	}
	ln.Close()
}

func TestPublishBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	host := busy.Addr().(*net.TCPAddr).AddrPort()
	other := freePort(t, "tcp")
	pod := echoTCP(t)

	// Asked for: an error naming the port, and nothing left open.
	_, _, err = Publish([]PortMap{
		{Name: "free", Protocol: "tcp", Host: other, Pod: pod},
		{Name: "http", Protocol: "tcp", Host: host, Pod: pod},
	}, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "port http on "+host.String()) {
		t.Fatalf("a busy port asked for: %v", err)
	}
	if ln, err := net.Listen("tcp4", other.String()); err != nil {
		t.Errorf("a failed Publish left %s open: %v", other, err)
	} else {
		ln.Close()
	}
	// Implied by the app's manifest: a warning, and the others published.
	p, warnings, err := Publish([]PortMap{
		{Name: "http", Protocol: "tcp", Host: host, Pod: pod, Implicit: true},
		{Name: "free", Protocol: "tcp", Host: other, Pod: pod, Implicit: true},
	}, t.Logf)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "port http not published on "+host.String()) {
		t.Fatalf("a busy implicit port: %v %q", err, warnings)
	}
	p.Close()
	if _, _, err := Publish([]PortMap{{Name: "x", Protocol: "sctp", Host: other, Pod: pod}}, t.Logf); err == nil || !strings.Contains(err.Error(), `"sctp"`) {
		t.Errorf("sctp: %v", err)
	}
}

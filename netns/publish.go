package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// PortMap is one published port: what arrives at Host goes on to Pod.
type PortMap struct {
	Name     string // the app's name for the port
	Protocol string // "tcp" or "udp"
	Host     netip.AddrPort
	Pod      netip.AddrPort
	// Implicit: published because the app declares the port, not because
	// the pod asked for it; a host port already in use is then a warning,
	// not an error.
	Implicit bool
}

// String says what the map does, for logs: "http (tcp) 127.0.0.1:8080 -> 172.16.28.2:8080".
func (m PortMap) String() string {
	return fmt.Sprintf("%s (%s) %s -> %s", m.Name, m.Protocol, m.Host, m.Pod)
}

// udpIdle is how long a UDP peer's session lasts without traffic.
const udpIdle = 2 * time.Minute

// dialTimeout bounds the connection to the pod for each accepted one.
const dialTimeout = 10 * time.Second

// Publisher forwards published ports to a pod in user space: a listener on
// each host address, and for each connection (TCP) or peer (UDP) one to the
// pod. The pod sees the host's gateway address as the peer's. Everything
// it opened closes when the publisher does, or with the process: nothing is
// left in the kernel's tables by a supervisor that dies.
type Publisher struct {
	mu      sync.Mutex
	closers map[io.Closer]bool
	closed  bool
	maps    []PortMap // what is published
	wg      sync.WaitGroup
	logf    func(format string, args ...any)
}

// Publish opens the host side of every map and starts forwarding. A host
// address that cannot be opened fails the whole call (closing what was
// opened), unless the map is Implicit: then it is skipped and named in the
// returned warnings. logf reports errors of single connections.
func Publish(maps []PortMap, logf func(format string, args ...any)) (*Publisher, []string, error) {
	p := &Publisher{closers: map[io.Closer]bool{}, logf: logf}
	var warnings []string
	for _, m := range maps {
		var err error
		switch m.Protocol {
		case "tcp":
			err = p.tcp(m)
		case "udp":
			err = p.udp(m)
		default:
			err = fmt.Errorf("protocol %q: want tcp or udp", m.Protocol)
		}
		if err == nil {
			p.maps = append(p.maps, m)
			continue
		}
		if m.Implicit {
			warnings = append(warnings, fmt.Sprintf("port %s not published on %s: %v", m.Name, m.Host, err))
			continue
		}
		p.Close()
		return nil, nil, fmt.Errorf("publish port %s on %s: %w", m.Name, m.Host, err)
	}
	return p, warnings, nil
}

// Published returns the maps Publish opened, in order: all it was given
// but the implicit ones it skipped.
func (p *Publisher) Published() []PortMap { return p.maps }

// track adds c to what Close closes; false if the publisher is closed.
func (p *Publisher) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.closers[c] = true
	return true
}

func (p *Publisher) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.closers, c)
	p.mu.Unlock()
	c.Close()
}

// Close stops every listener and connection and waits for the forwarding
// goroutines to end.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	cs := p.closers
	p.closers = map[io.Closer]bool{}
	p.mu.Unlock()
	for c := range cs {
		c.Close()
	}
	p.wg.Wait()
	return nil
}

func (p *Publisher) tcp(m PortMap) error {
	ln, err := net.Listen("tcp4", m.Host.String())
	if err != nil {
		return err
	}
	if !p.track(ln) {
		return net.ErrClosed
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					p.logf("port %s: accept: %v", m.Name, err)
				}
				return
			}
			if !p.track(c) {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer p.untrack(c)
				p.splice(m, c.(*net.TCPConn))
			}()
		}
	}()
	return nil
}

// splice connects c to the pod and copies both ways, passing on each
// side's end of stream as a half close.
func (p *Publisher) splice(m PortMap, c *net.TCPConn) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	var d net.Dialer
	pc, err := d.DialContext(ctx, "tcp4", m.Pod.String())
	cancel()
	if err != nil {
		p.logf("port %s: connection from %s: %v", m.Name, c.RemoteAddr(), err)
		return
	}
	if !p.track(pc) {
		return
	}
	defer p.untrack(pc)
	pod := pc.(*net.TCPConn)
	done := make(chan struct{})
	go func() {
		io.Copy(pod, c)
		pod.CloseWrite()
		close(done)
	}()
	io.Copy(c, pod)
	c.CloseWrite()
	<-done
}

func (p *Publisher) udp(m PortMap) error {
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(m.Host))
	if err != nil {
		return err
	}
	if !p.track(pc) {
		return net.ErrClosed
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var mu sync.Mutex
		peers := map[netip.AddrPort]*net.UDPConn{}
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					p.logf("port %s: %v", m.Name, err)
				}
				return
			}
			mu.Lock()
			up := peers[from]
			if up == nil {
				up, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(m.Pod))
				if err != nil || !p.track(up) {
					mu.Unlock()
					if err != nil {
						p.logf("port %s: datagram from %s: %v", m.Name, from, err)
					}
					continue
				}
				peers[from] = up
				p.wg.Add(1)
				go func(up *net.UDPConn, from netip.AddrPort) {
					defer p.wg.Done()
					defer func() {
						mu.Lock()
						delete(peers, from)
						mu.Unlock()
						p.untrack(up)
					}()
					b := make([]byte, 64<<10)
					for {
						up.SetReadDeadline(time.Now().Add(udpIdle))
						n, err := up.Read(b)
						if err != nil {
							return
						}
						if _, err := pc.WriteToUDPAddrPort(b[:n], from); err != nil {
							return
						}
					}
				}(up, from)
			}
			mu.Unlock()
			up.SetReadDeadline(time.Now().Add(udpIdle)) // the session lives while either side speaks
			if _, err := up.Write(buf[:n]); err != nil {
				p.logf("port %s: datagram from %s: %v", m.Name, from, err)
			}
		}
	}()
	return nil
}

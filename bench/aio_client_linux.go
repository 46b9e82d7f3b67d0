//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// leanEchoClient drives conns connections from one thread with epoll: each
// connection sends depth lines, waits until all depth echoes are back, and
// repeats until it has sent reqs lines. It returns requests per second.
func leanEchoClient(addr string, conns, reqs, depth int) (float64, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		tcp, rerr := net.ResolveTCPAddr("tcp", addr)
		if rerr != nil {
			return 0, rerr
		}
		ap = tcp.AddrPort()
	}
	if !ap.Addr().Is4() {
		return echoClients(addr, conns, reqs, depth)
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(ep)
	type conn struct {
		fd      int
		batches int // batches still to send after the current one
		pending int // echoed lines still expected for the current batch
	}
	cs := make([]conn, conns)
	defer func() {
		for _, c := range cs {
			if c.fd > 0 {
				syscall.Close(c.fd)
			}
		}
	}()
	for i := range cs {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, err
		}
		cs[i].fd = fd
		if err := syscall.Connect(fd, sa); err != nil {
			return 0, fmt.Errorf("connect %s: %v", addr, err)
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := syscall.SetNonblock(fd, true); err != nil {
			return 0, err
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return 0, err
		}
		cs[i].batches = reqs / depth
	}
	msg := bytes.Repeat([]byte("hello from the echo benchmark\n"), depth)
	send := func(c *conn) error {
		c.batches--
		c.pending = depth
		for off := 0; off < len(msg); {
			n, err := syscall.Write(c.fd, msg[off:])
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue // the small request always fits soon
			}
			if err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	t0 := time.Now()
	active := 0
	for i := range cs {
		if cs[i].batches > 0 {
			if err := send(&cs[i]); err != nil {
				return 0, err
			}
			active++
		}
	}
	buf := make([]byte, 64<<10)
	events := make([]syscall.EpollEvent, 128)
	for active > 0 {
		n, err := syscall.EpollWait(ep, events, 10_000)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("no echo for 10s (%d connections still waiting)", active)
		}
		for _, ev := range events[:n] {
			c := &cs[ev.Fd]
			for c.pending > 0 {
				m, err := syscall.Read(c.fd, buf)
				if err == syscall.EAGAIN {
					break
				}
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					return 0, err
				}
				if m == 0 {
					return 0, fmt.Errorf("server closed a connection early")
				}
				c.pending -= bytes.Count(buf[:m], []byte{'\n'})
			}
			if c.pending < 0 {
				return 0, fmt.Errorf("more echoes than requests")
			}
			if c.pending == 0 {
				if c.batches == 0 {
					active--
					continue
				}
				if err := send(c); err != nil {
					return 0, err
				}
			}
		}
	}
	el := time.Since(t0)
	return float64(conns*(reqs/depth)*depth) / el.Seconds(), nil
}

//go:build linux

package aio

import (
	"bytes"
	"net"
	"strconv"
	"syscall"
	"time"
)

// The accepting side of a Server on the loop's poller (Linux, real clock):
// the loop accepts connections itself and makes owned socket streams of
// them.

// sockAddr converts a socket address of an accepted TCP connection as the
// net package does: an IPv4 address keeps its 4 bytes (so AddrPort gives
// an Is4 address, as on a net.Conn Go accepted), a zone is named by its
// interface, or by its index when that has no name.
func sockAddr(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: bytes.Clone(a.Addr[:]), Port: a.Port}
	case *syscall.SockaddrInet6:
		var zone string
		if a.ZoneId != 0 {
			zone = strconv.FormatUint(uint64(a.ZoneId), 10)
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: bytes.Clone(a.Addr[:]), Port: a.Port, Zone: zone}
	}
	return nil
}

// acceptedOptions sets what Go's Accept sets on a TCP connection: no Nagle
// delay, and keep-alive probes after 15 s idle, every 15 s.
func acceptedOptions(fd int) {
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
}

// startPolling registers the listener with the loop's poller, so that the
// loop accepts connections itself (asyncio's _accept_connection); false
// means an accepting goroutine must be used.
func (s *Server) startPolling() bool {
	l := s.l
	sc, ok := s.ln.(syscall.Conn)
	if !ok || !l.startPoller() {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return false
	}
	slot, err := l.poll.add(s, fd, syscall.EPOLLIN)
	if err != nil {
		return false
	}
	s.raw, s.pfd, s.slot, s.polled = rc, fd, slot, true
	return true
}

// acceptBatch bounds the connections accepted per readiness event, so that
// a flood of connections cannot starve the loop's other work.
const acceptBatch = 64

// pollReady accepts the connections waiting on the listener and starts a
// handler for each. The accepted sockets go straight to streams the loop
// owns; no net.Conn is made of them.
func (s *Server) pollReady(uint32) {
	for range acceptBatch {
		if s.slot < 0 {
			return
		}
		var nfd int
		var rsa syscall.Sockaddr
		var err error
		// Control, not Read: a listener's RawConn refuses Read.
		cerr := s.raw.Control(func(fd uintptr) {
			for {
				nfd, rsa, err = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
				if err != syscall.EINTR {
					return
				}
			}
		})
		switch {
		case cerr != nil:
			s.stopPolling()
			return
		case err == syscall.EAGAIN:
			return
		case err == syscall.ECONNABORTED:
			continue
		case acceptPausable(err):
			s.pauseAccepting(err)
			return
		case err != nil:
			s.l.cfg.logger.Error("aio: accept failed; the server stops accepting", "addr", s.ln.Addr(), "error", err)
			s.stopPolling()
			return
		}
		if s.refuse() {
			syscall.Close(nfd)
			continue
		}
		acceptedOptions(nfd)
		raddr := sockAddr(rsa)
		var laddr net.Addr = s.ln.Addr()
		if lsa, err := syscall.Getsockname(nfd); err == nil {
			if a := sockAddr(lsa); a != nil {
				laddr = a
			}
		}
		if raddr == nil {
			raddr = &net.TCPAddr{}
		}
		r, w := newSockStream(s.l, nfd, laddr, raddr)
		s.serveStream(r, w, s.handler)
	}
}

// pauseAccepting stops accepting for a second when the process is out of
// descriptors or memory, as asyncio does, instead of spinning on a
// listener that stays readable.
func (s *Server) pauseAccepting(err error) {
	s.l.cfg.logger.Error("aio: accept failed; pausing the server for 1s", "addr", s.ln.Addr(), "error", err)
	s.l.poll.setReading(s.pfd, s.slot, false)
	s.l.CallLater(time.Second, func() {
		if s.slot >= 0 {
			s.l.poll.setReading(s.pfd, s.slot, true)
			s.pollReady(0)
		}
	})
}

// stopPolling takes the listener out of the poller; the server accepts no
// more connections.
func (s *Server) stopPolling() {
	if s.slot < 0 {
		return
	}
	if p := s.l.poll; p != nil {
		p.remove(s.pfd, s.slot)
	}
	s.slot = -1
	s.stopped = true
	s.check()
}

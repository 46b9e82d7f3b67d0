//go:build linux

package aio

import (
	"bytes"
	"math"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// poller is the loop's own epoll instance, the selector of Python's
// asyncio (and uvloop's libuv loop). Once a socket stream starts reading on
// a real-clock loop, the loop waits for its next event in epoll_wait instead
// of on a channel: readable sockets, the next timer (the wait's timeout) and
// wake-ups from other goroutines (an eventfd) all end the same wait, and
// the loop reads the sockets itself. A request to an echo server then costs
// what it costs asyncio, a share of an epoll_wait, a read and a write, with
// no goroutine hand-off on the way in.
type poller struct {
	epfd   int
	evfd   int
	events []syscall.EpollEvent
	regs   []pollable // by slot; nil: free
	free   []int32
	// sleeping: the loop is in, or about to enter, an epoll_wait with a
	// timeout, so a thread-safe call must write the eventfd to end it.
	sleeping atomic.Bool
	// woken: the eventfd has been written and not yet drained.
	woken atomic.Bool
}

// wakeSlot is the event data of the eventfd.
const wakeSlot = -1

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	p := &poller{epfd: epfd, evfd: int(evfd), events: make([]syscall.EpollEvent, 256)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeSlot}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.evfd, &ev); err != nil {
		p.close()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return p, nil
}

// add registers fd for events on behalf of r and returns its slot; an
// error is epoll_ctl's errno.
func (p *poller) add(r pollable, fd int, events uint32) (int32, error) {
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.regs[slot] = r
	} else {
		slot = int32(len(p.regs))
		p.regs = append(p.regs, r)
	}
	ev := syscall.EpollEvent{Events: events, Fd: slot}
	if err := p.ctl(syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.regs[slot] = nil
		p.free = append(p.free, slot)
		return 0, err // the callers name the call
	}
	return slot, nil
}

// modify changes the events registered for fd.
func (p *poller) modify(fd int, slot int32, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: slot}
	return p.ctl(syscall.EPOLL_CTL_MOD, fd, &ev)
}

// setReading turns a listener's read interest on or off (pausing a server
// that ran out of descriptors).
func (p *poller) setReading(fd int, slot int32, on bool) error {
	var events uint32
	if on {
		events = syscall.EPOLLIN
	}
	return p.modify(fd, slot, events)
}

// ctl is epoll_ctl (tests can make it fail).
func (p *poller) ctl(op, fd int, ev *syscall.EpollEvent) error {
	if testHookCtl != nil {
		if err := testHookCtl(op); err != nil {
			return err
		}
	}
	return syscall.EpollCtl(p.epfd, op, fd, ev)
}

// testHookCtl, set by tests only, can fail epoll_ctl calls.
var testHookCtl func(op int) error

// remove forgets slot; fd is taken out of the epoll set unless it is
// already closed (closing a file removes it by itself).
func (p *poller) remove(fd int, slot int32) {
	if fd >= 0 {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	if int(slot) < len(p.regs) && p.regs[slot] != nil {
		p.regs[slot] = nil
		p.free = append(p.free, slot)
	}
}

// wait waits up to timeout (< 0: no limit) and returns the number of events.
func (p *poller) wait(timeout time.Duration) int {
	ms := epollMillis(timeout)
	for {
		n, err := syscall.EpollWait(p.epfd, p.events, ms)
		if err == syscall.EINTR {
			if ms != 0 {
				return 0 // let the loop recompute the timeout
			}
			continue
		}
		if err != nil {
			return 0
		}
		return n
	}
}

// epollMillis converts a wait's timeout (< 0: no limit) to epoll_wait's
// milliseconds, rounded up so that the timer is due when the wait ends.
// The kernel takes a C int: a timer more than 24.8 days away waits the
// longest it can (and the loop then computes the rest) instead of wrapping
// around to a negative, endless wait.
func epollMillis(timeout time.Duration) int {
	const maxMillis = math.MaxInt32
	if timeout < 0 {
		return -1
	}
	if timeout >= maxMillis*time.Millisecond {
		return maxMillis
	}
	return int((timeout + time.Millisecond - 1) / time.Millisecond)
}

// wakeup ends the loop's current or next epoll_wait (Python's self-pipe
// write in call_soon_threadsafe). It is called with the loop's mutex held,
// so the eventfd cannot be closed meanwhile.
func (p *poller) wakeup() {
	if !p.sleeping.Load() || !p.woken.CompareAndSwap(false, true) {
		return
	}
	one := [8]byte{1}
	syscall.Write(p.evfd, one[:])
}

// drainWakeup consumes the eventfd's count. It reads before it clears
// woken: a wakeup that lands in between finds woken still set and does not
// write, and the loop sees its call anyway (the poster set tsFlag before
// it tried, and the loop reads tsFlag after this). Clearing first would let
// that wakeup write and this read swallow it, leaving woken set with the
// eventfd empty, so that every later wakeup were skipped.
func (p *poller) drainWakeup() {
	var b [8]byte
	syscall.Read(p.evfd, b[:])
	if testHookDrain != nil {
		testHookDrain(p)
	}
	p.woken.Store(false)
}

// testHookDrain, set by tests only, runs in the middle of drainWakeup, where
// a wakeup from another goroutine may land.
var testHookDrain func(*poller)

func (p *poller) close() {
	syscall.Close(p.evfd)
	syscall.Close(p.epfd)
}

// takeOver makes the loop the owner of a socket connection (Linux, real
// clock, the net package's own TCP and Unix connections): it keeps a
// duplicate of the descriptor and closes the net.Conn. Closing it takes the
// socket out of Go's netpoller, which otherwise would be woken by every
// packet as well whenever any goroutine of the process waits for a timer
// or for I/O (its idle threads sleep in the netpoller); the stream's own
// reads, writes and epoll registration then go through the duplicate with
// plain system calls. If anything fails, the stream keeps the net.Conn and
// uses a reader goroutine.
func (s *stream) takeOver() {
	if s.raw == nil || !s.l.startPoller() {
		return
	}
	fd := -1
	s.raw.Control(func(f uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f, syscall.F_DUPFD_CLOEXEC, 0)
		if e == 0 {
			fd = int(r)
		}
	})
	if fd < 0 {
		return
	}
	if st, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || st != syscall.SOCK_STREAM {
		syscall.Close(fd)
		return
	}
	c := s.conn
	s.conn = &sockConn{s: s, laddr: c.LocalAddr(), raddr: c.RemoteAddr()}
	c.Close()
	s.raw = nil
	s.own(fd)
}

// own records fd as the stream's socket.
func (s *stream) own(fd int) {
	s.fd, s.owned = fd, true
	s.r.pfd = fd
}

// newSockStream makes a stream of a socket accepted by the loop.
func newSockStream(l *Loop, fd int, laddr, raddr net.Addr) (*StreamReader, *StreamWriter) {
	s := &stream{l: l, fd: -1}
	s.conn = &sockConn{s: s, laddr: laddr, raddr: raddr}
	s.r = &StreamReader{s: s, Limit: DefaultStreamLimit, slot: -1}
	s.w = &StreamWriter{s: s}
	s.own(fd)
	l.track(s)
	return s.r, s.w
}

// interest brings the stream's epoll registration in line with what its
// reader (data, unless paused) and writer (room, while a write waits) want
// now: added, changed, or removed when nothing is wanted (a socket that
// hung up would otherwise keep reporting EPOLLHUP to a loop that ignores
// it). If the poller refuses, both sides fail with the error.
func (s *stream) interest() {
	r, w, p := s.r, s.w, s.l.poll
	if s.fd < 0 || p == nil {
		return
	}
	var want uint32
	if r.reading && !r.pollPaused {
		want |= syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	if w.waitOut {
		want |= syscall.EPOLLOUT
	}
	if want == r.mask && (want == 0) == (r.slot < 0) {
		return
	}
	var err error
	switch {
	case want == 0:
		p.remove(s.fd, r.slot)
		r.slot = -1
	case r.slot < 0:
		r.slot, err = p.add(r, s.fd, want)
		if err != nil {
			r.slot = -1
		}
	default:
		err = p.modify(s.fd, r.slot, want)
	}
	if err != nil {
		err = os.NewSyscallError("epoll_ctl", err)
		if r.slot >= 0 {
			p.remove(s.fd, r.slot)
			r.slot = -1
		}
		r.mask = 0
		if r.reading {
			r.reading = false
			if r.err == nil && !r.eof {
				r.err = r.opError(err)
			}
			r.wakeAll()
		}
		if w.waitOut {
			w.fail(err)
		}
		return
	}
	r.mask = want
}

// closeFD closes the owned socket (which also takes it out of the poller).
func (s *stream) closeFD() error {
	if s.fd < 0 {
		return nil
	}
	r := s.r
	if r.slot >= 0 {
		if p := s.l.poll; p != nil {
			p.remove(s.fd, r.slot)
		}
		r.slot, r.mask = -1, 0
	}
	r.reading = false
	err := syscall.Close(s.fd)
	s.fd = -1
	if c, ok := s.conn.(*sockConn); ok {
		c.closed = true
	}
	if s.w.waitOut {
		// No EPOLLOUT can come any more: a coroutine waiting in Drain
		// or Flush gets the error a net.Conn's pending Write returns
		// when the connection is closed under it.
		s.w.fail(net.ErrClosed)
	}
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// shutdownWrite shuts down the sending side of the owned socket.
func (s *stream) shutdownWrite() error {
	// Errors as *net.TCPConn.CloseWrite gives them (Op "close").
	if s.fd < 0 {
		return s.opError("close", net.ErrClosed)
	}
	if err := syscall.Shutdown(s.fd, syscall.SHUT_WR); err != nil {
		return s.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// pollReady handles an event of the stream's socket: data (or its end) for
// the reader, room for a waiting writer.
func (r *StreamReader) pollReady(events uint32) {
	const hup = syscall.EPOLLHUP | syscall.EPOLLERR
	if events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|hup) != 0 && r.reading {
		r.pollRead()
	}
	if w := r.s.w; events&(syscall.EPOLLOUT|hup) != 0 && w.waitOut {
		w.pollWrite()
	}
}

// minFree is the least free space pollRead reads into.
const minFree = 2 << 10

// pollRead reads what the socket has, on the loop (asyncio's _read_ready).
func (r *StreamReader) pollRead() {
	if r.s.fd < 0 {
		return
	}
	if r.off == len(r.buf) {
		r.buf, r.off = r.buf[:0], 0
	}
	if cap(r.buf)-len(r.buf) < minFree {
		if r.off > 0 {
			r.buf = r.buf[:copy(r.buf, r.buf[r.off:])]
			r.off = 0
		}
		if cap(r.buf)-len(r.buf) < minFree {
			nb := make([]byte, len(r.buf), max(2*cap(r.buf), 4<<10))
			copy(nb, r.buf)
			r.buf = nb
		}
	}
	n, err := rawRead(r.s.fd, r.buf[len(r.buf):cap(r.buf)])
	switch {
	case err == syscall.EAGAIN:
		return // nothing after all
	case err != nil:
		r.err = r.opError(os.NewSyscallError("read", err))
	case n == 0:
		r.eof = true
	default:
		r.buf = r.buf[:len(r.buf)+n]
		if len(r.buffered()) > int(r.highWater()) && !r.waiting() {
			r.pollPaused = true
			r.s.interest()
		}
	}
	if r.eof || r.err != nil {
		r.reading = false
		r.s.interest()
	}
	r.wakeAll()
}

// kickOwned sends the buffer on an owned socket: one non-blocking write
// (the kernel usually takes it all); the rest waits for the socket to
// become writable (asyncio's _write_ready), with no goroutine.
func (w *StreamWriter) kickOwned() {
	if w.s.fd < 0 {
		w.fail(net.ErrClosed) // closed with data still unsent
		return
	}
	n, err := rawWrite(w.s.fd, w.buf)
	switch {
	case err == syscall.EAGAIN:
		n = 0
	case err != nil:
		w.fail(os.NewSyscallError("write", err))
		return
	}
	if n == len(w.buf) {
		w.buf = w.buf[:0]
		w.wakeWaiters()
		return
	}
	w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	w.flushing, w.waitOut = true, true
	w.s.interest()
}

// pollWrite sends more of the buffer once the socket has room.
func (w *StreamWriter) pollWrite() {
	if w.s.fd < 0 || len(w.buf) == 0 {
		w.flushing, w.waitOut = false, false
		w.s.interest()
		w.wakeWaiters()
		return
	}
	n, err := rawWrite(w.s.fd, w.buf)
	switch {
	case err == syscall.EAGAIN:
		return
	case err != nil:
		w.fail(os.NewSyscallError("write", err))
		return
	}
	w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	if len(w.buf) == 0 {
		w.flushing, w.waitOut = false, false
		w.s.interest()
	}
	w.wakeWaiters() // progress: Drain may be below its mark now
}

// fail records a send error: what is unsent is dropped and waiters see
// the error.
func (w *StreamWriter) fail(err error) {
	if w.err == nil {
		w.err = w.opError(err)
	}
	w.buf = w.buf[:0]
	if w.waitOut {
		w.flushing, w.waitOut = false, false
		w.s.interest()
	}
	w.wakeWaiters()
}

// sockConn is what StreamWriter.Conn returns for a socket the loop owns,
// like asyncio's TransportSocket: addresses and socket options (through
// SyscallConn, from the loop), no I/O.
type sockConn struct {
	s            *stream
	laddr, raddr net.Addr
	closed       bool
}

func (c *sockConn) Read([]byte) (int, error)         { return 0, ErrOwnedByStream }
func (c *sockConn) Write([]byte) (int, error)        { return 0, ErrOwnedByStream }
func (c *sockConn) Close() error                     { return ErrOwnedByStream }
func (c *sockConn) LocalAddr() net.Addr              { return c.laddr }
func (c *sockConn) RemoteAddr() net.Addr             { return c.raddr }
func (c *sockConn) SetDeadline(time.Time) error      { return ErrOwnedByStream }
func (c *sockConn) SetReadDeadline(time.Time) error  { return ErrOwnedByStream }
func (c *sockConn) SetWriteDeadline(time.Time) error { return ErrOwnedByStream }

// SyscallConn gives the socket's descriptor to Control, for socket options;
// call it from the loop. Its Read and Write refuse.
func (c *sockConn) SyscallConn() (syscall.RawConn, error) { return sockRaw{c}, nil }

type sockRaw struct{ c *sockConn }

func (r sockRaw) Control(f func(fd uintptr)) error {
	if r.c.closed || r.c.s.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(r.c.s.fd))
	return nil
}
func (r sockRaw) Read(func(fd uintptr) bool) error  { return ErrOwnedByStream }
func (r sockRaw) Write(func(fd uintptr) bool) error { return ErrOwnedByStream }

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

// pollSupported reports whether streams can use the loop's poller here.
const pollSupported = true

//go:build linux

package aio

import (
	"net"
	"os"
	"syscall"
	"time"
)

// The socket transport of a stream the loop owns (Linux, real clock): the
// loop reads and writes the socket itself when the poller reports it ready.
// The public stream API and the goroutine transport over a net.Conn are in
// stream.go; the accepting side of a Server on the poller in server_linux.go.

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

//go:build linux

package aio

import (
	"math"
	"net"
	"os"
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

// add registers fd for readability on behalf of r and returns its slot.
func (p *poller) add(r pollable, fd int) (int32, error) {
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.regs[slot] = r
	} else {
		slot = int32(len(p.regs))
		p.regs = append(p.regs, r)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: slot}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.regs[slot] = nil
		p.free = append(p.free, slot)
		return 0, os.NewSyscallError("epoll_ctl", err)
	}
	return slot, nil
}

// setReading turns read interest on or off (asyncio's resume_reading and
// pause_reading).
func (p *poller) setReading(fd int, slot int32, on bool) error {
	ev := syscall.EpollEvent{Fd: slot}
	if on {
		ev.Events = syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
}

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

// startPolling registers a socket with the loop's poller, so that the loop
// reads it directly; it reports false when the goroutine reader must be
// used instead (no poller here, a virtual clock, not a socket).
func (r *StreamReader) startPolling() bool {
	l := r.s.l
	fd := r.s.fd
	if fd < 0 || l.poll == nil {
		return false
	}
	slot, err := l.poll.add(r, fd)
	if err != nil {
		return false // not pollable (a regular file, say): use a goroutine
	}
	r.started, r.polled, r.pfd, r.slot = true, true, fd, slot
	return true
}

// dupFD returns the loop's own duplicate of a socket's descriptor, or -1
// when the loop has no poller or c is not a socket. The duplicate shares
// the socket's non-blocking mode; reading and writing it skips the
// net.Conn's locks and poll bookkeeping, which Go needs for goroutines
// that wait and the loop does not.
func (s *stream) dupFD() int {
	if s.raw == nil || !s.l.startPoller() {
		return -1
	}
	fd := -1
	s.raw.Control(func(f uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f, syscall.F_DUPFD_CLOEXEC, 0)
		if e == 0 {
			fd = int(r)
		}
	})
	if fd < 0 {
		return -1
	}
	if st, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || st != syscall.SOCK_STREAM {
		syscall.Close(fd)
		return -1
	}
	return fd
}

// closeFD closes the loop's descriptor (which also takes it out of the
// poller).
func (s *stream) closeFD() {
	if s.fd < 0 {
		return
	}
	s.r.detach()
	syscall.Close(s.fd)
	s.fd = -1
}

// writeNow makes one non-blocking write attempt from the loop, as
// asyncio's transports do before they buffer; ok is false when the caller
// must fall back to a goroutine (which also reports real errors).
func (s *stream) writeNow(p []byte) (n int, ok bool) {
	if s.fd < 0 {
		return tryWrite(s.raw, p)
	}
	n, err := rawWrite(s.fd, p)
	if err != nil {
		return 0, err == syscall.EAGAIN
	}
	return n, true
}

// minFree is the least free space pollReady reads into.
const minFree = 2 << 10

// pollReady reads what the socket has, on the loop (asyncio's
// _read_ready): epoll reported it readable.
func (r *StreamReader) pollReady() {
	if r.slot < 0 {
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
			r.setPollReading(false)
		}
	}
	if r.eof || r.err != nil {
		r.detach()
	}
	r.wakeAll()
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
	slot, err := l.poll.add(s, fd)
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
// handler for each.
func (s *Server) pollReady() {
	if s.slot < 0 {
		return
	}
	if f := s.held; f != nil {
		// A connection accepted before a pause, when no descriptor was
		// left to make a net.Conn of it.
		c, err := net.FileConn(f)
		if err != nil && acceptPausable(err) {
			s.pauseAccepting(err)
			return
		}
		s.held = nil
		s.l.untrack(f)
		f.Close()
		if err != nil {
			s.l.cfg.logger.Error("aio: accepted connection unusable", "addr", s.ln.Addr(), "error", err)
		} else {
			s.serve(c, s.handler)
		}
	}
	for range acceptBatch {
		if s.slot < 0 {
			return
		}
		var nfd int
		var err error
		// Control, not Read: a listener's RawConn refuses Read.
		cerr := s.raw.Control(func(fd uintptr) {
			for {
				nfd, _, err = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
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
		f := os.NewFile(uintptr(nfd), "tcp")
		c, err := net.FileConn(f) // a duplicate of f's descriptor
		if err != nil && acceptPausable(err) {
			// No descriptor for the duplicate: keep the accepted socket
			// and make it a connection when the pause ends, rather than
			// drop a client that Go's Accept would have served.
			s.held = f
			s.l.track(f)
			s.pauseAccepting(err)
			return
		}
		f.Close()
		if err != nil {
			s.l.cfg.logger.Error("aio: accepted connection unusable", "addr", s.ln.Addr(), "error", err)
			continue
		}
		s.serve(c, s.handler)
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
			s.pollReady()
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
	if f := s.held; f != nil {
		s.held = nil
		s.l.untrack(f)
		f.Close()
	}
	s.slot = -1
	s.stopped = true
	s.check()
}

// pollSupported reports whether streams can use the loop's poller here.
const pollSupported = true

//go:build linux

package aio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the socket transport of streams the loop owns (Linux, real
// clock: the loop takes TCP and Unix sockets over and reads and writes them
// itself); where a test runs in both modes, the goroutine transport must
// agree.

// TestOwnedConnStandIn: a stream the loop took over answers Conn with a
// stand-in that gives the right addresses and socket options and refuses
// I/O; the net.Conn it was made from is closed. Without the poller, Conn is
// the connection itself.
func TestOwnedConnStandIn(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr, peer := acceptOne(t)
		runMain(t, m.opts, func(tt *T) (int, error) {
			c, err := dialTCP(tt, addr)
			if err != nil {
				return 0, err
			}
			laddr, raddr := c.LocalAddr().String(), c.RemoteAddr().String()
			r, w, err := NewStream(tt, c)
			if err != nil {
				return 0, err
			}
			defer w.Close(tt)
			sc := w.Conn()
			if sc.LocalAddr().String() != laddr || sc.RemoteAddr().String() != raddr {
				return 0, fmt.Errorf("Conn addresses %v %v, want %s %s", sc.LocalAddr(), sc.RemoteAddr(), laddr, raddr)
			}
			if !m.poll {
				if sc != c {
					return 0, errors.New("without the poller Conn is not the connection itself")
				}
				return 0, nil
			}
			if !r.s.owned {
				return 0, errors.New("the stream did not take the socket over")
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				return 0, fmt.Errorf("the original connection reads %v, want net.ErrClosed", err)
			}
			for name, err := range map[string]error{
				"Read":        func() error { _, err := sc.Read(make([]byte, 1)); return err }(),
				"Write":       func() error { _, err := sc.Write([]byte("x")); return err }(),
				"Close":       sc.Close(),
				"SetDeadline": sc.SetDeadline(time.Now()),
			} {
				if !errors.Is(err, ErrOwnedByStream) {
					return 0, fmt.Errorf("stand-in %s: %v, want ErrOwnedByStream", name, err)
				}
			}
			rc, err := sc.(syscall.Conn).SyscallConn()
			if err != nil {
				return 0, err
			}
			nodelay := -1
			if err := rc.Control(func(fd uintptr) {
				nodelay, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
			}); err != nil {
				return 0, err
			}
			if nodelay != 1 {
				return 0, fmt.Errorf("TCP_NODELAY through SyscallConn: %d", nodelay)
			}
			// The stream itself works.
			w.WriteString("ping\n")
			if err := w.Drain(tt); err != nil {
				return 0, err
			}
			p, ok := <-peer
			if !ok {
				return 0, errors.New("no peer")
			}
			defer p.Close()
			if _, err := p.Write([]byte("pong\n")); err != nil {
				return 0, err
			}
			got, err := r.ReadLine(tt)
			if err != nil || string(got) != "pong\n" {
				return 0, fmt.Errorf("read %q, %v", got, err)
			}
			return 0, nil
		})
	})
}

// TestOwnedWriteWaitsForRoom: a write much larger than the socket buffers,
// to a peer that reads only later, waits for EPOLLOUT on the loop (no
// goroutine) while other coroutines go on, and arrives whole.
func TestOwnedWriteWaitsForRoom(t *testing.T) {
	skipWithoutPoller(t)
	const size = 16 << 20
	got := make(chan []byte, 1)
	release := make(chan struct{})
	addr := tcpPeer(t, func(c net.Conn) {
		<-release
		b, _ := io.ReadAll(c)
		got <- b
	})
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7)
	}
	runOpen(t, nil, addr, func(tt *T, _ *StreamReader, w *StreamWriter) (int, error) {
		w.Write(want)
		ticks := 0
		ticker := Go(tt, func(tt *T) (int, error) {
			for !w.waitOut {
				ticks++
				if err := Sleep(tt, time.Millisecond); err != nil {
					return 0, err
				}
			}
			return ticks, nil
		})
		n, err := Await(tt, ticker)
		if err != nil {
			return 0, err
		}
		if n == 0 && !w.waitOut {
			return 0, errors.New("the write never waited for room")
		}
		close(release)
		return 0, w.Close(tt) // flushes: waits for the peer to take it all
	})
	b := <-got
	if !bytes.Equal(b, want) {
		t.Fatalf("peer got %d bytes (equal: %v), want %d", len(b), bytes.Equal(b, want), size)
	}
}

// TestOwnedWriteErrorReported: writing to a peer that reset the connection
// fails Drain with a *net.OpError for "write", as a net.Conn would.
func TestOwnedWriteErrorReported(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr := tcpPeer(t, func(c net.Conn) {
			// Once the client is connected and has spoken, close with
			// a reset.
			c.Read(make([]byte, 1))
			c.(*net.TCPConn).SetLinger(0)
		})
		runOpen(t, m.opts, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
			w.WriteString("x")
			// Wait for the reset to arrive.
			if _, err := r.Read(tt, 1); err == nil {
				return 0, errors.New("read from a reset connection succeeded")
			}
			chunk := bytes.Repeat([]byte{'z'}, 64<<10)
			var werr error
			for i := 0; i < 100 && werr == nil; i++ {
				w.Write(chunk)
				werr = w.Flush(tt)
			}
			var op *net.OpError
			if !errors.As(werr, &op) || op.Op != "write" {
				return 0, fmt.Errorf("write to a reset connection: %v, want a write *net.OpError", werr)
			}
			return 0, nil
		})
	})
}

// TestFlushWokenWhenStreamClosedWhileWaitingForRoom: a coroutine waits in
// Flush for a peer that reads nothing while another closes the stream
// (its own Close cancelled during its flush). Without the poller the
// writing goroutine's Write fails and Flush returns the error; with it
// the socket left the poller, no EPOLLOUT could ever come, and Flush
// waited forever (fixed: closing an owned stream fails a waiting writer).
func TestFlushWokenWhenStreamClosedWhileWaitingForRoom(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		runStalled(t, m.opts, func(tt *T, _ *StreamReader, w *StreamWriter) (int, error) {
			w.Write(make([]byte, 16<<20))
			flusher := Go(tt, func(tt *T) (int, error) { return 0, w.Flush(tt) })
			if err := waitUnsent(tt, w); err != nil {
				return 0, err
			}
			closer := Go(tt, func(tt *T) (int, error) { return 0, w.Close(tt) })
			if err := Sleep(tt, 10*time.Millisecond); err != nil {
				return 0, err
			}
			closer.Cancel()
			Await(tt, closer)
			_, ferr := WaitFor(tt, flusher, 20*time.Second)
			if errors.Is(ferr, context.DeadlineExceeded) {
				return 0, errors.New("Flush still waiting after its stream was closed")
			}
			if ferr == nil {
				return 0, errors.New("Flush of unsent data to a closed stream succeeded")
			}
			if !errors.Is(ferr, net.ErrClosed) {
				return 0, fmt.Errorf("Flush after Close: %v, want net.ErrClosed", ferr)
			}
			if err := w.Write([]byte("x")); err == nil {
				return 0, errors.New("Write after Close succeeded")
			}
			return 0, nil
		})
	})
}

// TestWriteQueuedWhenClosedFailsAsClosed: a step writes and then closes
// the stream without flushing (its task was cancelled, so Close's Flush
// returns at once). The queued send then found no socket: with the poller
// it wrote to descriptor -1 and reported EBADF; without it the write fails
// as on a closed net.Conn. Both now report net.ErrClosed.
func TestWriteQueuedWhenClosedFailsAsClosed(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		runStalled(t, m.opts, func(tt *T, _ *StreamReader, w *StreamWriter) (int, error) {
			var self *Task[int]
			self = Go(tt, func(tt *T) (int, error) {
				w.WriteString("hello")
				self.Cancel()
				return 0, w.Close(tt)
			})
			if _, err := Await(tt, self); !errors.Is(err, ErrCancelled) {
				return 0, fmt.Errorf("closing task: %v, want cancelled", err)
			}
			ferr := w.Flush(tt)
			if !errors.Is(ferr, net.ErrClosed) {
				return 0, fmt.Errorf("Flush of data queued before Close: %v, want net.ErrClosed", ferr)
			}
			return 0, nil
		})
	})
}

// TestUnixStreamOwned: a Unix socket given to NewStream is taken over
// (poller mode), echoes, half-closes with CloseWrite, and a write to a
// peer that has gone fails with a write *net.OpError (EPIPE, no SIGPIPE
// killing the process), as without the poller.
func TestUnixStreamOwned(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		path := t.TempDir() + "/s"
		peerGot := make(chan string, 1)
		listenPeer(t, "unix", path, func(c net.Conn) {
			c.Write([]byte("ping\n"))
			b, _ := io.ReadAll(c) // until our CloseWrite
			peerGot <- string(b)
		})
		runMain(t, m.opts, func(tt *T) (int, error) {
			c, err := net.Dial("unix", path)
			if err != nil {
				return 0, err
			}
			r, w, err := NewStream(tt, c)
			if err != nil {
				return 0, err
			}
			defer w.Close(tt)
			if got := w.s.owned; got != m.poll {
				return 0, fmt.Errorf("owned %v, want %v", got, m.poll)
			}
			if w.Conn().RemoteAddr().Network() != "unix" {
				return 0, fmt.Errorf("remote address %v", w.Conn().RemoteAddr())
			}
			line, err := r.ReadLine(tt)
			if err != nil || string(line) != "ping\n" {
				return 0, fmt.Errorf("ReadLine %q, %v", line, err)
			}
			w.WriteString("pong\n")
			if err := w.CloseWrite(tt); err != nil {
				return 0, err
			}
			if _, err := r.Read(tt, 1); err != io.EOF {
				return 0, fmt.Errorf("read after the peer closed: %v, want io.EOF", err)
			}
			// The peer has closed: writes fail (EPIPE) instead of
			// killing the process with SIGPIPE. Our own write side is
			// shut down too, so any write fails.
			w.WriteString("more")
			werr := w.Flush(tt)
			var op *net.OpError
			if !errors.As(werr, &op) || op.Op != "write" {
				return 0, fmt.Errorf("write after the peer closed: %v, want a write *net.OpError", werr)
			}
			return 0, nil
		})
		if got := <-peerGot; got != "pong\n" {
			t.Errorf("peer read %q, want pong", got)
		}
	})
}

// TestFlushWaitingForRoomSeesReset: the peer reads nothing, then resets
// the connection while a Flush waits for room and nobody reads (only
// EPOLLOUT is registered: the reset arrives as EPOLLERR|EPOLLHUP). Flush
// returns a write *net.OpError in both modes instead of waiting on.
func TestFlushWaitingForRoomSeesReset(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		reset := make(chan struct{})
		addr := tcpPeer(t, func(c net.Conn) {
			<-reset
			c.(*net.TCPConn).SetLinger(0)
		})
		runMain(t, m.opts, func(tt *T) (int, error) {
			defer func() {
				select {
				case <-reset:
				default:
					close(reset)
				}
			}()
			_, w, err := OpenConnection(tt, addr)
			if err != nil {
				return 0, err
			}
			defer w.Close(tt)
			w.Write(make([]byte, 16<<20))
			flusher := Go(tt, func(tt *T) (int, error) { return 0, w.Flush(tt) })
			if err := waitUnsent(tt, w); err != nil {
				return 0, err
			}
			if m.poll && w.s.r.mask != syscall.EPOLLOUT {
				return 0, fmt.Errorf("registered %#x, want EPOLLOUT only", w.s.r.mask)
			}
			close(reset)
			_, ferr := WaitFor(tt, flusher, 20*time.Second)
			if errors.Is(ferr, context.DeadlineExceeded) {
				return 0, errors.New("Flush still waiting after the peer reset")
			}
			var op *net.OpError
			if !errors.As(ferr, &op) || op.Op != "write" {
				return 0, fmt.Errorf("Flush to a reset peer: %v, want a write *net.OpError", ferr)
			}
			if m.poll && (w.s.r.slot >= 0 || w.s.r.mask != 0) {
				return 0, fmt.Errorf("still registered (slot %d, mask %#x) after the write failed", w.s.r.slot, w.s.r.mask)
			}
			return 0, nil
		})
	})
}

// TestWriteRegistrationRefusedFailsWriter: when the poller refuses to
// watch the socket for room, a Flush waiting for it fails at once with a
// write *net.OpError that wraps the cause (errors.Is works), naming
// epoll_ctl once (it said "epoll_ctl: epoll_ctl: ..." before), and the
// stream is left unregistered.
func TestWriteRegistrationRefusedFailsWriter(t *testing.T) {
	skipWithoutPoller(t)
	runStalled(t, nil, func(tt *T, _ *StreamReader, w *StreamWriter) (int, error) {
		testHookCtl = func(op int) error {
			if op == syscall.EPOLL_CTL_ADD {
				return syscall.ENOMEM
			}
			return nil
		}
		defer func() { testHookCtl = nil }()
		w.Write(make([]byte, 16<<20))
		flusher := Go(tt, func(tt *T) (int, error) { return 0, w.Flush(tt) })
		_, ferr := WaitFor(tt, flusher, 20*time.Second)
		if errors.Is(ferr, context.DeadlineExceeded) {
			return 0, errors.New("Flush waiting on a socket the poller refused")
		}
		var op *net.OpError
		if !errors.As(ferr, &op) || op.Op != "write" || !errors.Is(ferr, syscall.ENOMEM) {
			return 0, fmt.Errorf("Flush with the registration refused: %v, want a write *net.OpError wrapping ENOMEM", ferr)
		}
		if n := strings.Count(ferr.Error(), "epoll_ctl"); n != 1 {
			return 0, fmt.Errorf("error %q names epoll_ctl %d times", ferr, n)
		}
		if w.s.r.slot >= 0 || w.s.r.mask != 0 || w.waitOut {
			return 0, fmt.Errorf("left slot %d mask %#x waitOut %v", w.s.r.slot, w.s.r.mask, w.waitOut)
		}
		return 0, nil
	})
}

// TestPolledResumeFailureDoesNotHang: if turning read interest back on
// fails when a coroutine starts waiting, the coroutine gets the error
// instead of parking on a socket the poller no longer watches.
func TestPolledResumeFailureDoesNotHang(t *testing.T) {
	skipWithoutPoller(t)
	addr := tcpPeer(t, func(c net.Conn) {
		c.Write(bytes.Repeat([]byte{'x'}, 64<<10))
		io.Copy(io.Discard, c)
	})
	var rerr error
	var err error
	hangGuard(t, 20*time.Second, func() {
		_, err = Run(context.Background(), func(tt *T) (int, error) {
			r, w, err := OpenConnection(tt, addr)
			if err != nil {
				return 0, err
			}
			defer w.Close(tt)
			r.Limit = 1024 // high-water mark 2 KiB
			if _, err := r.ReadN(tt, 1); err != nil {
				return 0, err
			}
			for i := 0; !r.pollPaused; i++ {
				if i == 1000 {
					return 0, errors.New("read interest never paused")
				}
				if err := Sleep(tt, time.Millisecond); err != nil {
					return 0, err
				}
			}
			// Make resuming fail: the poller refuses to register the
			// socket again.
			testHookCtl = func(op int) error {
				if op != syscall.EPOLL_CTL_DEL {
					return syscall.ENOMEM
				}
				return nil
			}
			defer func() { testHookCtl = nil }()
			_, rerr = r.ReadN(tt, 1<<20)
			return 0, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rerr == nil {
		t.Fatal("ReadN returned no error")
	}
}

// TestPollerStaleEventsHarmless: an event for a slot whose owner left and
// whose slot was given to a new reader (or an event for a listener with
// nothing to accept) reaches a pollReady that finds nothing to read: it
// changes nothing, wakes nobody and reports no error.
func TestPollerStaleEventsHarmless(t *testing.T) {
	skipWithoutPoller(t)
	addr1 := silentPeer(t)
	addr2 := silentPeer(t)
	runMain(t, nil, func(tt *T) (int, error) {
		srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
		if err != nil {
			return 0, err
		}
		defer srv.Close()
		ra, wa, err := OpenConnection(tt, addr1)
		if err != nil {
			return 0, err
		}
		rb, wb, err := OpenConnection(tt, addr2)
		if err != nil {
			return 0, err
		}
		defer wb.Close(tt)
		// A registers, leaves (its writer closes), and B gets its slot.
		startPolling := func(r *StreamReader) bool {
			if !r.s.owned {
				return false
			}
			r.started, r.polled, r.reading = true, true, true
			r.s.interest()
			return r.slot >= 0
		}
		if !startPolling(ra) {
			return 0, fmt.Errorf("A is not polled")
		}
		slot := ra.slot
		if err := wa.Close(tt); err != nil {
			return 0, err
		}
		startPolling(rb)
		if rb.slot != slot {
			return 0, fmt.Errorf("B got slot %d, A had %d", rb.slot, slot)
		}
		// The old owner's event arrives: B's socket has nothing.
		p := tt.Loop().poll
		p.regs[slot].pollReady(syscall.EPOLLIN | syscall.EPOLLOUT)
		if rb.err != nil || rb.eof || len(rb.buffered()) != 0 || rb.slot != slot {
			return 0, fmt.Errorf("a stale event changed B: err %v eof %v buffered %d slot %d", rb.err, rb.eof, len(rb.buffered()), rb.slot)
		}
		srv.pollReady(syscall.EPOLLIN) // nothing to accept
		if srv.stopped || srv.slot < 0 {
			return 0, fmt.Errorf("a stale event stopped the server")
		}
		// B still works.
		reader := Go(tt, func(tt *T) ([]byte, error) { return rb.ReadN(tt, 1) })
		if err := Sleep(tt, 5*time.Millisecond); err != nil {
			return 0, err
		}
		if reader.Finished() {
			return 0, fmt.Errorf("B's read ended with no data sent: %v", reader.Err())
		}
		reader.Cancel()
		Await(tt, reader)
		return 0, nil
	})
}

// prefixConn is a connection wrapper that embeds *net.TCPConn (and with it
// SyscallConn) but changes what Read and Write see.
type prefixConn struct {
	*net.TCPConn
	mu  sync.Mutex
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.TCPConn.Read(p)
}

func (c *prefixConn) Write(p []byte) (int, error) {
	if _, err := c.TCPConn.Write(bytes.ToUpper(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TestNewStreamWrapperConnNotBypassed: a net.Conn that wraps a TCP
// connection and changes its Read or Write must be read and written
// through those methods; the loop's raw system calls on the socket would
// skip them (bytes the wrapper holds are lost). Same result in both modes.
func TestNewStreamWrapperConnNotBypassed(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		peerGot := make(chan string, 1)
		addr := tcpPeer(t, func(c net.Conn) {
			c.SetDeadline(time.Now().Add(5 * time.Second)) // a lost line ends the test, not hangs it
			c.Write([]byte("world\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			peerGot <- line
		})
		var got []string
		runMain(t, m.opts, func(tt *T) (int, error) {
			c, err := dialTCP(tt, addr)
			if err != nil {
				return 0, err
			}
			r, w, err := NewStream(tt, &prefixConn{TCPConn: c.(*net.TCPConn), pre: []byte("hello\n")})
			if err != nil {
				return 0, err
			}
			defer w.Close(tt)
			for range 2 {
				line, err := r.ReadLine(tt)
				if err != nil {
					return 0, err
				}
				got = append(got, string(line))
			}
			w.WriteString("shout\n")
			return 0, w.Flush(tt)
		})
		if strings.Join(got, "") != "hello\nworld\n" {
			t.Errorf("read %q through the wrapper, want hello and world", got)
		}
		if p := <-peerGot; p != "SHOUT\n" {
			t.Errorf("peer got %q, want the wrapper's SHOUT", p)
		}
	})
}

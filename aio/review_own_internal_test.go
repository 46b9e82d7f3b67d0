//go:build linux

package aio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Review tests of owned sockets (the loop takes TCP and Unix sockets over
// on Linux, real clock): each failed before the fix named in its comment,
// or checks that the poller and the goroutine readers agree.

// stalledPeer accepts one connection and reads nothing from it until
// release is closed; then it reads it to the end.
func stalledPeer(t *testing.T) (addr string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rel := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		<-rel
		io.Copy(io.Discard, c)
	}()
	var once bool
	return ln.Addr().String(), func() {
		if !once {
			once = true
			close(rel)
			ln.Close()
			<-done
		}
	}
}

// waitUnsent sleeps on the loop until w has data it could not send yet
// (waiting for room, or on its writing goroutine).
func waitUnsent(tt *T, w *StreamWriter) error {
	for i := 0; !w.flushing; i++ {
		if i > 10000 {
			return errors.New("the write never waited for room")
		}
		if err := Sleep(tt, time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// TestFlushWokenWhenStreamClosedWhileWaitingForRoom: a coroutine waits in
// Flush for a peer that reads nothing while another closes the stream
// (its own Close cancelled during its flush). Without the poller the
// writing goroutine's Write fails and Flush returns the error; with it
// the socket left the poller, no EPOLLOUT could ever come, and Flush
// waited forever (fixed: closing an owned stream fails a waiting writer).
func TestFlushWokenWhenStreamClosedWhileWaitingForRoom(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			addr, release := stalledPeer(t)
			defer release()
			_, err := Run(context.Background(), func(tt *T) (int, error) {
				_, w, err := OpenConnection(tt, addr)
				if err != nil {
					return 0, err
				}
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteQueuedWhenClosedFailsAsClosed: a step writes and then closes
// the stream without flushing (its task was cancelled, so Close's Flush
// returns at once). The queued send then found no socket: with the poller
// it wrote to descriptor -1 and reported EBADF; without it the write fails
// as on a closed net.Conn. Both now report net.ErrClosed.
func TestWriteQueuedWhenClosedFailsAsClosed(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			addr, release := stalledPeer(t)
			defer release()
			_, err := Run(context.Background(), func(tt *T) (int, error) {
				_, w, err := OpenConnection(tt, addr)
				if err != nil {
					return 0, err
				}
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// acceptedAddrs starts a server on network address addr, connects to it
// with a plain net.Conn and returns what the handler's Conn reports as its
// local and remote addresses, and what the client sees.
func acceptedAddrs(t *testing.T, addr string, opts []Option) (local, remote, clientLocal, clientRemote net.Addr) {
	t.Helper()
	_, err := Run(context.Background(), func(tt *T) (int, error) {
		got := make(chan [2]net.Addr, 1)
		srv, err := StartServer(tt, addr, func(tt *T, r *StreamReader, w *StreamWriter) error {
			got <- [2]net.Addr{w.Conn().LocalAddr(), w.Conn().RemoteAddr()}
			_, err := r.Read(tt, -1)
			return err
		})
		if err != nil {
			return 0, err
		}
		defer srv.Close()
		c, err := ToThread(tt, func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Addr().String())
		})
		if err != nil {
			return 0, err
		}
		clientLocal, clientRemote = c.LocalAddr(), c.RemoteAddr()
		for len(got) == 0 {
			if err := Sleep(tt, time.Millisecond); err != nil {
				return 0, err
			}
		}
		a := <-got
		local, remote = a[0], a[1]
		c.Close()
		return 0, nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return
}

// TestAcceptedAddressesSameInBothModes: the addresses of a connection the
// poller accepted are the ones Go's Accept reports: an IPv4 peer has a
// 4-byte IP (AddrPort().Addr().Is4()), as net's own sockaddr conversion
// gives; the poller gave 16-byte IPv4-mapped addresses, so Is4 was false
// and AddrPort printed ::ffff:127.0.0.1. IPv6 works too.
func TestAcceptedAddressesSameInBothModes(t *testing.T) {
	nets := []string{"127.0.0.1:0"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		nets = append(nets, "[::1]:0")
	}
	for _, addr := range nets {
		for _, m := range pollModes() {
			t.Run(addr+"/"+m.name, func(t *testing.T) {
				local, remote, cl, cr := acceptedAddrs(t, addr, m.opts)
				lt, ok1 := local.(*net.TCPAddr)
				rt, ok2 := remote.(*net.TCPAddr)
				if !ok1 || !ok2 {
					t.Fatalf("addresses %T %T, want *net.TCPAddr", local, remote)
				}
				if lt.String() != cr.String() || rt.String() != cl.String() {
					t.Errorf("server sees %v <- %v, client %v -> %v", lt, rt, cl, cr)
				}
				clt := cl.(*net.TCPAddr)
				if lt.AddrPort() != cr.(*net.TCPAddr).AddrPort() || rt.AddrPort() != clt.AddrPort() {
					t.Errorf("server AddrPorts %v <- %v, client %v -> %v", lt.AddrPort(), rt.AddrPort(), clt.AddrPort(), cr.(*net.TCPAddr).AddrPort())
				}
				if len(lt.IP) != len(clt.IP) || len(rt.IP) != len(clt.IP) {
					t.Errorf("IP lengths local %d remote %d, Go's own conns have %d", len(lt.IP), len(rt.IP), len(clt.IP))
				}
			})
		}
	}
}

// TestUnixStreamOwned: a Unix socket given to NewStream is taken over
// (poller mode), echoes, half-closes with CloseWrite, and a write to a
// peer that has gone fails with a write *net.OpError (EPIPE, no SIGPIPE
// killing the process), as without the poller.
func TestUnixStreamOwned(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			path := t.TempDir() + "/s"
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peerGot := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					peerGot <- err.Error()
					return
				}
				c.Write([]byte("ping\n"))
				b, _ := io.ReadAll(c) // until our CloseWrite
				peerGot <- string(b)
				c.Close()
			}()
			_, err = Run(context.Background(), func(tt *T) (int, error) {
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := <-peerGot; got != "pong\n" {
				t.Errorf("peer read %q, want pong", got)
			}
		})
	}
}

// TestOpenConnectionCancelledAfterDialClosesIt: the task is cancelled just
// as the dial succeeds. The connection was then dropped with the cancelled
// future's result and stayed open (until a garbage collection), so the
// peer saw neither data nor EOF; it is now closed.
func TestOpenConnectionCancelledAfterDialClosesIt(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
				close(accepted)
			}()
			dialed := make(chan struct{})
			proceed := make(chan struct{})
			testHookDialed = func() {
				close(dialed)
				<-proceed
			}
			defer func() { testHookDialed = nil }()
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				opener := Go(tt, func(tt *T) (int, error) {
					_, w, err := OpenConnection(tt, ln.Addr().String())
					if err == nil {
						w.Close(tt)
						return 0, errors.New("OpenConnection succeeded")
					}
					return 0, err
				})
				if _, err := ToThread(tt, func(context.Context) (int, error) { <-dialed; return 0, nil }); err != nil {
					return 0, err
				}
				opener.Cancel()
				_, err := Await(tt, opener)
				close(proceed)
				if !errors.Is(err, ErrCancelled) {
					return 0, fmt.Errorf("cancelled OpenConnection: %v", err)
				}
				return 0, nil
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			c := <-accepted
			if c == nil {
				t.Fatal("the dial never reached the listener")
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) // hang guard
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("peer of the abandoned connection read %d, %v; want EOF (closed)", n, err)
			}
		})
	}
}

// TestFlushWaitingForRoomSeesReset: the peer reads nothing, then resets
// the connection while a Flush waits for room and nobody reads (only
// EPOLLOUT is registered: the reset arrives as EPOLLERR|EPOLLHUP). Flush
// returns a write *net.OpError in both modes instead of waiting on.
func TestFlushWaitingForRoomSeesReset(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			reset := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				<-reset
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
			defer func() { <-done }()
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				defer func() {
					select {
					case <-reset:
					default:
						close(reset)
					}
				}()
				_, w, err := OpenConnection(tt, ln.Addr().String())
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteRegistrationRefusedFailsWriter: when the poller refuses to
// watch the socket for room, a Flush waiting for it fails at once with a
// write *net.OpError that wraps the cause (errors.Is works), naming
// epoll_ctl once (it said "epoll_ctl: epoll_ctl: ..." before), and the
// stream is left unregistered.
func TestWriteRegistrationRefusedFailsWriter(t *testing.T) {
	skipWithoutPoller(t)
	addr, release := stalledPeer(t)
	defer release()
	_, err := Run(context.Background(), func(tt *T) (int, error) {
		_, w, err := OpenConnection(tt, addr)
		if err != nil {
			return 0, err
		}
		defer w.Close(tt)
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
	if err != nil {
		t.Fatal(err)
	}
}

var _ = bytes.Equal

// TestHandlerErrorStillSendsWhatItWrote: a handler that writes a reply and
// returns an error without flushing still gets its reply out before the
// server closes the connection (asyncio's close() sends buffered data), in
// both modes.
func TestHandlerErrorStillSendsWhatItWrote(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			var got []byte
			_, err := Run(context.Background(), func(tt *T) (int, error) {
				srv, err := StartServer(tt, "127.0.0.1:0", func(tt *T, r *StreamReader, w *StreamWriter) error {
					w.WriteString("ERR bad request\n")
					return errors.New("bad request")
				})
				if err != nil {
					return 0, err
				}
				defer srv.Close()
				r, w, err := OpenConnection(tt, srv.Addr().String())
				if err != nil {
					return 0, err
				}
				defer w.Close(tt)
				got, err = r.Read(tt, -1)
				return 0, err
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "ERR bad request\n" {
				t.Fatalf("client read %q", got)
			}
		})
	}
}

// TestCloseWriteAfterCloseSameInBothModes: CloseWrite on a closed stream
// fails the way *net.TCPConn.CloseWrite does (a "close" *net.OpError
// wrapping net.ErrClosed), with or without the poller.
func TestCloseWriteAfterCloseSameInBothModes(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			_, err := Run(context.Background(), func(tt *T) (int, error) {
				srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
				if err != nil {
					return 0, err
				}
				defer srv.Close()
				_, w, err := OpenConnection(tt, srv.Addr().String())
				if err != nil {
					return 0, err
				}
				if err := w.Close(tt); err != nil {
					return 0, err
				}
				cerr := w.CloseWrite(tt)
				var op *net.OpError
				if !errors.As(cerr, &op) || op.Op != "close" || !errors.Is(cerr, net.ErrClosed) {
					return 0, fmt.Errorf("CloseWrite after Close: %#v", cerr)
				}
				return 0, nil
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

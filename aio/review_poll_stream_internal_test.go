//go:build linux

package aio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Review tests of polled streams: each failed before its fix, or checks
// that the poller and the goroutine readers give the same results.

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
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peerGot := make(chan string, 1)
			go func() {
				defer close(peerGot)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second)) // a lost line ends the test, not hangs it
				c.Write([]byte("world\n"))
				line, _ := bufio.NewReader(c).ReadString('\n')
				peerGot <- line
			}()
			var got []string
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				c, err := ToThread(tt, func(ctx context.Context) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ln.Addr().String())
				})
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "") != "hello\nworld\n" {
				t.Errorf("read %q through the wrapper, want hello and world", got)
			}
			if p := <-peerGot; p != "SHOUT\n" {
				t.Errorf("peer got %q, want the wrapper's SHOUT", p)
			}
		})
	}
}

// silentPeer accepts one connection and reads it until it closes.
func silentPeer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }
}

// TestRunCancelWakesPolledLoop: Run's context ending while the loop sits
// in epoll_wait (a read that nothing answers) wakes the loop, cancels the
// reader and returns.
func TestRunCancelWakesPolledLoop(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			addr, stop := silentPeer(t)
			defer stop()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var err error
			polled := false
			hangGuard(t, 20*time.Second, func() {
				_, err = Run(ctx, func(tt *T) (int, error) {
					r, _, err := OpenConnection(tt, addr)
					if err != nil {
						return 0, err
					}
					tt.Loop().CallLater(20*time.Millisecond, cancel)
					_, err = r.ReadLine(tt)
					polled = r.polled
					return 0, err
				}, m.opts...)
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run returned %v, want a cancellation", err)
			}
			if polled != m.poll {
				t.Fatalf("reader polled: %v, want %v", polled, m.poll)
			}
		})
	}
}

// TestPolledResumeFailureDoesNotHang: if turning read interest back on
// fails when a coroutine starts waiting, the coroutine gets the error
// instead of parking on a socket the poller no longer watches.
func TestPolledResumeFailureDoesNotHang(t *testing.T) {
	skipWithoutPoller(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(bytes.Repeat([]byte{'x'}, 64<<10))
		io.Copy(io.Discard, c)
	}()
	var rerr error
	hangGuard(t, 20*time.Second, func() {
		_, err = Run(context.Background(), func(tt *T) (int, error) {
			r, w, err := OpenConnection(tt, ln.Addr().String())
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

// TestHalfClosedWritesAfterEOF: the server reads the request to EOF (the
// client shut down its sending side) and then writes the answer; the
// client gets it, in both modes.
func TestHalfClosedWritesAfterEOF(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			var answer []byte
			_, err := Run(context.Background(), func(tt *T) (int, error) {
				srv, err := StartServer(tt, "127.0.0.1:0", func(tt *T, r *StreamReader, w *StreamWriter) error {
					req, err := r.Read(tt, -1)
					if err != nil {
						return err
					}
					for range 3 {
						w.Write(bytes.ToUpper(req))
						if err := w.Drain(tt); err != nil {
							return err
						}
						if err := Sleep(tt, time.Millisecond); err != nil {
							return err
						}
					}
					return nil
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
				w.WriteString("abc")
				if err := w.CloseWrite(tt); err != nil {
					return 0, err
				}
				answer, err = r.Read(tt, -1)
				return 0, err
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if string(answer) != "ABCABCABC" {
				t.Fatalf("answer %q", answer)
			}
		})
	}
}

// TestReadResetErrorSameInBothModes: a connection reset by the peer is
// reported by a read as the same *net.OpError (Op "read", ECONNRESET) with
// and without the poller, after the data that came before it.
func TestReadResetErrorSameInBothModes(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				bufio.NewReader(c).ReadString('\n') // wait for the client's go
				c.Write([]byte("bye\n"))
				time.Sleep(20 * time.Millisecond)
				c.(*net.TCPConn).SetLinger(0) // close with a reset
				c.Close()
			}()
			var line []byte
			var rerr error
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				r, w, err := OpenConnection(tt, ln.Addr().String())
				if err != nil {
					return 0, err
				}
				defer w.Close(tt)
				w.WriteString("go\n")
				if line, err = r.ReadLine(tt); err != nil {
					return 0, err
				}
				_, rerr = r.ReadLine(tt)
				return 0, nil
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if string(line) != "bye\n" {
				t.Fatalf("line %q before the reset", line)
			}
			var oe *net.OpError
			if !errors.As(rerr, &oe) || oe.Op != "read" || !errors.Is(rerr, syscall.ECONNRESET) {
				t.Fatalf("read after a reset: %#v (%v), want a read *net.OpError with ECONNRESET", rerr, rerr)
			}
		})
	}
}

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
	"syscall"
	"testing"
	"time"
)

// Tests of stream behaviour that must be the same with the poller and
// with goroutine readers and writers (WithoutPoller).

// TestOpenConnectionCancelledAfterDialClosesIt: the task is cancelled just
// as the dial succeeds. The connection was then dropped with the cancelled
// future's result and stayed open (until a garbage collection), so the
// peer saw neither data nor EOF; it is now closed.
func TestOpenConnectionCancelledAfterDialClosesIt(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr, accepted := acceptOne(t)
		dialed := make(chan struct{})
		proceed := make(chan struct{})
		testHookDialed = func() {
			close(dialed)
			<-proceed
		}
		defer func() { testHookDialed = nil }()
		runMain(t, m.opts, func(tt *T) (int, error) {
			opener := Go(tt, func(tt *T) (int, error) {
				_, w, err := OpenConnection(tt, addr)
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
		})
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

// TestHalfClosedWritesAfterEOF: the server reads the request to EOF (the
// client shut down its sending side) and then writes the answer; the
// client gets it, in both modes.
func TestHalfClosedWritesAfterEOF(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		var answer []byte
		runServed(t, m.opts, func(tt *T, r *StreamReader, w *StreamWriter) error {
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
		}, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
			var err error
			w.WriteString("abc")
			if err := w.CloseWrite(tt); err != nil {
				return 0, err
			}
			answer, err = r.Read(tt, -1)
			return 0, err
		})
		if string(answer) != "ABCABCABC" {
			t.Fatalf("answer %q", answer)
		}
	})
}

// TestReadResetErrorSameInBothModes: a connection reset by the peer is
// reported by a read as the same *net.OpError (Op "read", ECONNRESET) with
// and without the poller, after the data that came before it.
func TestReadResetErrorSameInBothModes(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr := tcpPeer(t, func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n') // wait for the client's go
			c.Write([]byte("bye\n"))
			time.Sleep(20 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0) // close with a reset
		})
		var line []byte
		var rerr error
		runOpen(t, m.opts, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
			var err error
			w.WriteString("go\n")
			if line, err = r.ReadLine(tt); err != nil {
				return 0, err
			}
			_, rerr = r.ReadLine(tt)
			return 0, nil
		})
		if string(line) != "bye\n" {
			t.Fatalf("line %q before the reset", line)
		}
		var oe *net.OpError
		if !errors.As(rerr, &oe) || oe.Op != "read" || !errors.Is(rerr, syscall.ECONNRESET) {
			t.Fatalf("read after a reset: %#v (%v), want a read *net.OpError with ECONNRESET", rerr, rerr)
		}
	})
}

// TestCloseWriteAfterCloseSameInBothModes: CloseWrite on a closed stream
// fails the way *net.TCPConn.CloseWrite does (a "close" *net.OpError
// wrapping net.ErrClosed), with or without the poller.
func TestCloseWriteAfterCloseSameInBothModes(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		runServed(t, m.opts, echoLines, func(tt *T, _ *StreamReader, w *StreamWriter) (int, error) {
			if err := w.Close(tt); err != nil {
				return 0, err
			}
			cerr := w.CloseWrite(tt)
			var op *net.OpError
			if !errors.As(cerr, &op) || op.Op != "close" || !errors.Is(cerr, net.ErrClosed) {
				return 0, fmt.Errorf("CloseWrite after Close: %#v", cerr)
			}
			return 0, nil
		})
	})
}

// TestStreamClosedWhileFallbackWriterWrites: a handler's big write to a
// peer that does not read goes to the writing goroutine; when Run ends the
// handler is cancelled and its stream closed under that goroutine, which
// ends; Run returns (goleak checks the rest), in both modes.
func TestStreamClosedWhileFallbackWriterWrites(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		var conn net.Conn
		defer func() {
			if conn != nil {
				conn.Close()
			}
		}()
		var err error
		hangGuard(t, 30*time.Second, func() {
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				writing := &Event{}
				srv, err := StartServer(tt, "127.0.0.1:0", func(tt *T, r *StreamReader, w *StreamWriter) error {
					w.Write(bytes.Repeat([]byte{'z'}, 16<<20))
					tt.Loop().CallSoon(writing.Set) // after the step's flush
					return w.Flush(tt)
				})
				if err != nil {
					return 0, err
				}
				conn, err = dialTCP(tt, srv.Addr().String())
				if err != nil {
					return 0, err
				}
				if err := writing.Wait(tt); err != nil {
					return 0, err
				}
				if err := Sleep(tt, 10*time.Millisecond); err != nil {
					return 0, err
				}
				return 0, nil // Run cancels the handler in Flush
			}, m.opts...)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

//go:build linux

package aio

import (
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

// TestOwnedConnStandIn: a stream the loop took over answers Conn with a
// stand-in that gives the right addresses and socket options and refuses
// I/O; the net.Conn it was made from is closed. Without the poller, Conn is
// the connection itself.
func TestOwnedConnStandIn(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					peer <- c
				}
				close(peer)
			}()
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				c, err := ToThread(tt, func(ctx context.Context) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ln.Addr().String())
				})
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOwnedWriteWaitsForRoom: a write much larger than the socket buffers,
// to a peer that reads only later, waits for EPOLLOUT on the loop (no
// goroutine) while other coroutines go on, and arrives whole.
func TestOwnedWriteWaitsForRoom(t *testing.T) {
	skipWithoutPoller(t)
	const size = 16 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	release := make(chan struct{})
	go func() {
		defer close(got)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		<-release
		b, _ := io.ReadAll(c)
		got <- b
	}()
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7)
	}
	_, err = Run(context.Background(), func(tt *T) (int, error) {
		_, w, err := OpenConnection(tt, ln.Addr().String())
		if err != nil {
			return 0, err
		}
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
	if err != nil {
		t.Fatal(err)
	}
	b := <-got
	if !bytes.Equal(b, want) {
		t.Fatalf("peer got %d bytes (equal: %v), want %d", len(b), bytes.Equal(b, want), size)
	}
}

// TestOwnedWriteErrorReported: writing to a peer that reset the connection
// fails Drain with a *net.OpError for "write", as a net.Conn would.
func TestOwnedWriteErrorReported(t *testing.T) {
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
				// Once the client is connected and has spoken, close with
				// a reset.
				c.Read(make([]byte, 1))
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
			_, err = Run(context.Background(), func(tt *T) (int, error) {
				r, w, err := OpenConnection(tt, ln.Addr().String())
				if err != nil {
					return 0, err
				}
				defer w.Close(tt)
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
			}, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

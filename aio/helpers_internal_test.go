package aio

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Helpers shared by the tests of streams, servers and the poller.

// skipWithoutPoller skips a test that needs the loop's own poller (Linux).
func skipWithoutPoller(t *testing.T) {
	t.Helper()
	if !pollSupported {
		t.Skip("no poller on " + runtime.GOOS)
	}
}

// pollMode is a way for a loop to do socket I/O: on its own poller, or on
// goroutines (WithoutPoller). poll says whether the poller is really used.
type pollMode struct {
	name string
	opts []Option
	poll bool
}

func pollModes() []pollMode {
	return []pollMode{{"poller", nil, pollSupported}, {"goroutines", []Option{WithoutPoller()}, false}}
}

// eachPollMode runs f as a subtest in each pollMode, for tests that check
// that the poller and the goroutine readers agree.
func eachPollMode(t *testing.T, f func(t *testing.T, m pollMode)) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// runMain runs main on a new loop with opts and fails the test with its
// error.
func runMain(t *testing.T, opts []Option, main func(tt *T) (int, error)) {
	t.Helper()
	if _, err := Run(context.Background(), main, opts...); err != nil {
		t.Fatal(err)
	}
}

// tcpPeer listens on a loopback port and runs peer on the first connection
// accepted, on a goroutine, then closes that connection. When the test
// ends the listener is closed and the goroutine waited for.
func tcpPeer(t *testing.T, peer func(c net.Conn)) (addr string) {
	t.Helper()
	return listenPeer(t, "tcp", "127.0.0.1:0", peer)
}

// listenPeer is tcpPeer on any network and address.
func listenPeer(t *testing.T, network, address string, peer func(c net.Conn)) (addr string) {
	t.Helper()
	ln, err := net.Listen(network, address)
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
		defer c.Close()
		peer(c)
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// acceptOne listens on a loopback port and sends the first connection
// accepted on the channel, which is closed then (or when accepting fails).
// When the test ends the listener and that connection are closed.
func acceptOne(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 1)
	var c net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		var err error
		if c, err = ln.Accept(); err == nil {
			ch <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		if c != nil {
			c.Close()
		}
	})
	return ln.Addr().String(), ch
}

// silentPeer accepts one connection and reads it until it closes.
func silentPeer(t *testing.T) (addr string) {
	return tcpPeer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// stalledPeer accepts one connection and reads nothing from it until
// release is called (or the test ends); then it reads it to the end.
func stalledPeer(t *testing.T) (addr string, release func()) {
	t.Helper()
	rel := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	addr = tcpPeer(t, func(c net.Conn) {
		<-rel
		io.Copy(io.Discard, c)
	})
	t.Cleanup(release) // runs before tcpPeer's, which waits for the peer
	return addr, release
}

// dialTCP connects to addr from a goroutine (ToThread), giving a plain
// net.Conn.
func dialTCP(tt *T, addr string) (net.Conn, error) {
	return ToThread(tt, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
}

// echoLines is a line echo handler.
func echoLines(t *T, r *StreamReader, w *StreamWriter) error {
	for {
		line, err := r.ReadLine(t)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.Write(line); err != nil {
			return err
		}
		if err := w.Drain(t); err != nil {
			return err
		}
	}
}

// hangGuard runs fn and fails the test if it has not returned after d (a
// guard against a hang, not a speed assertion).
func hangGuard(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
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

// runOpen is runMain with a stream open to addr, closed when main returns.
func runOpen(t *testing.T, opts []Option, addr string, main func(tt *T, r *StreamReader, w *StreamWriter) (int, error)) {
	t.Helper()
	runMain(t, opts, func(tt *T) (int, error) {
		r, w, err := OpenConnection(tt, addr)
		if err != nil {
			return 0, err
		}
		defer w.Close(tt)
		return main(tt, r, w)
	})
}

// runStalled is runOpen to a stalledPeer: the peer reads nothing until
// main has returned, so writes past the socket buffers wait for room.
func runStalled(t *testing.T, opts []Option, main func(tt *T, r *StreamReader, w *StreamWriter) (int, error)) {
	t.Helper()
	addr, release := stalledPeer(t)
	defer release()
	runOpen(t, opts, addr, main)
}

// runServed is runOpen to a server that runs handler on a loopback port;
// the server too is closed when main returns.
func runServed(t *testing.T, opts []Option, handler func(*T, *StreamReader, *StreamWriter) error, main func(tt *T, r *StreamReader, w *StreamWriter) (int, error)) {
	t.Helper()
	runMain(t, opts, func(tt *T) (int, error) {
		srv, err := StartServer(tt, "127.0.0.1:0", handler)
		if err != nil {
			return 0, err
		}
		defer srv.Close()
		r, w, err := OpenConnection(tt, srv.Addr().String())
		if err != nil {
			return 0, err
		}
		defer w.Close(tt)
		return main(tt, r, w)
	})
}

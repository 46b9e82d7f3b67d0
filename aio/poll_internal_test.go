package aio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Tests of the loop's own epoll poller (Linux, real clock). Each runs the
// same body with the poller and WithoutPoller where that compares the two.

// TestPollerEchoIntegrity: many connections send lines of random sizes, up
// to well past the read-ahead mark and the socket buffers (so reads pause
// and resume and writes go partial), and every echo comes back intact, in
// both modes; the poller really is used in the first.
func TestPollerEchoIntegrity(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		const clients = 30
		usedPoller := false
		runMain(t, m.opts, func(tt *T) (int, error) {
			srv, err := StartServer(tt, "127.0.0.1:0", func(tt *T, r *StreamReader, w *StreamWriter) error {
				r.Limit = 1 << 20
				return echoLines(tt, r, w)
			})
			if err != nil {
				return 0, err
			}
			usedPoller = srv.polled
			addr := srv.Addr().String()
			err = TaskGroup(tt, func(g *Group) error {
				for c := range clients {
					g.Go(func(tt *T) error {
						r, w, err := OpenConnection(tt, addr)
						if err != nil {
							return err
						}
						defer w.Close(tt)
						r.Limit = 1 << 20
						rng := rand.New(rand.NewPCG(uint64(c), 7))
						for i := range 20 {
							n := rng.IntN(200)
							if i%7 == 3 {
								n = 300_000 + rng.IntN(200_000) // past 2 x DefaultStreamLimit and the socket buffer
							}
							line := bytes.Repeat([]byte{byte('a' + c%26)}, n)
							line = append(line, fmt.Sprintf(" %d/%d\n", c, i)...)
							w.Write(line)
							if err := w.Drain(tt); err != nil {
								return err
							}
							got, err := r.ReadLine(tt)
							if err != nil {
								return fmt.Errorf("client %d line %d: %w", c, i, err)
							}
							if !bytes.Equal(got, line) {
								return fmt.Errorf("client %d line %d: %d bytes back, want %d", c, i, len(got), len(line))
							}
						}
						return nil
					})
				}
				return nil
			})
			srv.Close()
			if werr := srv.Wait(tt); err == nil {
				err = werr
			}
			return 0, err
		})
		if usedPoller != m.poll {
			t.Fatalf("server used the poller: %v, want %v", usedPoller, m.poll)
		}
	})
}

// TestPolledReadAheadPauses: a peer that sends much more than the reader
// takes does not make the loop buffer it all: read interest is switched off
// above the high-water mark and back on as the coroutine consumes.
func TestPolledReadAheadPauses(t *testing.T) {
	skipWithoutPoller(t)
	const total = 4 << 20
	addr := tcpPeer(t, func(c net.Conn) {
		chunk := bytes.Repeat([]byte{'x'}, 64<<10)
		for sent := 0; sent < total; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	pauses, maxBuf := 0, 0
	runOpen(t, nil, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
		r.Limit = 4096 // high-water mark 8 KiB
		got := 0
		for got < total {
			b, err := r.ReadN(tt, 1024)
			got += len(b)
			if err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				return 0, err
			}
			if !r.polled {
				return 0, errors.New("the reader does not use the poller")
			}
			if r.pollPaused {
				pauses++
			}
			maxBuf = max(maxBuf, len(r.buf))
			if got%(256<<10) == 0 {
				// Let the peer fill the socket while the coroutine sleeps.
				if err := Sleep(tt, 2*time.Millisecond); err != nil {
					return 0, err
				}
			}
		}
		if got != total {
			return 0, fmt.Errorf("read %d bytes, want %d", got, total)
		}
		return 0, nil
	})
	if pauses == 0 {
		t.Fatal("read interest was never paused")
	}
	// The buffer holds at most the mark plus one read's worth.
	if maxBuf > 64<<10 {
		t.Fatalf("reader buffered up to %d bytes with a high-water mark of 8 KiB", maxBuf)
	}
}

// TestPolledReaderClosedByWriterWakes: a coroutine waiting for data on a
// polled stream is woken with an error when another coroutine closes the
// stream; it does not hang.
func TestPolledReaderClosedByWriterWakes(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr := silentPeer(t)
		runOpen(t, m.opts, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
			reader := Go(tt, func(tt *T) ([]byte, error) { return r.ReadLine(tt) })
			if err := Sleep(tt, 5*time.Millisecond); err != nil {
				return 0, err
			}
			if err := w.Close(tt); err != nil {
				return 0, err
			}
			_, rerr := Await(tt, reader)
			if rerr == nil {
				return 0, errors.New("read on a closed stream returned no error")
			}
			if !errors.Is(rerr, net.ErrClosed) {
				return 0, fmt.Errorf("read error %v, want net.ErrClosed", rerr)
			}
			return 0, nil
		})
	})
}

// TestPollerThreadsafeWakeups: while the loop sleeps in epoll_wait (a
// stream waits for data that never comes), calls from other goroutines
// wake it through the eventfd; none is lost.
func TestPollerThreadsafeWakeups(t *testing.T) {
	skipWithoutPoller(t)
	addr := silentPeer(t)
	const senders, each = 8, 300
	runOpen(t, nil, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
		var err error
		reader := Go(tt, func(tt *T) ([]byte, error) { return r.ReadLine(tt) })
		if err := Yield(tt); err != nil { // the reader registers with the poller
			return 0, err
		}
		if tt.Loop().poll == nil {
			return 0, errors.New("no poller")
		}
		count := 0
		all := &Event{}
		l := tt.Loop()
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if err := l.CallSoonThreadsafe(func() {
						count++
						if count == senders*each {
							all.Set()
						}
					}); err != nil {
						panic(err)
					}
					if rand.IntN(50) == 0 {
						time.Sleep(50 * time.Microsecond) // let the loop fall asleep again
					}
				}
			}()
		}
		err = all.Wait(tt)
		wg.Wait()
		reader.Cancel()
		Await(tt, reader)
		if err != nil {
			return 0, err
		}
		if count != senders*each {
			return 0, fmt.Errorf("%d calls ran, want %d", count, senders*each)
		}
		return 0, nil
	})
}

// TestPollerTimersFire: with the loop waiting in epoll_wait, the next timer
// ends the wait (its timeout); a sleep is not cut short either.
func TestPollerTimersFire(t *testing.T) {
	skipWithoutPoller(t)
	addr := silentPeer(t)
	runOpen(t, nil, addr, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
		reader := Go(tt, func(tt *T) ([]byte, error) { return r.ReadLine(tt) })
		for range 5 {
			t0 := time.Now()
			if err := Sleep(tt, 3*time.Millisecond); err != nil {
				return 0, err
			}
			if el := time.Since(t0); el < 3*time.Millisecond {
				return 0, fmt.Errorf("a 3ms sleep returned after %v", el)
			}
		}
		if tt.Loop().poll == nil {
			return 0, errors.New("no poller")
		}
		reader.Cancel()
		_, rerr := Await(tt, reader)
		if !errors.Is(rerr, ErrCancelled) {
			return 0, fmt.Errorf("cancelled read returned %v", rerr)
		}
		return 0, nil
	})
}

// TestPollerAcceptsBursts: more connections arrive at once than one
// readiness event accepts (acceptBatch); every one is served.
func TestPollerAcceptsBursts(t *testing.T) {
	const conns = 3*acceptBatch + 5
	runMain(t, nil, func(tt *T) (int, error) {
		srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
		if err != nil {
			return 0, err
		}
		addr := srv.Addr().String()
		// Dial them all from goroutines at once, then talk on each.
		cs, err := ToThread(tt, func(ctx context.Context) ([]net.Conn, error) {
			cs := make([]net.Conn, conns)
			errs := make([]error, conns)
			var wg sync.WaitGroup
			for i := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var d net.Dialer
					cs[i], errs[i] = d.DialContext(ctx, "tcp", addr)
				}()
			}
			wg.Wait()
			for i, c := range cs {
				if c != nil {
					fmt.Fprintf(c, "hello %d\n", i)
				}
			}
			return cs, errors.Join(errs...)
		})
		defer func() {
			for _, c := range cs {
				if c != nil {
					c.Close()
				}
			}
		}()
		if err != nil {
			return 0, err
		}
		_, err = ToThread(tt, func(ctx context.Context) (int, error) {
			buf := make([]byte, 64)
			for i, c := range cs {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				want := fmt.Sprintf("hello %d\n", i)
				if _, err := io.ReadFull(c, buf[:len(want)]); err != nil {
					return 0, fmt.Errorf("connection %d: %w", i, err)
				}
				if string(buf[:len(want)]) != want {
					return 0, fmt.Errorf("connection %d echoed %q", i, buf[:len(want)])
				}
			}
			return 0, nil
		})
		srv.Close()
		return 0, err
	})
}

// TestPollerClosesItsDescriptors: a loop that used the poller (epoll,
// eventfd, duplicated sockets) leaves no descriptor open behind it.
func TestPollerClosesItsDescriptors(t *testing.T) {
	skipWithoutPoller(t)
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	run := func() {
		runMain(t, nil, func(tt *T) (int, error) {
			srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
			if err != nil {
				return 0, err
			}
			for range 5 {
				r, w, err := OpenConnection(tt, srv.Addr().String())
				if err != nil {
					return 0, err
				}
				w.WriteString("ping\n")
				if _, err := r.ReadLine(tt); err != nil {
					return 0, err
				}
				// Half of them left open for Run's end to close.
			}
			return 0, nil
		})
	}
	run() // warm up whatever the runtime opens once
	before := count()
	for range 3 {
		run()
	}
	if after := count(); after > before {
		t.Fatalf("%d descriptors open after the loops, %d before", after, before)
	}
}

// TestPollerParallelLoopsWakeups: several loops run at once, each sleeping
// in its own epoll_wait between timers, while goroutines post calls to
// them at random moments; every call runs and every loop ends.
func TestPollerParallelLoopsWakeups(t *testing.T) {
	skipWithoutPoller(t)
	const loops, senders, each = 4, 3, 200
	hangGuard(t, 60*time.Second, func() {
		var wg sync.WaitGroup
		errs := make([]error, loops)
		for i := range loops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = Run(context.Background(), func(tt *T) (int, error) {
					srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
					if err != nil {
						return 0, err
					}
					defer srv.Close()
					if tt.Loop().poll == nil {
						return 0, fmt.Errorf("loop %d has no poller", i)
					}
					count := 0
					all := &Event{}
					l := tt.Loop()
					var swg sync.WaitGroup
					for s := range senders {
						swg.Add(1)
						go func() {
							defer swg.Done()
							rng := rand.New(rand.NewPCG(uint64(i), uint64(s)))
							for range each {
								if err := l.CallSoonThreadsafe(func() {
									if count++; count == senders*each {
										all.Set()
									}
								}); err != nil {
									panic(err)
								}
								if rng.IntN(4) == 0 {
									time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
								}
							}
						}()
					}
					// Timers of their own keep changing the wait's timeout.
					ticker := Go(tt, func(tt *T) (int, error) {
						for {
							if err := Sleep(tt, 300*time.Microsecond); err != nil {
								return 0, err
							}
						}
					})
					err = all.Wait(tt)
					swg.Wait()
					ticker.Cancel()
					return 0, err
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("loop %d: %v", i, err)
			}
		}
	})
}

// TestRunCancelWakesPolledLoop: Run's context ending while the loop sits
// in epoll_wait (a read that nothing answers) wakes the loop, cancels the
// reader and returns.
func TestRunCancelWakesPolledLoop(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		addr := silentPeer(t)
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

//go:build linux

package aio

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// TestPollerStaleEventsHarmless: an event for a slot whose owner left and
// whose slot was given to a new reader (or an event for a listener with
// nothing to accept) reaches a pollReady that finds nothing to read: it
// changes nothing, wakes nobody and reports no error.
func TestPollerStaleEventsHarmless(t *testing.T) {
	skipWithoutPoller(t)
	addr1, stop1 := silentPeer(t)
	defer stop1()
	addr2, stop2 := silentPeer(t)
	defer stop2()
	_, err := Run(context.Background(), func(tt *T) (int, error) {
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
	if err != nil {
		t.Fatal(err)
	}
}

// TestStreamClosedWhileFallbackWriterWrites: a handler's big write to a
// peer that does not read goes to the writing goroutine; when Run ends the
// handler is cancelled and its stream closed under that goroutine, which
// ends; Run returns (goleak checks the rest), in both modes.
func TestStreamClosedWhileFallbackWriterWrites(t *testing.T) {
	for _, m := range pollModes() {
		t.Run(m.name, func(t *testing.T) {
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
					conn, err = ToThread(tt, func(ctx context.Context) (net.Conn, error) {
						var d net.Dialer
						return d.DialContext(ctx, "tcp", srv.Addr().String())
					})
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
}

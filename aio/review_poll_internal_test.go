//go:build linux

package aio

import (
	"math"
	"testing"
	"time"
)

// Review tests of the poller (Linux, real clock): each one failed before
// the fix named in its comment, or checks that the poller and the
// goroutine readers agree.

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

// TestPollerWakeupDuringDrainNotLost: a wakeup from another goroutine that
// lands while the loop drains the eventfd must not leave the woken flag
// set with the eventfd empty; every later wakeup would then be skipped and
// the loop would sleep through them.
func TestPollerWakeupDuringDrainNotLost(t *testing.T) {
	skipWithoutPoller(t)
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	p.sleeping.Store(true)
	p.wakeup() // a first poster writes the eventfd
	if n := p.wait(0); n != 1 {
		t.Fatalf("wait after a wakeup returned %d events", n)
	}
	testHookDrain = func(p *poller) { p.wakeup() } // a second poster, mid-drain
	p.drainWakeup()
	testHookDrain = nil
	// The loop goes back to sleep; a third poster must end that wait.
	p.wakeup()
	if n := p.wait(2 * time.Second); n != 1 {
		t.Fatalf("a wakeup after a drain was lost: wait returned %d events", n)
	}
}

// TestEpollMillisFitsInt32: epoll_wait takes an int of milliseconds; the
// wait until a timer weeks away must not wrap into a negative (endless)
// or tiny timeout.
func TestEpollMillisFitsInt32(t *testing.T) {
	skipWithoutPoller(t)
	for _, d := range []time.Duration{30 * 24 * time.Hour, 1000 * 24 * time.Hour, math.MaxInt64} {
		ms := epollMillis(d)
		if ms <= 0 || ms > math.MaxInt32 {
			t.Errorf("epollMillis(%v) = %d, want 1..MaxInt32", d, ms)
		}
	}
	if ms := epollMillis(1500 * time.Microsecond); ms != 2 {
		t.Errorf("epollMillis(1.5ms) = %d, want 2 (rounded up)", ms)
	}
	if ms := epollMillis(-1); ms != -1 {
		t.Errorf("epollMillis(-1) = %d, want -1", ms)
	}
}

//go:build linux

package poll

import (
	"math"
	"syscall"
	"testing"
	"time"
)

// TestWakeupDuringDrainNotLost: a wakeup from another goroutine that lands
// while the owner drains the eventfd must not leave the woken flag set with
// the eventfd empty; every later wakeup would then be skipped and the owner
// would sleep through them.
func TestWakeupDuringDrainNotLost(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Arm()
	p.Wakeup() // a first poster writes the eventfd
	if n := p.wait(0); n != 1 {
		t.Fatalf("wait after a wakeup returned %d events", n)
	}
	testHookDrain = func(p *Poller) { p.Wakeup() } // a second poster, mid-drain
	p.drainWakeup()
	testHookDrain = nil
	// The owner goes back to sleep; a third poster must end that wait.
	p.Wakeup()
	if n := p.wait(2 * time.Second); n != 1 {
		t.Fatalf("a wakeup after a drain was lost: wait returned %d events", n)
	}
}

// TestEpollMillisFitsInt32: epoll_wait takes an int of milliseconds; the
// wait until a timer weeks away must not wrap into a negative (endless)
// or tiny timeout.
func TestEpollMillisFitsInt32(t *testing.T) {
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

// TestWaitReportsTokensNotWakeups: Wait returns a registered descriptor's
// token and events, consumes a wake-up without reporting it, and reports
// nothing for a removed descriptor.
func TestWaitReportsTokensNotWakeups(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if err := p.Add(fds[0], 7, In); err != nil {
		t.Fatal(err)
	}
	p.Arm()
	p.Wakeup()
	if _, err := syscall.Write(fds[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	evs := p.Wait(2 * time.Second)
	if len(evs) != 1 || evs[0].Fd != 7 || evs[0].Events&In == 0 {
		t.Fatalf("Wait = %+v, want one event with token 7 and In", evs)
	}
	if p.woken.Load() {
		t.Fatal("the wake-up was not consumed")
	}
	if err := p.Modify(fds[0], 8, In); err != nil {
		t.Fatal(err)
	}
	if evs := p.Wait(0); len(evs) != 1 || evs[0].Fd != 8 {
		t.Fatalf("Wait after Modify = %+v, want token 8", evs)
	}
	p.Remove(fds[0])
	if evs := p.Wait(0); len(evs) != 0 {
		t.Fatalf("Wait after Remove = %+v, want none", evs)
	}
}

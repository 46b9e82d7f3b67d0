package aio

import (
	"context"
	"errors"
	"testing"
	"time"
)

// checkTimers verifies the bookkeeping of lazy removal: nDead equals the
// dead entries in the heap, and the heap is ordered.
func checkTimers(t *testing.T, l *Loop) {
	t.Helper()
	dead := 0
	for i := range l.timers {
		e := &l.timers[i]
		if !e.live() {
			dead++
		}
		if i > 0 && less(e, &l.timers[(i-1)/heapArity]) {
			t.Errorf("timer heap out of order at %d", i)
		}
	}
	if dead != l.nDead {
		t.Errorf("nDead = %d, dead entries in the heap = %d (of %d)", l.nDead, dead, len(l.timers))
	}
}

// Cancelled sleeps are removed lazily; the count of dead entries stays
// exact through cancellation, compaction and firing, and a dead entry
// never moves the virtual clock.
func TestSleepTimerLazyRemoval(t *testing.T) {
	const n = 500
	var fail error
	runMain(t, []Option{WithVirtualTime()}, func(tt *T) (int, error) {
		l := tt.loop
		start := tt.Now()
		ts := make([]*Task[int], n)
		for i := range ts {
			ts[i] = Go(tt, func(t *T) (int, error) {
				if err := Sleep(t, time.Hour); !errors.Is(err, ErrCancelled) {
					return 0, errors.New("a cancelled sleep did not report ErrCancelled")
				}
				// Sleep again after the cancellation: a live entry of
				// the same task next to its dead one.
				return 1, Sleep(t, time.Duration(len(ts))*time.Millisecond)
			})
		}
		if err := Yield(tt); err != nil {
			return 0, err
		}
		if len(l.timers) != n {
			fail = errors.New("sleepers are not all in the timer heap")
		}
		for i, k := range ts {
			k.Cancel()
			if i%97 == 0 {
				if err := Yield(tt); err != nil {
					return 0, err
				}
				checkTimers(t, l)
			}
		}
		s, err := awaitSum(tt, ts)
		if err != nil {
			return 0, err
		}
		checkTimers(t, l)
		if s != n {
			fail = errors.New("wrong sum")
		}
		// The hour-long sleeps were cancelled: the clock moved only by
		// the second sleeps.
		if el := tt.Now().Sub(start); el != n*time.Millisecond {
			fail = errors.New("virtual clock moved to a dead timer: " + el.String())
		}
		if len(l.timers) > 64 && len(l.timers) > 2*(len(l.timers)-l.nDead) {
			fail = errors.New("dead timers were not compacted")
		}
		return 0, nil
	})
	if fail != nil {
		t.Fatal(fail)
	}
}

// A sleep whose timer comes due in the same step in which its task is
// cancelled ends cancelled, and the entry is not counted twice.
func TestSleepCancelledWhenDue(t *testing.T) {
	runMain(t, []Option{WithVirtualTime()}, func(tt *T) (int, error) {
		l := tt.loop
		var k *Task[int]
		// Scheduled first, so it runs first at the same instant.
		l.CallLater(time.Second, func() { k.Cancel() })
		k = Go(tt, func(t *T) (int, error) { return 0, Sleep(t, time.Second) })
		_, err := Await(tt, k)
		if !errors.Is(err, ErrCancelled) {
			t.Errorf("task error = %v, want ErrCancelled", err)
		}
		checkTimersDrained(t, l)
		return 0, nil
	})
}

// More tasks finish at once than the coroutine pool keeps: the extra
// goroutines end by themselves (goleak in TestMain checks none is left).
func TestCoroutinePoolOverflow(t *testing.T) {
	n := 3 * maxPool
	v, err := Run(context.Background(), func(tt *T) (int, error) {
		ts := make([]*Task[int], n)
		for i := range ts {
			ts[i] = Go(tt, func(t *T) (int, error) { return 1, Sleep(t, time.Millisecond) })
		}
		s, err := awaitSum(tt, ts)
		if err != nil {
			return 0, err
		}
		if len(tt.loop.pool) > maxPool {
			t.Errorf("pool holds %d coroutines, more than %d", len(tt.loop.pool), maxPool)
		}
		// Run a second wave on the pooled coroutines.
		for i := range ts {
			ts[i] = Go(tt, func(t *T) (int, error) { return 1, Yield(t) })
		}
		s2, err := awaitSum(tt, ts)
		return s + s2, err
	}, WithVirtualTime())
	if err != nil || v != 2*n {
		t.Fatalf("Run = %d, %v; want %d", v, err, 2*n)
	}
}

// On the real clock: a task is cancelled while its sleep entry is still in
// the heap, and the loop then finds the entry due before the task has left
// Sleep (the entry is dead but not yet counted). The bookkeeping stays
// exact either way the timing falls.
func TestSleepCancelledThenDueRealClock(t *testing.T) {
	runMain(t, nil, func(tt *T) (int, error) {
		l := tt.loop
		k := Go(tt, func(t *T) (int, error) { return 0, Sleep(t, 20*time.Millisecond) })
		l.CallLater(time.Millisecond, func() {
			k.Cancel()
			time.Sleep(30 * time.Millisecond) // hold the loop past the sleep's deadline
		})
		_, err := Await(tt, k)
		if !errors.Is(err, ErrCancelled) {
			t.Errorf("task error = %v, want ErrCancelled", err)
		}
		checkTimers(t, l)
		if err := Sleep(tt, time.Millisecond); err != nil {
			return 0, err
		}
		checkTimersDrained(t, l)
		return 0, nil
	})
}

// FuzzSleepCancel runs a byte script of sleeping tasks, cancellations,
// sleeps of the main task and plain timers on the virtual clock: every
// sleep that is not cancelled ends exactly at its deadline, every cancelled
// one ends at once with ErrCancelled, and the dead-entry count stays exact.
func FuzzSleepCancel(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 4, 5, 201, 150, 0, 0, 7})
	f.Add([]byte{9, 9, 9, 9, 255, 254, 253, 140, 141})
	f.Add([]byte{100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212})
	f.Fuzz(func(t *testing.T, script []byte) {
		type sleeper struct {
			k         *Task[int]
			d         time.Duration
			cancelled bool
			endedAt   time.Duration // when Sleep returned
			err       error
		}
		var ss []*sleeper
		_, err := Run(context.Background(), func(tt *T) (int, error) {
			l := tt.loop
			start := tt.Now()
			for _, b := range script {
				switch {
				case b >= 200 && len(ss) > 0: // cancel one
					s := ss[int(b)%len(ss)]
					if s.k.Cancel() && s.endedAt < 0 {
						s.cancelled = true
					}
				case b >= 140 && b < 150: // the main task sleeps a little
					if err := Sleep(tt, time.Duration(b-139)*time.Second); err != nil {
						return 0, err
					}
				case b >= 150 && b < 200: // a plain timer, cancelled at once or not
					h := l.CallLater(time.Duration(b-150)*time.Second, func() {})
					if b%2 == 0 {
						h.Cancel()
					}
				default:
					s := &sleeper{d: time.Duration(b%20) * time.Second, endedAt: -1}
					s.k = Go(tt, func(t *T) (int, error) {
						at := t.Now().Sub(start)
						s.err = Sleep(t, s.d)
						s.endedAt = t.Now().Sub(start) - at
						return 0, nil
					})
					ss = append(ss, s)
				}
				checkTimers(t, l)
			}
			for _, s := range ss {
				Await(tt, s.k)
			}
			checkTimers(t, l)
			return 0, nil
		}, WithVirtualTime())
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			switch {
			case s.endedAt < 0:
				// Cancelled before it started: it never ran.
				if !s.cancelled || !s.k.Cancelled() {
					t.Fatalf("sleeper %d never ran but was not cancelled", i)
				}
			case s.cancelled && s.err != nil:
				if !errors.Is(s.err, ErrCancelled) || s.endedAt > s.d {
					t.Fatalf("sleeper %d: cancelled sleep ended after %v with %v", i, s.endedAt, s.err)
				}
			case s.err != nil:
				t.Fatalf("sleeper %d: sleep failed without a cancellation: %v", i, s.err)
			case s.d > 0 && s.endedAt != s.d:
				t.Fatalf("sleeper %d: slept %v, want %v", i, s.endedAt, s.d)
			}
		}
	})
}

// A cancellation withdrawn by Uncancel before the sleeping task ran does
// not cut the sleep short: Sleep still returns nil at its deadline, and
// the timer entry is neither lost nor counted dead.
func TestSleepCancelThenUncancel(t *testing.T) {
	runMain(t, []Option{WithVirtualTime()}, func(tt *T) (int, error) {
		l := tt.loop
		start := tt.Now()
		var slept time.Duration
		k := Go(tt, func(t *T) (int, error) {
			err := Sleep(t, time.Hour)
			slept = t.Now().Sub(start)
			return 0, err
		})
		if err := Yield(tt); err != nil {
			return 0, err
		}
		k.Cancel()
		if n := k.Uncancel(); n != 0 {
			t.Errorf("Uncancel = %d, want 0", n)
		}
		if err := Yield(tt); err != nil { // k runs and goes back to sleep
			return 0, err
		}
		checkTimers(t, l)
		if _, err := Await(tt, k); err != nil {
			t.Errorf("sleep ended with %v, want nil", err)
		}
		if slept != time.Hour {
			t.Errorf("slept %v, want 1h", slept)
		}
		checkTimersDrained(t, l)
		return 0, nil
	})
}

// The 4-ary heap pops timers in (when, seq) order whatever order they
// were pushed in, including after init (compaction).
func TestTimerHeapOrder(t *testing.T) {
	var h timerHeap
	const n = 1000
	for i := 0; i < n; i++ {
		w := int64((i * 7919) % 97)
		h.push(timerEntry{when: w, seq: uint64(i)})
	}
	// Rebuild half of it through init, as compactTimers does.
	h = h[:n/2*2]
	h.init()
	prev := timerEntry{when: -1}
	for len(h) > 0 {
		x := h.pop()
		if less(&x, &prev) {
			t.Fatalf("popped (%d,%d) after (%d,%d)", x.when, x.seq, prev.when, prev.seq)
		}
		prev = x
	}
	h.init() // empty: no panic
	h = append(h, timerEntry{when: 1})
	h.init()
	if x := h.pop(); x.when != 1 || len(h) != 0 {
		t.Fatal("single-entry heap")
	}
}

// checkTimersDrained checks the heap (checkTimers) and that every timer
// has fired and left it.
func checkTimersDrained(t *testing.T, l *Loop) {
	t.Helper()
	checkTimers(t, l)
	if l.nDead != 0 || len(l.timers) != 0 {
		t.Errorf("nDead = %d, heap = %d after everything fired", l.nDead, len(l.timers))
	}
}

// awaitSum awaits the tasks in order and returns the sum of their results,
// or the first error.
func awaitSum(tt *T, ts []*Task[int]) (int, error) {
	s := 0
	for _, k := range ts {
		v, err := Await(tt, k)
		if err != nil {
			return 0, err
		}
		s += v
	}
	return s, nil
}

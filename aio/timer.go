package aio

import (
	"math"
	"time"
)

// Handle is a scheduled callback (Python's asyncio.Handle / TimerHandle),
// returned by CallSoon, CallLater and CallAt. Loop only.
type Handle struct {
	fn        func()
	when      int64
	seq       uint64
	cancelled bool
	inHeap    bool
	loop      *Loop
}

// Cancel stops the callback from running if it has not run yet (Python's
// Handle.cancel). A cancelled timer stays in the heap until it reaches the
// top or until cancelled timers make up half of it (lazy removal, as in
// asyncio). Loop only.
func (h *Handle) Cancel() {
	if h == nil || h.cancelled {
		return
	}
	h.cancelled = true
	h.fn = nil
	if h.inHeap {
		l := h.loop
		l.nDead++
		if l.nDead > 64 && l.nDead*2 > len(l.timers) {
			l.compactTimers()
		}
	}
}

// Cancelled reports whether Cancel was called.
func (h *Handle) Cancelled() bool { return h.cancelled }

// When returns the time the callback is due (the scheduling time for
// CallSoon).
func (h *Handle) When() time.Time { return h.loop.base.Add(time.Duration(h.when)) }

// CallSoon schedules fn to run at the next iteration of the loop, after the
// work already scheduled (Python's call_soon). Loop only: from other
// goroutines use CallSoonThreadsafe.
func (l *Loop) CallSoon(fn func()) *Handle {
	h := &Handle{fn: fn, loop: l, when: l.nowNanos()}
	l.ready.push(item{h: h})
	return h
}

// CallLater schedules fn to run once d has passed on the loop's clock
// (Python's call_later). Loop only.
func (l *Loop) CallLater(d time.Duration, fn func()) *Handle {
	if d < 0 {
		d = 0
	}
	return l.callAtNanos(addNanos(l.nowNanos(), d), fn)
}

// addNanos returns now+d on the loop's clock, saturated at the largest
// time instead of wrapping around into the past.
func addNanos(now int64, d time.Duration) int64 {
	if when := now + int64(d); when >= now {
		return when
	}
	return math.MaxInt64
}

// CallAt schedules fn to run at when on the loop's clock (Python's
// call_at, with a time.Time instead of a float of loop.time()). Loop only.
func (l *Loop) CallAt(when time.Time, fn func()) *Handle {
	return l.callAtNanos(int64(when.Sub(l.base)), fn)
}

func (l *Loop) callAtNanos(when int64, fn func()) *Handle {
	l.timerSeq++
	h := &Handle{fn: fn, when: when, seq: l.timerSeq, inHeap: true, loop: l}
	l.timers.push(timerEntry{when: when, seq: l.timerSeq, h: h})
	return h
}

// sleepUntil puts a wake-up of t in the timer heap for its current wait,
// whose id (t.parkID, taken from the loop's timer sequence by newPark) is
// also the entry's sequence number. It needs no Handle: the entry itself is
// the timer, and it is live exactly while t.sleeping is set and t still
// waits for that id. Sleep clears t.sleeping on every way out, either here
// (popped) or through sleepCancelled, so a dead entry is always counted in
// nDead.
func (l *Loop) sleepUntil(t *T, when int64) {
	t.sleeping = true
	l.timers.push(timerEntry{when: when, seq: t.parkID, t: t})
}

// sleepCancelled records that the sleep entry of t left in the heap is
// dead (lazy removal, as for a cancelled Handle): its task left Sleep
// before the entry fired.
func (l *Loop) sleepCancelled(t *T) {
	if !t.sleeping {
		return
	}
	t.sleeping = false
	l.nDead++
	if l.nDead > 64 && l.nDead*2 > len(l.timers) {
		l.compactTimers()
	}
}

// live reports whether the entry still has something to do. A dead entry
// has been counted in nDead.
func (e *timerEntry) live() bool {
	if e.h != nil {
		return !e.h.cancelled
	}
	return e.t.sleeping && e.t.parkID == e.seq
}

// popped is called for an entry taken out of the heap.
func (l *Loop) popped(e *timerEntry, live bool) {
	if !live {
		l.nDead--
		if e.h != nil {
			e.h.inHeap = false
		}
		return
	}
	if e.h != nil {
		e.h.inHeap = false
	} else {
		e.t.sleeping = false
	}
}

// fireTimers moves due timers to the ready queue.
func (l *Loop) fireTimers(now int64) {
	for len(l.timers) > 0 {
		e := &l.timers[0]
		live := e.live()
		if live && e.when > now {
			return
		}
		x := l.timers.pop()
		l.popped(&x, live)
		if !live {
			continue
		}
		if x.h == nil {
			// The task may be ready already (cancelled while asleep):
			// resume then does nothing and Sleep reports the
			// cancellation.
			l.resume(x.t, x.seq)
			continue
		}
		l.ready.push(item{h: x.h})
	}
}

// nextTimer returns the due time of the earliest live timer.
func (l *Loop) nextTimer() (int64, bool) {
	for len(l.timers) > 0 {
		e := &l.timers[0]
		if e.live() {
			return e.when, true
		}
		x := l.timers.pop()
		l.popped(&x, false)
	}
	return 0, false
}

func (l *Loop) compactTimers() {
	live := l.timers[:0]
	for _, e := range l.timers {
		if !e.live() {
			if e.h != nil {
				e.h.inHeap = false
			}
			continue
		}
		live = append(live, e)
	}
	clear(l.timers[len(live):])
	l.timers = live
	l.timers.init()
	l.nDead = 0
}

// timerEntry is one timer in the heap, held by value so that ordering
// needs no pointer chasing: a callback (h) or the wake-up of a sleeping
// task (t), which needs no allocation. seq orders entries due at the same
// time in the order they were scheduled; for a sleep it is also the wait id
// of the task (see sleepUntil).
type timerEntry struct {
	when int64
	seq  uint64
	h    *Handle
	t    *T
}

// timerHeap is a 4-ary min-heap ordered by (when, seq): half as deep as a
// binary heap, so popping a timer (the hot path when many sleepers wake)
// moves an entry half as many times, over children that share cache lines.
type timerHeap []timerEntry

const heapArity = 4

func less(a, b *timerEntry) bool {
	if a.when != b.when {
		return a.when < b.when
	}
	return a.seq < b.seq
}

func (h *timerHeap) push(x timerEntry) {
	if len(*h) == cap(*h) {
		// Double the capacity: append grows big slices by only 1.25x,
		// which for a heap of 100k entries would allocate five times its
		// final size on the way.
		grown := make(timerHeap, len(*h), max(64, 2*cap(*h)))
		copy(grown, *h)
		*h = grown
	}
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	// Sift up, moving parents down into the hole; timers are mostly
	// scheduled in deadline order, so this usually stops at once.
	for i > 0 {
		p := (i - 1) / heapArity
		if !less(&x, &s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
}

func (h *timerHeap) pop() timerEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s[n] = timerEntry{}
	s = s[:n]
	*h = s
	if n > 0 {
		s.siftDown(0, last)
	}
	return top
}

// siftDown puts x at the hole i and moves it down to its place.
func (s timerHeap) siftDown(i int, x timerEntry) {
	n := len(s)
	for {
		c := heapArity*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+heapArity, n)
		for j := c + 1; j < end; j++ {
			if less(&s[j], &s[m]) {
				m = j
			}
		}
		if !less(&s[m], &x) {
			break
		}
		s[i] = s[m]
		i = m
	}
	s[i] = x
}

func (s timerHeap) init() {
	if len(s) < 2 {
		return
	}
	for i := (len(s) - 2) / heapArity; i >= 0; i-- {
		s.siftDown(i, s[i])
	}
}

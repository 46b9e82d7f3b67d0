package aio

import (
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
	return l.callAtNanos(l.nowNanos()+int64(d), fn)
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

// sleepUntil puts a wake-up of t (for its wait id) in the timer heap. It
// needs no Handle: the entry itself is the timer, and it is dead once t no
// longer waits for id (see live). t.sleeping tells whether the entry is
// still in the heap.
func (l *Loop) sleepUntil(t *T, id uint64, when int64) {
	l.timerSeq++
	t.sleeping = true
	l.timers.push(timerEntry{when: when, seq: l.timerSeq, t: t, id: id})
}

// sleepCancelled records that the sleep entry of t left in the heap is
// dead (lazy removal, as for a cancelled Handle).
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
	return e.t.state == stateParked && e.t.parkID == e.id
}

// uncounted reports whether a dead sleep entry is the current one of its
// task, not yet counted in nDead (the task is cancelled but still in Sleep).
func (e *timerEntry) uncounted() bool {
	return e.t.sleeping && e.t.parkID == e.id
}

// popped is called for an entry taken out of the heap.
func (l *Loop) popped(e *timerEntry, live bool) {
	if !live {
		if e.h == nil && e.uncounted() {
			// Its task was cancelled and has not yet left Sleep, which
			// would count it: it is no longer in the heap.
			e.t.sleeping = false
			return
		}
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
			l.resume(x.t, x.id)
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
			} else if e.uncounted() {
				e.t.sleeping = false
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
// task (t, for its wait id), which needs no allocation.
type timerEntry struct {
	when int64
	seq  uint64
	h    *Handle
	t    *T
	id   uint64
}

// timerHeap is a binary min-heap ordered by (when, seq).
type timerHeap []timerEntry

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
	for i > 0 {
		p := (i - 1) / 2
		if !less(&s[i], &s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timerEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timerEntry{}
	s = s[:n]
	*h = s
	s.down(0)
	return top
}

func (s timerHeap) down(i int) {
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && less(&s[r], &s[l]) {
			m = r
		}
		if !less(&s[m], &s[i]) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

func (s timerHeap) init() {
	for i := len(s)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
}

package aio

import (
	"time"
)

// Handle is a scheduled callback (Python's asyncio.Handle / TimerHandle),
// returned by CallSoon, CallLater and CallAt. Loop only.
type Handle struct {
	fn        func()
	t         *T // a timer that wakes a sleeping task, instead of fn
	id        uint64
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
	l.timers.push(h)
	return h
}

// fireTimers moves due timers to the ready queue.
func (l *Loop) fireTimers(now int64) {
	for len(l.timers) > 0 {
		h := l.timers[0]
		if h.cancelled {
			l.timers.pop()
			h.inHeap = false
			l.nDead--
			continue
		}
		if h.when > now {
			return
		}
		l.timers.pop()
		h.inHeap = false
		if h.t != nil {
			l.resume(h.t, h.id)
			continue
		}
		l.ready.push(item{h: h})
	}
}

// nextTimer returns the due time of the earliest live timer.
func (l *Loop) nextTimer() (int64, bool) {
	for len(l.timers) > 0 {
		h := l.timers[0]
		if !h.cancelled {
			return h.when, true
		}
		l.timers.pop()
		h.inHeap = false
		l.nDead--
	}
	return 0, false
}

func (l *Loop) compactTimers() {
	live := l.timers[:0]
	for _, h := range l.timers {
		if h.cancelled {
			h.inHeap = false
			continue
		}
		live = append(live, h)
	}
	clear(l.timers[len(live):])
	l.timers = live
	l.timers.init()
	l.nDead = 0
}

// timerHeap is a binary min-heap ordered by (when, seq).
type timerHeap []*Handle

func less(a, b *Handle) bool {
	if a.when != b.when {
		return a.when < b.when
	}
	return a.seq < b.seq
}

func (h *timerHeap) push(x *Handle) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() *Handle {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
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
		if r := l + 1; r < n && less(s[r], s[l]) {
			m = r
		}
		if !less(s[m], s[i]) {
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

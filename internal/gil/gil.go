// Package gil emulates CPython's global interpreter lock (the GIL) so that Go
// code can be run under the same rules a CPython thread obeys, and the effect
// of those rules measured instead of assumed.
//
// # The rules, as CPython applies them
//
// A CPython thread must hold the GIL to run bytecode. The holder keeps it until
// it either blocks (time.sleep, a socket read, a file read: the C code around
// the call releases the lock, Py_BEGIN_ALLOW_THREADS) or another thread asks
// for it. A thread that wants the GIL waits for the switch interval
// (sys.getswitchinterval(), 5 ms by default); if in that time no switch has
// happened, it sets a drop request. The holder checks for that request between
// bytecodes (the "eval breaker"), releases the lock, and, because CPython is
// built with FORCE_SWITCHING, does not try to take it back until another thread
// has actually taken it. So CPU-bound threads take turns and never run at the
// same time, while a thread that blocks lets the others run during its wait.
//
// # The emulation
//
// A [GIL] is the lock; a [Thread] is one goroutine's view of it, like a
// PyThreadState. CPU work is done in slices: [Thread.Run] takes the lock and
// calls the slice function repeatedly, checking for a drop request between
// slices ([Thread.Tick] is that check on its own, for loops you write
// yourself). [Thread.Blocking] and [Thread.Sleep] release the lock around a
// call. [FreeThreaded] turns the lock off, as in CPython 3.13's free-threaded
// build ("python3.13t"): threads then run their slices in parallel.
//
// The lock records a trace of [Span]s (who held it, who waited for it, who was
// blocked in I/O and when), which the lab draws as a timeline, and counts
// switches and drop requests in [Stats].
//
// Differences from CPython: the "bytecode" is whatever Go function you give
// Run, so the granularity of a slice is yours to choose (keep it well under
// the switch interval, as real bytecodes are); there is no priority given to
// the main thread, no signal handling and no pending calls; a Thread must be
// used by one goroutine at a time.
package gil

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSwitchInterval is CPython's default switch interval
// (sys.getswitchinterval() returns 0.005).
const DefaultSwitchInterval = 5 * time.Millisecond

// DefaultTraceLimit is the number of spans a GIL keeps before it stops
// recording (the count of spans it dropped is in Stats).
const DefaultTraceLimit = 200_000

// ErrBadInterval is returned for a switch interval that is not positive,
// where CPython's sys.setswitchinterval raises ValueError.
var ErrBadInterval = errors.New("gil: switch interval must be positive")

// ErrNotHeld is returned by calls that need the calling Thread to hold the
// lock when it does not.
var ErrNotHeld = errors.New("gil: thread does not hold the lock")

// Kind says what a thread was doing during a Span.
type Kind string

// The kinds of Span in a trace.
const (
	// Held: the thread held the GIL (it was running bytecode).
	Held Kind = "gil-held"
	// Wait: the thread wanted the GIL and waited for it.
	Wait Kind = "wait"
	// IO: the thread was in a blocking call with the GIL released.
	IO Kind = "io"
	// Run: the thread ran bytecode with no GIL at all (free-threaded).
	Run Kind = "run"
)

// Span is one interval of one thread's life under the lock. Start and End
// are measured from the GIL's creation.
type Span struct {
	Thread int           `json:"thread"`
	Kind   Kind          `json:"kind"`
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
}

// Stats counts what the lock did.
type Stats struct {
	// Acquisitions is how many times any thread took the lock.
	Acquisitions uint64 `json:"acquisitions"`
	// Switches is how many of those took it from a different thread than the
	// previous holder.
	Switches uint64 `json:"switches"`
	// DropRequests is how many times a waiter, after a switch interval with
	// no switch, asked the holder to drop the lock.
	DropRequests uint64 `json:"drop_requests"`
	// ForcedDrops is how many times a holder dropped the lock because it was
	// asked to (at a slice boundary).
	ForcedDrops uint64 `json:"forced_drops"`
	// SpansDropped is how many spans were not recorded because the trace was
	// full.
	SpansDropped uint64 `json:"spans_dropped"`
}

// Option configures a GIL made by New.
type Option func(*config) error

type config struct {
	interval   time.Duration
	free       bool
	traceLimit int
}

// WithSwitchInterval sets the switch interval, like sys.setswitchinterval
// (which takes seconds as a float; this takes a time.Duration). It must be
// positive.
func WithSwitchInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: got %v", ErrBadInterval, d)
		}
		c.interval = d
		return nil
	}
}

// FreeThreaded turns the lock off, like CPython 3.13's free-threaded build
// (python3.13t, PEP 703): Acquire never waits, threads run in parallel, and
// the trace records Run spans instead of Held ones.
func FreeThreaded() Option {
	return func(c *config) error { c.free = true; return nil }
}

// WithTraceLimit sets how many spans the trace keeps (0 turns tracing off).
// CPython has no such trace; it is the lab's window on the lock.
func WithTraceLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("gil: trace limit must not be negative, got %d", n)
		}
		c.traceLimit = n
		return nil
	}
}

// GIL is an emulated global interpreter lock. Its zero value is not usable;
// make one with New. All methods are safe for concurrent use.
type GIL struct {
	free     bool
	interval atomic.Int64 // nanoseconds
	drop     atomic.Bool  // gil_drop_request
	epoch    time.Time

	mu           sync.Mutex
	locked       bool
	holder       *Thread
	lastHolder   *Thread
	switchNumber uint64
	waiters      int
	changed      chan struct{} // closed and replaced on every take, drop and waiter change
	nextID       int
	traceLimit   int
	trace        []Span
	stats        Stats
}

// New makes a GIL. With no options it behaves as CPython's default build: a
// 5 ms switch interval and the lock on.
func New(opts ...Option) (*GIL, error) {
	c := config{interval: DefaultSwitchInterval, traceLimit: DefaultTraceLimit}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("gil: nil option")
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	g := &GIL{free: c.free, epoch: time.Now(), changed: make(chan struct{}), traceLimit: c.traceLimit}
	g.interval.Store(int64(c.interval))
	return g, nil
}

// SwitchInterval returns the current switch interval, like
// sys.getswitchinterval (which returns float seconds).
func (g *GIL) SwitchInterval() time.Duration { return time.Duration(g.interval.Load()) }

// SetSwitchInterval changes the switch interval, like sys.setswitchinterval.
// Waiters already waiting use the new value from their next wait on.
func (g *GIL) SetSwitchInterval(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrBadInterval, d)
	}
	g.interval.Store(int64(d))
	return nil
}

// IsFreeThreaded reports whether the lock is off (see FreeThreaded), like
// sys._is_gil_enabled() returning False.
func (g *GIL) IsFreeThreaded() bool { return g.free }

// Since returns the time elapsed since the GIL was made: the clock of its
// trace.
func (g *GIL) Since() time.Duration { return time.Since(g.epoch) }

// Epoch returns the wall-clock time the trace's clock counts from.
func (g *GIL) Epoch() time.Time { return g.epoch }

// NewThread registers a new thread with the lock, like the PyThreadState
// CPython makes for each threading.Thread. The thread starts without the
// lock. IDs are 1, 2, 3... in order of creation.
func (g *GIL) NewThread(name string) *Thread {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	if name == "" {
		name = fmt.Sprintf("Thread-%d", g.nextID)
	}
	return &Thread{g: g, id: g.nextID, name: name}
}

// Trace returns a copy of the spans recorded so far, in the order they
// ended.
func (g *GIL) Trace() []Span {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Span(nil), g.trace...)
}

// Stats returns the lock's counters.
func (g *GIL) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Holder returns the ID of the thread holding the lock, if any.
func (g *GIL) Holder() (id int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holder == nil {
		return 0, false
	}
	return g.holder.id, true
}

// broadcastLocked wakes everyone waiting on a state change. g.mu is held.
func (g *GIL) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// recordLocked appends a span. g.mu is held.
func (g *GIL) recordLocked(s Span) {
	if g.traceLimit == 0 {
		return
	}
	if len(g.trace) >= g.traceLimit {
		g.stats.SpansDropped++
		return
	}
	g.trace = append(g.trace, s)
}

func (g *GIL) record(s Span) {
	g.mu.Lock()
	g.recordLocked(s)
	g.mu.Unlock()
}

// takeLocked makes t the holder. g.mu is held and the lock is free.
func (g *GIL) takeLocked(t *Thread) {
	if g.locked {
		panic("gil: internal error: two holders")
	}
	g.locked = true
	g.holder = t
	g.switchNumber++
	g.stats.Acquisitions++
	if g.lastHolder != nil && g.lastHolder != t {
		g.stats.Switches++
	}
	g.lastHolder = t
	// As CPython does on taking the lock: a pending drop request was meant
	// for the previous holder.
	g.drop.Store(false)
	g.broadcastLocked()
}

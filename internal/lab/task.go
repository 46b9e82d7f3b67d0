package lab

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/trident-go/trident/internal/rusage"
)

// Span kinds on a timeline.
const (
	// KindRun: the lane was computing.
	KindRun = "run"
	// KindReady: the lane had computing to do but waited for a core (or,
	// in CPython, for the GIL): measured per chunk of work from the thread's
	// CPU time.
	KindReady = "ready"
	// KindWait: the lane was waiting for I/O or a timer.
	KindWait = "wait"
	// KindGILHeld: an emulated-GIL thread held the lock (it was running bytecode).
	KindGILHeld = "gil-held"
	// KindGILWait: an emulated-GIL thread waited for the lock.
	KindGILWait = "gil-wait"
)

// Span is one bar of a timeline: what one lane (a worker, thread, process or
// task) did from Start to End, in microseconds from the start of the run.
type Span struct {
	Lane    int     `json:"lane"`
	Task    int     `json:"task"`
	Kind    string  `json:"kind"`
	StartUS float64 `json:"start_us"`
	EndUS   float64 `json:"end_us"`
}

// maxSpans bounds the spans kept per row (the HTML draws them all).
const maxSpans = 4000

// recorder collects spans from many goroutines.
type recorder struct {
	epoch   int64 // UnixNano
	mu      sync.Mutex
	spans   []Span
	dropped int
}

func newRecorder() *recorder { return &recorder{epoch: time.Now().UnixNano()} }

func (r *recorder) add(s ...Span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range s {
		if len(r.spans) >= maxSpans {
			r.dropped++
			continue
		}
		r.spans = append(r.spans, x)
	}
}

// taskSpec is one task, as sent to a worker (possibly another process).
type taskSpec struct {
	Task    int
	Numbers int // how many numbers from primeBase to test for primality
	Reads   int
	URL     string
	Sleep   time.Duration
	Epoch   int64 // UnixNano of the run's start, for span times
	Parts   int   // which parts to run: partCPU|partReads|partSleep
}

const (
	partCPU = 1 << iota
	partReads
	partSleep
	partAll = partCPU | partReads | partSleep
)

// taskResult is what a task reports back.
type taskResult struct {
	Pid      int
	MaxRSSKB int64
	Primes   int
	Spans    []Span // Lane is filled in by the caller
}

func (s taskSpec) us(t time.Time) float64 { return float64(t.UnixNano()-s.Epoch) / 1e3 }

// runPlain runs the task's selected parts on the calling goroutine, the way
// ordinary blocking code does, and returns its spans.
func runPlain(ctx context.Context, s taskSpec, f *fetcher) (taskResult, error) {
	var res taskResult
	if s.Parts&partCPU != 0 && s.Numbers > 0 {
		var spans []Span
		res.Primes, spans = computeSpans(ctx, s)
		res.Spans = append(res.Spans, spans...)
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	if s.Parts&partReads != 0 && s.Reads > 0 {
		c, err := f.dial(ctx)
		if err != nil {
			return res, err
		}
		defer c.close()
		for range s.Reads {
			t0 := time.Now()
			err := c.get(ctx)
			res.Spans = append(res.Spans, Span{Task: s.Task, Kind: KindWait, StartUS: s.us(t0), EndUS: s.us(time.Now())})
			if err != nil {
				return res, err
			}
		}
	}
	if s.Parts&partSleep != 0 && s.Sleep > 0 {
		t0 := time.Now()
		err := sleepCtx(ctx, s.Sleep)
		res.Spans = append(res.Spans, Span{Task: s.Task, Kind: KindWait, StartUS: s.us(t0), EndUS: s.us(time.Now())})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// computeSpans counts the task's primes in chunks of about half a
// millisecond on a goroutine locked to its OS thread, and returns the spans:
// KindRun where the thread got CPU time for at least half of a chunk's wall
// time, KindReady where it did not (it waited for a core: more runnable
// goroutines than GOMAXPROCS, or other programs on the machine). A timeline
// then draws computing apart from waiting to compute.
func computeSpans(ctx context.Context, s taskSpec) (int, []Span) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	chunk := 4096
	lo, hi := primeBase, primeBase+s.Numbers
	primes := 0
	var spans []Span
	for lo < hi && ctx.Err() == nil {
		end := min(lo+chunk, hi)
		u0, err0 := rusage.Thread()
		t0 := time.Now()
		primes += countPrimes(lo, end)
		t1 := time.Now()
		u1, err1 := rusage.Thread()
		kind := KindRun
		if err0 == nil && err1 == nil && rusage.ThreadPrecise && u1.Sub(u0).CPU()*2 < t1.Sub(t0) {
			kind = KindReady
		}
		if n := len(spans); n > 0 && spans[n-1].Kind == kind {
			spans[n-1].EndUS = s.us(t1)
		} else {
			spans = append(spans, Span{Task: s.Task, Kind: kind, StartUS: s.us(t0), EndUS: s.us(t1)})
		}
		lo = end
	}
	return primes, spans
}

// countPrimesCtx counts in chunks so that a cancelled run stops promptly.
func countPrimesCtx(ctx context.Context, lo, hi int) int {
	c := 0
	for lo < hi {
		end := min(lo+4096, hi)
		c += countPrimes(lo, end)
		lo = end
		if ctx.Err() != nil {
			return c
		}
	}
	return c
}

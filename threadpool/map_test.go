package threadpool

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestMapOrder(t *testing.T) {
	p := newPool(t, WithWorkers(4))
	ctx := ctxGuard(t)
	var got []int
	for v, err := range Map(p, ctx, slices.Values(make([]int, 500)), func(_ context.Context, _ int) (int, error) {
		return 0, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 500 {
		t.Fatalf("%d results", len(got))
	}
	// Tasks finish out of order (random sleeps); results come in order.
	in := func(yield func(int) bool) {
		for i := range 300 {
			if !yield(i) {
				return
			}
		}
	}
	i := 0
	for v, err := range Map(p, ctx, in, func(_ context.Context, x int) (int, error) {
		time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
		return x * 10, nil
	}, WithWindow(16)) {
		if err != nil || v != i*10 {
			t.Fatalf("result %d: %v %v", i, v, err)
		}
		i++
	}
	if i != 300 {
		t.Fatalf("%d results", i)
	}
}

// counting yields 0, 1, 2, ... forever and counts what was consumed.
func counting(consumed *atomic.Int64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; ; i++ {
			consumed.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

func TestMapLazyWindow(t *testing.T) {
	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	const window = 5
	var consumed atomic.Int64
	var yielded int64
	var maxAhead int64
	var inflight, peak atomic.Int64
	for v, err := range Map(p, ctx, counting(&consumed), func(_ context.Context, x int) (int, error) {
		n := inflight.Add(1)
		if n > peak.Load() {
			peak.Store(n)
		}
		defer inflight.Add(-1)
		return x, nil
	}, WithWindow(window)) {
		if err != nil || v != int(yielded) {
			t.Fatalf("%d: %v %v", yielded, v, err)
		}
		yielded++
		if ahead := consumed.Load() - yielded; ahead > maxAhead {
			maxAhead = ahead
		}
		if yielded == 1000 {
			break
		}
	}
	// An endless input: Map read at most window inputs past those yielded.
	if maxAhead > window {
		t.Fatalf("Map read %d inputs ahead of the consumer, window %d", maxAhead, window)
	}
	if c := consumed.Load(); c > 1000+window {
		t.Fatalf("consumed %d inputs for 1000 results", c)
	}
}

func TestMapBreakCancelsInFlight(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	var ran atomic.Int32
	var sawCancel atomic.Bool
	started := make(chan struct{})
	for v, err := range Map(p, ctx, slices.Values([]int{0, 1, 2, 3, 4, 5, 6, 7}), func(c context.Context, x int) (int, error) {
		ran.Add(1)
		if x == 1 {
			close(started)
			<-c.Done() // blocked until Map's early stop cancels it
			sawCancel.Store(true)
			return 0, c.Err()
		}
		return x, nil
	}, WithWindow(4)) {
		if err != nil || v != 0 {
			t.Fatal(v, err)
		}
		// Break only once task 1 runs: breaking while it is still queued
		// would (rightly) cancel it before it starts, and it would never
		// see its context end.
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("task 1 never started")
		}
		break
	}
	waitFor(t, "in-flight task to see cancellation", sawCancel.Load)
	waitFor(t, "quiescent", func() bool { s := p.Stats(); return s.Running == 0 && s.Queued == 0 })
	if n := ran.Load(); n > 2 {
		t.Fatalf("%d tasks ran; queued ones should have been cancelled", n)
	}
}

func TestMapErrorsAndCtx(t *testing.T) {
	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	bad := errors.New("odd")
	var errs, oks int
	for _, err := range Map(p, ctx, slices.Values([]int{1, 2, 3, 4}), func(_ context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, bad
		}
		return x, nil
	}) {
		if errors.Is(err, bad) {
			errs++
		} else if err == nil {
			oks++
		}
	}
	if errs != 2 || oks != 2 {
		t.Fatalf("%d errors, %d ok", errs, oks)
	}

	// ctx ends mid-way: one ctx error, then the loop stops, the input is
	// not drained.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var consumed atomic.Int64
	var n, ctxErrs int
	for _, err := range Map(p, cctx, counting(&consumed), func(_ context.Context, x int) (int, error) { return x, nil }, WithWindow(3)) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			ctxErrs++
			continue
		}
		n++
		if n == 10 {
			cancel()
		}
	}
	if ctxErrs != 1 {
		t.Fatalf("%d ctx errors", ctxErrs)
	}
	if c := consumed.Load(); c > 10+3+1 {
		t.Fatalf("consumed %d inputs", c)
	}

	// Bad window.
	for _, err := range Map(p, ctx, slices.Values([]int{1}), func(_ context.Context, x int) (int, error) { return x, nil }, WithWindow(0)) {
		if err == nil {
			t.Fatal("WithWindow(0): no error")
		}
	}
	// Shut down pool: one error, stop.
	q, _ := New(WithWorkers(1))
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var shut int
	for _, err := range Map(q, ctx, counting(&consumed), func(_ context.Context, x int) (int, error) { return x, nil }) {
		if !errors.Is(err, ErrShutdown) {
			t.Fatal(err)
		}
		shut++
	}
	if shut != 1 {
		t.Fatalf("%d shutdown errors", shut)
	}
}

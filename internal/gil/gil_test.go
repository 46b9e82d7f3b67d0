package gil

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard is a context that ends a stuck test instead of hanging CI. It is
// never used to assert speed.
func hangGuard(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustNew(t *testing.T, opts ...Option) *GIL {
	t.Helper()
	g, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// spin burns a little CPU, like a few bytecodes.
func spin(n int) int {
	x := 0
	for i := range n {
		x += i ^ (x >> 3)
	}
	return x
}

var sink atomic.Int64

// checkNoOverlap fails if two Held spans overlap in the trace.
func checkNoOverlap(t *testing.T, tr []Span) []Span {
	t.Helper()
	var held []Span
	for _, s := range tr {
		if s.End < s.Start {
			t.Fatalf("span ends before it starts: %+v", s)
		}
		if s.Kind == Held {
			held = append(held, s)
		}
	}
	slices.SortFunc(held, func(a, b Span) int { return int(a.Start - b.Start) })
	for i := 1; i < len(held); i++ {
		if held[i].Start < held[i-1].End {
			t.Fatalf("two holders at once: %+v and %+v", held[i-1], held[i])
		}
	}
	return held
}

func TestOptions(t *testing.T) {
	g := mustNew(t)
	if g.SwitchInterval() != DefaultSwitchInterval || g.IsFreeThreaded() {
		t.Fatalf("defaults: interval %v free %v", g.SwitchInterval(), g.IsFreeThreaded())
	}
	for _, d := range []time.Duration{0, -time.Millisecond} {
		if _, err := New(WithSwitchInterval(d)); !errors.Is(err, ErrBadInterval) {
			t.Fatalf("WithSwitchInterval(%v): err %v, want ErrBadInterval", d, err)
		}
		if err := g.SetSwitchInterval(d); !errors.Is(err, ErrBadInterval) {
			t.Fatalf("SetSwitchInterval(%v): err %v", d, err)
		}
	}
	if err := g.SetSwitchInterval(time.Millisecond); err != nil || g.SwitchInterval() != time.Millisecond {
		t.Fatalf("SetSwitchInterval: %v, %v", err, g.SwitchInterval())
	}
	if _, err := New(WithTraceLimit(-1)); err == nil {
		t.Fatal("negative trace limit accepted")
	}
	if _, err := New(nil); err == nil {
		t.Fatal("nil option accepted")
	}
	if g2 := mustNew(t, FreeThreaded()); !g2.IsFreeThreaded() {
		t.Fatal("FreeThreaded not set")
	}
	th := g.NewThread("")
	if th.Name() != "Thread-1" || th.ID() != 1 {
		t.Fatalf("default name/id: %q %d", th.Name(), th.ID())
	}
}

func TestTickWithoutLock(t *testing.T) {
	g := mustNew(t)
	th := g.NewThread("a")
	if err := th.Tick(context.Background()); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Tick without lock: %v", err)
	}
	if err := th.Run(context.Background(), nil); err == nil {
		t.Fatal("nil slice accepted")
	}
	if err := th.Blocking(context.Background(), nil); err == nil {
		t.Fatal("nil blocking fn accepted")
	}
	th.Release() // no-op, must not panic
}

// CPU-bound threads under the lock take turns: never two holders, and the
// drop-request / forced-switch machinery is what makes them alternate.
func TestCPUThreadsTakeTurns(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t, WithSwitchInterval(time.Millisecond))
	var inside atomic.Int32
	var maxInside atomic.Int32
	const threads = 3
	var wg sync.WaitGroup
	for i := range threads {
		th := g.NewThread("")
		wg.Go(func() {
			defer th.Release()
			deadline := time.Now().Add(60 * time.Millisecond)
			err := th.Run(ctx, func(int) bool {
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				sink.Add(int64(spin(2000 + i)))
				inside.Add(-1)
				return time.Now().Before(deadline)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := maxInside.Load(); m != 1 {
		t.Fatalf("%d threads ran bytecode at once under the GIL", m)
	}
	st := g.Stats()
	if st.DropRequests == 0 || st.ForcedDrops == 0 || st.Switches == 0 {
		t.Fatalf("no hand-offs between CPU-bound threads: %+v", st)
	}
	// FORCE_SWITCHING: every forced drop while others wait ends in a switch.
	if st.Switches < st.ForcedDrops {
		t.Fatalf("forced drops without switches: %+v", st)
	}
	held := checkNoOverlap(t, g.Trace())
	perThread := map[int]int{}
	for _, s := range held {
		perThread[s.Thread]++
	}
	for id := 1; id <= threads; id++ {
		if perThread[id] < 2 {
			t.Fatalf("thread %d held the lock %d times; want turns: %v", id, perThread[id], perThread)
		}
	}
	if _, ok := g.Holder(); ok {
		t.Fatal("lock still held after every thread released it")
	}
}

// A blocking call releases the lock: another thread takes it while the first
// is blocked. If Blocking did not release, this test would deadlock (and the
// hang guard would fail it).
func TestBlockingReleases(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t)
	a, b := g.NewThread("a"), g.NewThread("b")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	bGotIt := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.Acquire(ctx); err != nil {
			t.Error(err)
			return
		}
		if id, _ := g.Holder(); id != b.ID() {
			t.Errorf("holder %d, want b", id)
		}
		b.Release()
		close(bGotIt)
	})
	err := a.Blocking(ctx, func(ctx context.Context) error {
		select {
		case <-bGotIt:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Holding() {
		t.Fatal("a did not take the lock back after the blocking call")
	}
	a.Release()
	var sawIO bool
	for _, s := range g.Trace() {
		if s.Kind == IO && s.Thread == a.ID() {
			sawIO = true
		}
	}
	if !sawIO {
		t.Fatal("no IO span recorded for the blocking call")
	}
	checkNoOverlap(t, g.Trace())
}

// Sleeping threads overlap their sleeps: each Sleep releases the lock.
func TestSleepersOverlap(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t)
	const n = 4
	var asleep atomic.Int32
	all := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		th := g.NewThread("")
		wg.Go(func() {
			defer th.Release()
			if err := th.Acquire(ctx); err != nil {
				t.Error(err)
				return
			}
			// Wait inside the "I/O" until all n threads are in theirs: only
			// possible if each released the lock.
			err := th.Blocking(ctx, func(ctx context.Context) error {
				if asleep.Add(1) == n {
					close(all)
				}
				select {
				case <-all:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err != nil {
				t.Error(err)
			}
			if err := th.Sleep(ctx, time.Millisecond); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestAcquireCancelled(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t, WithSwitchInterval(time.Millisecond))
	a, b, c := g.NewThread("a"), g.NewThread("b"), g.NewThread("c")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// a never ticks, so b's drop requests are never honoured.
	bctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.Acquire(bctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b.Acquire: %v, want DeadlineExceeded", err)
	}
	if b.Holding() {
		t.Fatal("b holds the lock after a cancelled Acquire")
	}
	if !g.DropRequested() {
		t.Fatal("a waiter that waited 20 switch intervals made no drop request")
	}
	// a honours the request at its next tick, but nobody waits any more:
	// FORCE_SWITCHING must not wait for a switch that cannot come.
	if err := a.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.Holding() {
		t.Fatal("a lost the lock for good after a forced drop with no waiter")
	}
	a.Release()
	if err := c.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	c.Release()
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := c.Acquire(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled ctx: %v", err)
	}
	if err := c.Run(cancelled, func(int) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled ctx: %v", err)
	}
}

// Free-threaded: two threads run "bytecode" at the same time. Under the GIL
// the rendezvous below could never complete.
func TestFreeThreadedRunsInParallel(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t, FreeThreaded())
	var arrived sync.WaitGroup
	arrived.Add(2)
	var wg sync.WaitGroup
	for range 2 {
		th := g.NewThread("")
		wg.Go(func() {
			defer th.Release()
			err := th.Run(ctx, func(int) bool {
				arrived.Done()
				arrived.Wait() // both threads inside a slice at once
				return false
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tr := g.Trace()
	runs := 0
	for _, s := range tr {
		if s.Kind == Held || s.Kind == Wait {
			t.Fatalf("free-threaded trace has a %s span: %+v", s.Kind, s)
		}
		if s.Kind == Run {
			runs++
		}
	}
	if runs != 2 {
		t.Fatalf("%d run spans, want 2", runs)
	}
	if st := g.Stats(); st.Acquisitions != 0 {
		t.Fatalf("free-threaded lock counted acquisitions: %+v", st)
	}
}

func TestTraceLimit(t *testing.T) {
	g := mustNew(t, WithTraceLimit(3))
	th := g.NewThread("")
	ctx := hangGuard(t)
	for range 5 {
		if err := th.Sleep(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(g.Trace()); n != 3 {
		t.Fatalf("%d spans kept, want 3", n)
	}
	if g.Stats().SpansDropped != 2 {
		t.Fatalf("stats: %+v", g.Stats())
	}
	off := mustNew(t, WithTraceLimit(0))
	th = off.NewThread("")
	_ = th.Sleep(ctx, 0)
	if len(off.Trace()) != 0 {
		t.Fatal("trace recorded with limit 0")
	}
}

// Stress: many threads mixing CPU slices, sleeps and blocking calls, with
// random cancellations; the invariants must hold and nothing may hang.
func TestStress(t *testing.T) {
	ctx := hangGuard(t)
	g := mustNew(t, WithSwitchInterval(200*time.Microsecond))
	var inside atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		th := g.NewThread("")
		wg.Go(func() {
			defer th.Release()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			tctx := ctx
			if i%4 == 0 {
				var cancel context.CancelFunc
				tctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(20))*time.Millisecond)
				defer cancel()
			}
			for step := range 30 {
				var err error
				switch r.IntN(3) {
				case 0:
					n := r.IntN(20)
					err = th.Run(tctx, func(j int) bool {
						if inside.Add(1) != 1 {
							t.Error("two threads inside bytecode")
						}
						sink.Add(int64(spin(500)))
						inside.Add(-1)
						return j < n
					})
				case 1:
					err = th.Sleep(tctx, time.Duration(r.IntN(300))*time.Microsecond)
				default:
					err = th.Blocking(tctx, func(context.Context) error {
						if step%7 == 0 {
							return errors.New("io failed")
						}
						return nil
					})
				}
				if err != nil && tctx.Err() == nil && err.Error() != "io failed" {
					t.Error(err)
				}
				if tctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	checkNoOverlap(t, g.Trace())
	if _, ok := g.Holder(); ok {
		t.Fatal("lock held after all threads ended")
	}
}

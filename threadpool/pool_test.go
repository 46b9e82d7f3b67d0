package threadpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
)

// hang guards only: never assertions of speed.
const guard = 20 * time.Second

func newPool(t *testing.T, opts ...Option) *Pool {
	t.Helper()
	p, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
}

func ctxGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds (hang-guarded).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewBadOptions(t *testing.T) {
	cases := []struct {
		opt  Option
		want string
	}{
		{WithWorkers(0), "WithWorkers(0)"},
		{WithWorkers(-3), "WithWorkers(-3)"},
		{WithQueueSize(-1), "WithQueueSize(-1)"},
		{WithIdleTimeout(-time.Second), "WithIdleTimeout(-1s)"},
		{WithInitializer(nil), "WithInitializer(nil)"},
	}
	for _, c := range cases {
		p, err := New(c.opt)
		if err == nil || p != nil {
			t.Fatalf("%s: got pool %v, err %v; want an error", c.want, p, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q does not name %s", err, c.want)
		}
	}
	// Several bad options: all are reported.
	_, err := New(WithWorkers(0), WithQueueSize(-2))
	if err == nil || !strings.Contains(err.Error(), "WithWorkers(0)") || !strings.Contains(err.Error(), "WithQueueSize(-2)") {
		t.Errorf("combined error %v", err)
	}
}

func TestDefaults(t *testing.T) {
	p := newPool(t)
	if w := p.Workers(); w < 5 || w > 32 {
		t.Errorf("default workers %d, want min(32, NumCPU+4)", w)
	}
	if s := p.Stats(); s.Workers != 0 {
		t.Errorf("workers started before any submit: %+v", s)
	}
}

func TestSubmitResult(t *testing.T) {
	p := newPool(t, WithWorkers(3))
	ctx := ctxGuard(t)
	var fs []*future.Future[int]
	for i := range 100 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { return i * i, nil }))
	}
	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil || v != i*i {
			t.Fatalf("task %d: %v, %v", i, v, err)
		}
		if f.State() != future.Done {
			t.Fatalf("state %v", f.State())
		}
	}
	// A future completes just before its worker counts it.
	waitFor(t, "counters", func() bool { return p.Stats().Completed == 100 })
	if s := p.Stats(); s.Submitted != 100 || s.Workers > 3 || s.Queued != 0 || s.Running != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestSubmitError(t *testing.T) {
	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	boom := errors.New("boom")
	f := Submit(p, ctx, func(context.Context) (string, error) { return "", boom })
	if _, err := f.Result(ctx); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if f.State() != future.Failed {
		t.Errorf("state %v", f.State())
	}
	waitFor(t, "failed count", func() bool { return p.Stats().Failed == 1 })
}

func TestPanicFailsOnlyItsFuture(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	bad := Submit(p, ctx, func(context.Context) (int, error) { panic("kaboom") })
	good := Submit(p, ctx, func(context.Context) (int, error) { return 7, nil })
	_, err := bad.Result(ctx)
	var pe *future.PanicError
	if !errors.As(err, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
		t.Fatalf("err %v", err)
	}
	if v, err := good.Result(ctx); v != 7 || err != nil {
		t.Fatalf("next task on the same worker: %v %v", v, err)
	}
}

func TestBadInputNoPanic(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	f := Submit[int](p, ctx, nil)
	if _, err := f.Result(ctx); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("nil fn: %v", err)
	}
	if _, err := TrySubmit[int](p, ctx, nil); err == nil {
		t.Error("TrySubmit nil fn: no error")
	}
	if err := p.Go(ctx, nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("Go nil fn: %v", err)
	}
	g := p.NewGroup(ctx)
	g.Go(nil)
	if err := g.Wait(); err == nil {
		t.Error("Group.Go nil: no error")
	}
	for _, err := range Map[int, int](p, ctx, slices.Values([]int{1}), nil) {
		if err == nil {
			t.Error("Map nil fn: no error")
		}
	}
	var np *Pool
	if _, err := Submit(np, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx); err == nil {
		t.Error("nil pool: no error")
	}
	if err := np.Go(ctx, func(context.Context) error { return nil }); err == nil {
		t.Error("nil pool Go: no error")
	}
	if err := np.Shutdown(ctx); err == nil {
		t.Error("nil pool Shutdown: no error")
	}
	np.ShutdownNow()
	// nil ctx means Background
	if v, err := Submit(p, nil, func(context.Context) (int, error) { return 3, nil }).Result(ctx); v != 3 || err != nil {
		t.Errorf("nil ctx: %v %v", v, err)
	}
}

// block returns a task that signals started and waits for release.
func block(started chan<- struct{}, release <-chan struct{}) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-release
		return 1, nil
	}
}

func TestCancelPythonSemantics(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var sawCancel atomic.Bool
	running := Submit(p, ctx, func(c context.Context) (int, error) {
		started <- struct{}{}
		select {
		case <-c.Done():
			sawCancel.Store(true)
			return 0, c.Err()
		case <-release:
			return 1, nil
		}
	})
	<-started
	var ran atomic.Bool
	pending := Submit(p, ctx, func(context.Context) (int, error) { ran.Store(true); return 2, nil })
	if !pending.Cancel() {
		t.Fatal("Cancel on a pending future returned false")
	}
	if pending.State() != future.Cancelled {
		t.Fatalf("pending state %v", pending.State())
	}
	if _, err := pending.Result(ctx); !errors.Is(err, future.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("pending err %v", err)
	}
	if running.Cancel() {
		t.Fatal("Cancel on a running future returned true")
	}
	if _, err := running.Result(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("running task did not see its ctx cancelled: %v", err)
	}
	if !sawCancel.Load() {
		t.Fatal("running task's context not cancelled")
	}
	close(release)
	// The worker skips the cancelled task and goes on.
	after := Submit(p, ctx, func(context.Context) (int, error) { return 3, nil })
	if v, err := after.Result(ctx); v != 3 || err != nil {
		t.Fatalf("after: %v %v", v, err)
	}
	if ran.Load() {
		t.Fatal("a cancelled pending task ran")
	}
	waitFor(t, "cancelled count", func() bool { return p.Stats().Cancelled == 1 })
}

// A pending task whose submit ctx is cancelled resolves at once, even while
// every worker is busy, and never occupies a worker later.
func TestPendingCtxCancelResolvesAtOnce(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	started := make(chan struct{})
	release := make(chan struct{})
	busy := Submit(p, ctx, block(started, release))
	<-started
	tctx, cancel := context.WithCancel(ctx)
	var ran atomic.Int32
	var fs []*future.Future[int]
	for range 50 {
		fs = append(fs, Submit(p, tctx, func(context.Context) (int, error) { ran.Add(1); return 1, nil }))
	}
	var gone atomic.Int32
	for range 20 {
		if err := p.Go(tctx, func(context.Context) error { gone.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for _, f := range fs {
		// Resolves while the only worker is still blocked.
		if _, err := f.Result(ctx); !errors.Is(err, future.ErrCancelled) {
			t.Fatalf("err %v", err)
		}
	}
	close(release)
	if _, err := busy.Result(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := Submit(p, ctx, func(context.Context) (int, error) { return 9, nil }).Result(ctx); v != 9 || err != nil {
		t.Fatal(v, err)
	}
	if ran.Load() != 0 || gone.Load() != 0 {
		t.Fatalf("cancelled tasks ran: %d futures, %d Go", ran.Load(), gone.Load())
	}
	waitFor(t, "stats", func() bool { s := p.Stats(); return s.Cancelled == 70 && s.Queued == 0 })
}

func TestSubmitWithDoneCtx(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil })
	if f.State() != future.Cancelled {
		t.Fatalf("state %v", f.State())
	}
	if err := p.Go(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Go: %v", err)
	}
	if _, err := TrySubmit(p, ctx, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("TrySubmit: %v", err)
	}
}

func TestResultCtxCancelReturnsPromptly(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	started := make(chan struct{})
	release := make(chan struct{})
	f := Submit(p, context.Background(), block(started, release))
	<-started
	wctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if _, err := f.Result(wctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if f.State() != future.Running {
		t.Fatalf("waiting is not owning: state %v", f.State())
	}
	close(release)
	if v, err := f.Result(ctxGuard(t)); v != 1 || err != nil {
		t.Fatal(v, err)
	}
}

func TestQueueBound(t *testing.T) {
	p := newPool(t, WithWorkers(1), WithQueueSize(2))
	ctx := ctxGuard(t)
	started := make(chan struct{})
	release := make(chan struct{})
	busy := Submit(p, ctx, block(started, release))
	<-started
	q1, err := TrySubmit(p, ctx, func(context.Context) (int, error) { return 1, nil })
	if err != nil {
		t.Fatal(err)
	}
	q2 := Submit(p, ctx, func(context.Context) (int, error) { return 2, nil })
	if f, err := TrySubmit(p, ctx, func(context.Context) (int, error) { return 3, nil }); !errors.Is(err, ErrQueueFull) || f != nil {
		t.Fatalf("TrySubmit on a full queue: %v %v", f, err)
	}
	if s := p.Stats(); s.Queued != 2 || s.Running != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Submit blocks while full, until its ctx ends.
	sctx, scancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer scancel()
	f := Submit(p, sctx, func(context.Context) (int, error) { return 4, nil })
	if _, err := f.Result(ctx); !errors.Is(err, context.DeadlineExceeded) || f.State() != future.Cancelled {
		t.Fatalf("blocked submit: %v %v", f.State(), err)
	}
	if err := p.Go(sctx, func(context.Context) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked Go: %v", err)
	}
	// A blocked Submit goes through once room frees up.
	res := make(chan *future.Future[int])
	go func() { res <- Submit(p, ctx, func(context.Context) (int, error) { return 5, nil }) }()
	close(release)
	late := <-res
	for i, f := range []*future.Future[int]{busy, q1, q2, late} {
		if _, err := f.Result(ctx); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
}

func TestBlockedSubmitSeesShutdown(t *testing.T) {
	p := newPool(t, WithWorkers(1), WithQueueSize(1))
	ctx := ctxGuard(t)
	started := make(chan struct{})
	release := make(chan struct{})
	Submit(p, ctx, block(started, release))
	<-started
	Submit(p, ctx, func(context.Context) (int, error) { return 1, nil })
	res := make(chan error)
	go func() { res <- p.Go(ctx, func(context.Context) error { return nil }) }()
	waitFor(t, "a blocked submitter", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.space != nil
	})
	p.ShutdownNow()
	if err := <-res; !errors.Is(err, ErrShutdown) {
		t.Fatalf("blocked Go after shutdown: %v", err)
	}
	close(release)
}

func TestShutdownFinishesQueuedWork(t *testing.T) {
	p, err := New(WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxGuard(t)
	var done atomic.Int32
	var fs []*future.Future[int]
	for range 200 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) {
			time.Sleep(10 * time.Microsecond)
			done.Add(1)
			return 1, nil
		}))
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 200 {
		t.Fatalf("Shutdown returned with %d of 200 done", done.Load())
	}
	for _, f := range fs {
		if f.State() != future.Done {
			t.Fatal(f.State())
		}
	}
	if _, err := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx); !errors.Is(err, ErrShutdown) {
		t.Fatalf("submit after shutdown: %v", err)
	}
	if err := p.Go(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Go after shutdown: %v", err)
	}
	if s := p.Stats(); s.Workers != 0 || s.Completed != 200 {
		t.Fatalf("stats %+v", s)
	}
	if err := p.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestShutdownCtxEnds(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	started := make(chan struct{})
	release := make(chan struct{})
	f := Submit(p, context.Background(), block(started, release))
	<-started
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	close(release)
	if _, err := f.Result(ctxGuard(t)); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownNowCancelsPending(t *testing.T) {
	p := newPool(t, WithWorkers(1))
	ctx := ctxGuard(t)
	started := make(chan struct{})
	release := make(chan struct{})
	running := Submit(p, ctx, block(started, release))
	<-started
	var fs []*future.Future[int]
	for range 10 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }))
	}
	g := p.NewGroup(ctx)
	g.Go(func(context.Context) error { return nil })
	p.ShutdownNow()
	for _, f := range fs {
		if f.State() != future.Cancelled {
			t.Fatalf("pending future after ShutdownNow: %v", f.State())
		}
	}
	close(release)
	if v, err := running.Result(ctx); v != 1 || err != nil {
		t.Fatalf("running task: %v %v", v, err)
	}
	if err := g.Wait(); !errors.Is(err, future.ErrCancelled) || !errors.Is(err, ErrShutdown) {
		t.Fatalf("group: %v", err)
	}
	if _, err := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx); !errors.Is(err, ErrShutdown) {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Cancelled != 11 || s.Completed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInitializer(t *testing.T) {
	var inits atomic.Int32
	p := newPool(t, WithWorkers(3), WithInitializer(func(ctx context.Context) error {
		inits.Add(1)
		return nil
	}))
	ctx := ctxGuard(t)
	var fs []*future.Future[int]
	for range 50 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { time.Sleep(time.Microsecond); return 1, nil }))
	}
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	// Every started worker runs the initializer once, before its first task
	// (a worker just started may not have run it yet: wait).
	waitFor(t, "one initializer run per worker", func() bool {
		n, w := inits.Load(), p.Stats().Workers
		return n >= 1 && int(n) == w
	})
}

func TestInitializerFailureBreaksPool(t *testing.T) {
	cause := errors.New("no database")
	gate := make(chan struct{})
	p := newPool(t, WithWorkers(2), WithInitializer(func(ctx context.Context) error {
		<-gate
		return cause
	}))
	ctx := ctxGuard(t)
	var fs []*future.Future[int]
	for range 10 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }))
	}
	g := p.NewGroup(ctx)
	g.Go(func(context.Context) error { return nil })
	close(gate)
	for _, f := range fs {
		_, err := f.Result(ctx)
		if !errors.Is(err, ErrBrokenPool) || !errors.Is(err, cause) {
			t.Fatalf("pending task: %v", err)
		}
	}
	if err := g.Wait(); !errors.Is(err, ErrBrokenPool) {
		t.Fatalf("group: %v", err)
	}
	_, err := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx)
	if !errors.Is(err, ErrBrokenPool) || !errors.Is(err, cause) {
		t.Fatalf("later submit: %v", err)
	}
	if err := p.Go(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrBrokenPool) {
		t.Fatalf("later Go: %v", err)
	}
	if _, err := TrySubmit(p, ctx, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ErrBrokenPool) {
		t.Fatalf("later TrySubmit: %v", err)
	}
	waitFor(t, "workers gone", func() bool { return p.Stats().Workers == 0 })
	if s := p.Stats(); s.Failed != 11 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInitializerPanicBreaksPool(t *testing.T) {
	p := newPool(t, WithWorkers(1), WithInitializer(func(ctx context.Context) error { panic("init boom") }))
	ctx := ctxGuard(t)
	_, err := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx)
	var pe *future.PanicError
	if !errors.Is(err, ErrBrokenPool) || !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
}

func TestIdleRetirement(t *testing.T) {
	p := newPool(t, WithWorkers(4), WithIdleTimeout(5*time.Millisecond))
	ctx := ctxGuard(t)
	var fs []*future.Future[int]
	for range 100 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { time.Sleep(100 * time.Microsecond); return 1, nil }))
	}
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "idle workers to retire", func() bool { return p.Stats().Workers == 0 })
	// The pool starts workers again on demand, and counters survive.
	if v, err := Submit(p, ctx, func(context.Context) (int, error) { return 5, nil }).Result(ctx); v != 5 || err != nil {
		t.Fatal(v, err)
	}
	waitFor(t, "counters", func() bool { return p.Stats().Completed == 101 })
}

func TestLockOSThread(t *testing.T) {
	p := newPool(t, WithWorkers(2), WithLockOSThread(), WithIdleTimeout(time.Millisecond))
	ctx := ctxGuard(t)
	var fs []*future.Future[int]
	for range 20 {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }))
	}
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "locked workers to retire", func() bool { return p.Stats().Workers == 0 })
}

func TestWorkerBound(t *testing.T) {
	const workers = 3
	p := newPool(t, WithWorkers(workers))
	ctx := ctxGuard(t)
	var cur, peak atomic.Int32
	g := p.NewGroup(ctx)
	for range 300 {
		g.Go(func(context.Context) error {
			n := cur.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(20 * time.Microsecond)
			cur.Add(-1)
			return nil
		})
		if w := p.Stats().Workers; w > workers {
			t.Fatalf("%d workers", w)
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if peak.Load() > workers {
		t.Fatalf("%d tasks ran at once with %d workers", peak.Load(), workers)
	}
}

func TestGoErrorsAndPanics(t *testing.T) {
	var mu sync.Mutex
	var got []error
	p := newPool(t, WithWorkers(2), WithErrorHandler(func(err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))
	ctx := ctxGuard(t)
	boom := errors.New("boom")
	if err := p.Go(ctx, func(context.Context) error { return boom }); err != nil {
		t.Fatal(err)
	}
	if err := p.Go(ctx, func(context.Context) error { panic("go panic") }); err != nil {
		t.Fatal(err)
	}
	if err := p.Go(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "handled errors", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	var pe *future.PanicError
	mu.Lock()
	if !slices.ContainsFunc(got, func(e error) bool { return errors.Is(e, boom) }) ||
		!slices.ContainsFunc(got, func(e error) bool { return errors.As(e, &pe) }) {
		t.Errorf("handled %v", got)
	}
	mu.Unlock()
	waitFor(t, "stats", func() bool { s := p.Stats(); return s.Failed == 2 && s.Completed == 1 })
}

func TestGroup(t *testing.T) {
	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	g := p.NewGroup(ctx)
	var n atomic.Int32
	for range 100 {
		g.Go(func(context.Context) error { n.Add(1); return nil })
	}
	if err := g.Wait(); err != nil || n.Load() != 100 {
		t.Fatalf("%v, %d ran", err, n.Load())
	}

	// First error wins and cancels the group's context.
	g = p.NewGroup(ctx)
	first := errors.New("first")
	started := make(chan struct{})
	var sawCancel atomic.Bool
	g.Go(func(c context.Context) error {
		close(started)
		<-c.Done()
		sawCancel.Store(true)
		return errors.New("second")
	})
	<-started
	g.Go(func(context.Context) error { return first })
	if err := g.Wait(); err != first {
		t.Fatalf("group error %v, want first", err)
	}
	if !sawCancel.Load() {
		t.Fatal("running task did not see the group's context cancelled")
	}

	// Parent ctx cancelled: queued group tasks are skipped.
	pctx, cancel := context.WithCancel(ctx)
	g = p.NewGroup(pctx)
	cancel()
	g.Go(func(context.Context) error { t.Error("ran after cancel"); return nil })
	if err := g.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled group: %v", err)
	}
}

func TestStatsRunningQueued(t *testing.T) {
	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	for range 2 {
		Submit(p, ctx, block(started, release))
	}
	<-started
	<-started
	for range 3 {
		Submit(p, ctx, func(context.Context) (int, error) { return 1, nil })
	}
	s := p.Stats()
	if s.Running != 2 || s.Queued != 3 || s.Workers != 2 || s.Submitted != 5 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(p.String(), "running: 2") {
		t.Errorf("String %q", p.String())
	}
	close(release)
	waitFor(t, "all done", func() bool { s := p.Stats(); return s.Completed == 5 && s.Running == 0 && s.Queued == 0 })
	waitFor(t, "idle", func() bool { return p.Stats().Idle == 2 })
}

// Many goroutines submit through every path at once while some cancel.
func TestStress(t *testing.T) {
	p := newPool(t, WithWorkers(4), WithQueueSize(64), WithIdleTimeout(time.Millisecond))
	ctx := ctxGuard(t)
	const goroutines, per = 16, 300
	var ran atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for gi := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs []*future.Future[int]
			g := p.NewGroup(ctx)
			for i := range per {
				switch i % 4 {
				case 0:
					fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) { ran.Add(1); return i, nil }))
				case 1:
					f := Submit(p, ctx, func(context.Context) (int, error) { ran.Add(1); return i, nil })
					f.Cancel() // may or may not win: either way the future is final later
					fs = append(fs, f)
				case 2:
					g.Go(func(context.Context) error { ran.Add(1); return nil })
				case 3:
					if f, err := TrySubmit(p, ctx, func(context.Context) (int, error) { ran.Add(1); return i, nil }); err == nil {
						fs = append(fs, f)
					} else if !errors.Is(err, ErrQueueFull) {
						errs <- err
						return
					}
				}
			}
			if err := g.Wait(); err != nil {
				errs <- fmt.Errorf("goroutine %d group: %w", gi, err)
			}
			for _, f := range fs {
				v, err := f.Result(ctx)
				if err != nil && !errors.Is(err, future.ErrCancelled) {
					errs <- err
					return
				}
				if err == nil && v < 0 {
					errs <- errors.New("bad value")
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "quiescent", func() bool { s := p.Stats(); return s.Queued == 0 && s.Running == 0 })
	s := p.Stats()
	if s.Completed != uint64(ran.Load()) || s.Submitted != s.Completed+s.Cancelled+s.Failed {
		t.Fatalf("stats %+v, ran %d", s, ran.Load())
	}
}

// Shutdown racing with submitters: every accepted task runs or is
// cancelled; every refused one reports ErrShutdown; nothing hangs.
func TestStressShutdownRace(t *testing.T) {
	for round := range 20 {
		p, err := New(WithWorkers(3))
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxGuard(t)
		var wg sync.WaitGroup
		var fs [4][]*future.Future[int]
		for gi := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					fs[gi] = append(fs[gi], Submit(p, ctx, func(context.Context) (int, error) { return i, nil }))
				}
			}()
		}
		if round%2 == 0 {
			p.ShutdownNow()
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, list := range fs {
			for _, f := range list {
				_, err := f.Result(ctx)
				if err != nil && !errors.Is(err, ErrShutdown) && !errors.Is(err, future.ErrCancelled) {
					t.Fatal(err)
				}
			}
		}
		if s := p.Stats(); s.Workers != 0 || s.Queued != 0 {
			t.Fatalf("after shutdown %+v", s)
		}
	}
}

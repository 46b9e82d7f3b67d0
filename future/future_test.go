package future

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const guard = 20 * time.Second // hang guard only

func gctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

func TestStates(t *testing.T) {
	for s, want := range map[State]string{Pending: "pending", Running: "running", Done: "done", Failed: "failed", Cancelled: "cancelled", State(9): "State(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
	if Pending.Final() || Running.Final() || !Done.Final() || !Failed.Final() || !Cancelled.Final() {
		t.Error("Final")
	}
	ctx := gctx(t)
	var nilCtx context.Context // nil means Background
	f := newFuture[int](nilCtx)
	if f.State() != Pending || f.Finished() || f.Err() != nil {
		t.Fatal(f.State())
	}
	if _, _, ok := f.Value(); ok {
		t.Fatal("Value ok while pending")
	}
	if !f.start() || f.State() != Running {
		t.Fatal("Start")
	}
	if f.start() {
		t.Fatal("second Start")
	}
	if !f.complete(42, nil) || f.State() != Done || !f.Finished() {
		t.Fatal("Complete")
	}
	if f.complete(1, nil) {
		t.Fatal("second Complete")
	}
	if v, err := f.Result(ctx); v != 42 || err != nil {
		t.Fatal(v, err)
	}
	if v, err, ok := f.Value(); v != 42 || err != nil || !ok {
		t.Fatal(v, err, ok)
	}
	if f.String() != "future[done]" {
		t.Error(f.String())
	}
	boom := errors.New("boom")
	g := newFuture[string](ctx)
	g.complete("ignored", boom)
	if g.State() != Failed || !errors.Is(g.Err(), boom) {
		t.Fatal(g.State(), g.Err())
	}
	if r := Resolved(5, nil); r.State() != Done {
		t.Fatal(r.State())
	}
	if r := Resolved(0, boom); r.State() != Failed || r.Err() != boom {
		t.Fatal(r.State())
	}
}

func TestRunAndPanic(t *testing.T) {
	ctx := gctx(t)
	f := newFuture[int](ctx)
	if !f.run(func(c context.Context) (int, error) {
		if f.State() != Running {
			t.Error("not running inside Run")
		}
		return 7, nil
	}) {
		t.Fatal("Run false")
	}
	if v, _ := f.Result(ctx); v != 7 {
		t.Fatal(v)
	}
	if f.run(func(context.Context) (int, error) { t.Error("ran twice"); return 0, nil }) {
		t.Fatal("second Run true")
	}

	p := newFuture[int](ctx)
	p.run(func(context.Context) (int, error) { panic("oops") })
	var pe *PanicError
	if err := p.Err(); !errors.As(err, &pe) || pe.Value != "oops" || !strings.Contains(pe.Error(), "oops") || len(pe.Stack) == 0 {
		t.Fatalf("%v", err)
	}
	if pe.Unwrap() != nil {
		t.Error("Unwrap of a non-error panic")
	}
	sentinel := errors.New("sentinel")
	q := newFuture[int](ctx)
	q.run(func(context.Context) (int, error) { panic(sentinel) })
	if !errors.Is(q.Err(), sentinel) {
		t.Fatalf("panic(err) not unwrapped: %v", q.Err())
	}
}

func TestCancelSemantics(t *testing.T) {
	ctx := gctx(t)
	// Pending: Cancel wins, returns true, the task never runs.
	f := newFuture[int](ctx)
	if !f.Cancel() || f.State() != Cancelled || !f.Cancelled() {
		t.Fatal("cancel pending")
	}
	if f.Cancel() {
		t.Fatal("second Cancel true")
	}
	if f.run(func(context.Context) (int, error) { t.Error("cancelled ran"); return 0, nil }) {
		t.Fatal("Run after cancel")
	}
	if _, err := f.Result(ctx); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) || !IsCancelled(err) {
		t.Fatal(err)
	}
	// Running: Cancel returns false but cancels the task's context.
	g := newFuture[int](ctx)
	started := make(chan struct{})
	res := make(chan bool)
	go func() {
		res <- g.run(func(c context.Context) (int, error) {
			close(started)
			<-c.Done()
			return -1, c.Err()
		})
	}()
	<-started
	if g.Cancel() {
		t.Fatal("Cancel on running returned true")
	}
	if !<-res {
		t.Fatal("Run false")
	}
	if g.State() != Failed || !errors.Is(g.Err(), context.Canceled) {
		t.Fatal(g.State(), g.Err())
	}
	// Final: Cancel false, nothing changes.
	h := Resolved(1, nil)
	if h.Cancel() || h.State() != Done {
		t.Fatal("cancel final")
	}
	// CancelCause keeps the reason.
	c := newFuture[int](ctx)
	if !(Resolver[int]{c}).CancelCause(context.DeadlineExceeded) || !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(c.Err(), ErrCancelled) {
		t.Fatal(c.Err())
	}
	if CancelledError(nil) != ErrCancelled {
		t.Error("CancelledError(nil)")
	}
	if !strings.Contains(CancelledError(errors.New("why")).Error(), "why") {
		t.Error("cause not in message")
	}
}

// Cancel and Start race: exactly one wins, and a task that started is
// never reported cancelled.
func TestCancelStartRace(t *testing.T) {
	for range 2000 {
		f := newFuture[int](context.Background())
		var wg sync.WaitGroup
		var ran, cancelled bool
		wg.Add(2)
		go func() { defer wg.Done(); ran = f.run(func(context.Context) (int, error) { return 1, nil }) }()
		go func() { defer wg.Done(); cancelled = f.Cancel() }()
		wg.Wait()
		if ran == cancelled {
			t.Fatalf("ran=%v cancelled=%v", ran, cancelled)
		}
		if cancelled && f.State() != Cancelled || ran && f.State() != Done {
			t.Fatalf("state %v (ran=%v)", f.State(), ran)
		}
	}
}

func TestParentCtx(t *testing.T) {
	// Already ended: born cancelled with the cause.
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	if f := newFuture[int](dead); f.State() != Cancelled || !errors.Is(f.Err(), context.Canceled) {
		t.Fatal(f.State())
	}
	// Ends while pending: cancelled at once, wrapping the ctx error.
	ctx := gctx(t)
	pctx, pcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer pcancel()
	f := newFuture[int](pctx)
	<-f.Done()
	if f.State() != Cancelled || !errors.Is(f.Err(), context.DeadlineExceeded) || !errors.Is(f.Err(), ErrCancelled) {
		t.Fatal(f.State(), f.Err())
	}
	// Ends while running: the task's context is cancelled, the future is not.
	rctx, rcancel := context.WithCancel(context.Background())
	g := newFuture[int](rctx)
	started := make(chan struct{})
	go g.run(func(c context.Context) (int, error) {
		close(started)
		<-c.Done()
		return 0, c.Err()
	})
	<-started
	rcancel()
	if _, err := g.Result(ctx); !errors.Is(err, context.Canceled) || g.State() != Failed {
		t.Fatal(g.State(), err)
	}
	// The task context carries the parent's values and deadline.
	type key struct{}
	dctx, dcancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), time.Now().Add(time.Hour))
	defer dcancel()
	h := newFuture[int](dctx)
	tc := (Resolver[int]{h}).Context()
	if tc.Value(key{}) != "v" {
		t.Error("value lost")
	}
	if d, ok := tc.Deadline(); !ok || d.IsZero() {
		t.Error("deadline lost")
	}
	if tc.Err() != nil {
		t.Error("task ctx err while pending")
	}
	h.run(func(context.Context) (int, error) { return 1, nil })
	if tc.Err() == nil {
		t.Error("task ctx not cancelled after completion")
	}
	select {
	case <-tc.Done():
	default:
		t.Error("task ctx Done not closed after completion")
	}
	if fmt.Sprint(tc) == "" {
		t.Error("String")
	}
}

func TestResultCtx(t *testing.T) {
	f := newFuture[int](context.Background())
	wctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(2 * time.Millisecond); cancel() }()
	if _, err := f.Result(wctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if f.State() != Pending {
		t.Fatal("waiting is not owning")
	}
	go func() { time.Sleep(time.Millisecond); f.complete(3, nil) }()
	//lint:ignore SA1012 nil ctx means Background
	if v, err := f.Result(nil); v != 3 || err != nil { //nolint:staticcheck
		t.Fatal(v, err)
	}
}

func TestCallbacks(t *testing.T) {
	f := newFuture[int](context.Background())
	var order []int
	for i := range 3 {
		f.AddDoneCallback(func(g *Future[int]) {
			if g != f || !g.Finished() {
				t.Error("callback before final")
			}
			order = append(order, i)
		})
	}
	if len(order) != 0 {
		t.Fatal("callback ran early")
	}
	f.complete(1, nil)
	if fmt.Sprint(order) != "[0 1 2]" {
		t.Fatalf("order %v", order)
	}
	// Already final: called at once, in the caller's goroutine.
	called := false
	f.OnDone(func() { called = true })
	if !called {
		t.Fatal("not called at once")
	}
	// Cancellation runs callbacks too.
	g := newFuture[int](context.Background())
	n := 0
	g.OnDone(func() { n++ })
	g.Cancel()
	if n != 1 {
		t.Fatal(n)
	}
}

func TestDoneChannel(t *testing.T) {
	f := newFuture[int](context.Background())
	d := f.Done()
	if d != f.Done() {
		t.Fatal("Done not stable")
	}
	select {
	case <-d:
		t.Fatal("closed early")
	default:
	}
	f.complete(1, nil)
	<-d
	<-Resolved(1, nil).Done()
}

// Many goroutines wait, cancel and complete the same futures at once.
func TestStress(t *testing.T) {
	ctx := gctx(t)
	for range 200 {
		pctx, cancel := context.WithCancel(ctx)
		f := newFuture[int](pctx)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					f.run(func(context.Context) (int, error) { return 1, nil })
				case 1:
					f.Cancel()
				case 2:
					cancel()
				default:
					f.Result(ctx)
				}
			}()
		}
		wg.Wait()
		<-f.Done()
		if s := f.State(); s != Done && s != Cancelled {
			t.Fatal(s)
		}
		cancel()
	}
}

package future

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func ncbs[T any](f *Future[T]) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cbs)
}

func TestAfterDone(t *testing.T) {
	f := newFuture[int](context.Background())
	var order []string
	f.OnDone(func() { order = append(order, "a") })
	stopB := f.onDoneStop(func() { order = append(order, "b") })
	stopC := f.onDoneStop(func() { order = append(order, "c") })
	f.OnDone(func() { order = append(order, "d") })
	if !stopB() {
		t.Fatal("stop of a pending callback reported false")
	}
	if stopB() {
		t.Fatal("second stop reported true")
	}
	f.complete(1, nil)
	if got := len(order); got != 3 || order[0] != "a" || order[1] != "c" || order[2] != "d" {
		t.Fatalf("callbacks ran as %v, want [a c d]", order)
	}
	if stopC() {
		t.Fatal("stop after the callback ran reported true")
	}
	called := false
	stop := f.onDoneStop(func() { called = true })
	if !called {
		t.Fatal("AfterDone on a final future did not call fn at once")
	}
	if stop() {
		t.Fatal("stop on a final future reported true")
	}
}

// TestWaitDoesNotAccumulateCallbacks calls Wait many times on the same
// pending futures (returning by ctx timeout, by one completing, and the
// usual "wait for the first, drop it, repeat" loop) and checks that no
// callback is left behind on the futures still pending.
func TestWaitDoesNotAccumulateCallbacks(t *testing.T) {
	fs := pendings(50)
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// The states say "not satisfied", so Wait registers, sees ctx
		// ended and returns.
		if _, notDone, err := Wait(ctx, fs, AllCompleted); err == nil || len(notDone) != len(fs) {
			t.Fatalf("Wait with an ended ctx: %d not done, err %v", len(notDone), err)
		}
	}
	for i, f := range fs {
		if n := ncbs(f); n != 0 {
			t.Fatalf("future %d holds %d callbacks after 200 cancelled Waits", i, n)
		}
	}

	// First-completed loop: each round one future completes.
	ctx := gctx(t)
	rest := fs
	for len(rest) > 0 {
		go rest[len(rest)/2].complete(1, nil)
		done, notDone, err := Wait(ctx, rest, FirstCompleted)
		if err != nil || len(done) == 0 {
			t.Fatalf("FirstCompleted: %d done, err %v", len(done), err)
		}
		for _, f := range notDone {
			if n := ncbs(f); n != 0 {
				t.Fatalf("a pending future holds %d callbacks after Wait returned", n)
			}
		}
		rest = notDone
	}
}

func TestAsCompletedBreakLeavesNoCallbacks(t *testing.T) {
	ctx := gctx(t)
	for range 100 {
		fs := pendings(20)
		fs[3].complete(3, nil)
		for f, err := range AsCompleted(ctx, fs) {
			if err != nil || f != fs[3] {
				t.Fatalf("got %v, %v", f, err)
			}
			break
		}
		for i, f := range fs {
			if n := ncbs(f); n != 0 {
				t.Fatalf("future %d holds %d callbacks after an early break", i, n)
			}
		}
	}
	// And when ctx ends first.
	fs := pendings(5)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range AsCompleted(cctx, fs) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	}
	for i, f := range fs {
		if n := ncbs(f); n != 0 {
			t.Fatalf("future %d holds %d callbacks after ctx ended", i, n)
		}
	}
}

// plainWaitable is a Waitable of another package's kind: it has OnDone
// but no AfterDone, and counts the callbacks registered on it.
type plainWaitable struct {
	f   *Future[int]
	reg atomic.Int64
}

func (p *plainWaitable) Done() <-chan struct{} { return p.f.Done() }
func (p *plainWaitable) State() State          { return p.f.State() }
func (p *plainWaitable) Err() error            { return p.f.Err() }
func (p *plainWaitable) OnDone(fn func())      { p.reg.Add(1); p.f.OnDone(fn) }

// valueWaitable is not comparable (it holds a slice): it can only be
// waited on with plain OnDone.
type valueWaitable struct {
	f   *Future[int]
	tag []int
}

func (v valueWaitable) Done() <-chan struct{} { return v.f.Done() }
func (v valueWaitable) State() State          { return v.f.State() }
func (v valueWaitable) Err() error            { return v.f.Err() }
func (v valueWaitable) OnDone(fn func())      { v.f.OnDone(fn) }

// TestWaitOtherWaitables checks that waitables without AfterDone get one
// OnDone registration for their whole life however often they are waited
// on, that completion still wakes Wait and AsCompleted, and that the shared
// registration is dropped once they are final.
func TestWaitOtherWaitables(t *testing.T) {
	ws := make([]*plainWaitable, 10)
	for i := range ws {
		ws[i] = &plainWaitable{f: newFuture[int](context.Background())}
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		Wait(ended, ws, FirstCompleted)
		for range AsCompleted(ended, ws) {
		}
	}
	for i, w := range ws {
		if n := w.reg.Load(); n != 1 {
			t.Fatalf("waitable %d got %d OnDone registrations, want 1", i, n)
		}
	}
	ctx := gctx(t)
	go ws[7].f.complete(7, errors.New("boom"))
	done, _, err := Wait(ctx, ws, FirstError)
	if err != nil || len(done) != 1 || done[0] != ws[7] {
		t.Fatalf("FirstError on plain waitables: %v, %v", done, err)
	}
	for i, w := range ws {
		if i != 7 {
			go w.f.complete(i, nil)
		}
	}
	n := 0
	for _, err := range AsCompleted(ctx, ws) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(ws) {
		t.Fatalf("AsCompleted yielded %d of %d", n, len(ws))
	}
	for _, w := range ws {
		if _, ok := hubs.Load(w); ok {
			t.Fatal("a final waitable is still in the hub map")
		}
	}

	vs := []valueWaitable{{f: newFuture[int](context.Background()), tag: []int{0}}, {f: newFuture[int](context.Background()), tag: []int{1}}}
	go vs[1].f.complete(1, nil)
	if done, _, err := Wait(ctx, vs, FirstCompleted); err != nil || len(done) != 1 {
		t.Fatalf("non-comparable waitables: %v %v", done, err)
	}
	vs[0].f.complete(0, nil)
}

// TestWaitStress races many concurrent Waits and AsCompleted loops
// against completions and checks every waiter sees every future final.
func TestWaitStress(t *testing.T) {
	ctx := gctx(t)
	for range 20 {
		fs := pendings(64)
		ps := make([]*plainWaitable, len(fs))
		for i := range ps {
			ps[i] = &plainWaitable{f: fs[i]}
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				switch w % 3 {
				case 0:
					if done, _, err := Wait(ctx, fs, AllCompleted); err != nil || len(done) != len(fs) {
						t.Errorf("AllCompleted: %d done, %v", len(done), err)
					}
				case 1:
					if done, _, err := Wait(ctx, ps, AllCompleted); err != nil || len(done) != len(ps) {
						t.Errorf("AllCompleted (plain): %d done, %v", len(done), err)
					}
				default:
					n := 0
					for _, err := range AsCompleted(ctx, fs) {
						if err != nil {
							t.Error(err)
							return
						}
						n++
					}
					if n != len(fs) {
						t.Errorf("AsCompleted yielded %d of %d", n, len(fs))
					}
				}
			})
		}
		for i, f := range fs {
			wg.Go(func() { f.complete(i, nil) })
		}
		wg.Wait()
	}
}

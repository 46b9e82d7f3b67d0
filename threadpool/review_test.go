package threadpool

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// chanCtx is a context that is not built on the context package's own
// types (as some frameworks' contexts are not): context.AfterFunc has to
// watch it with a goroutine of its own.
type chanCtx struct {
	context.Context
	done chan struct{}
}

func (c chanCtx) Done() <-chan struct{} { return c.done }
func (c chanCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// A TrySubmit refused with ErrQueueFull must not leave the future it built
// watching the submit context: with a context of a foreign type that watch
// is a goroutine, which would live as long as the context.
func TestTrySubmitFullLeavesNoWatcher(t *testing.T) {
	p := newPool(t, WithWorkers(1), WithQueueSize(1))
	ctx := ctxGuard(t)
	release := make(chan struct{})
	started := make(chan struct{})
	running := Submit(p, ctx, func(context.Context) (int, error) {
		close(started)
		<-release
		return 0, nil
	})
	<-started
	queued, err := TrySubmit(p, ctx, func(context.Context) (int, error) { return 1, nil })
	if err != nil {
		t.Fatal(err)
	}
	foreign := chanCtx{Context: context.Background(), done: make(chan struct{})}
	defer close(foreign.done)
	before := runtime.NumGoroutine()
	const tries = 200
	for range tries {
		f, err := TrySubmit(p, foreign, func(context.Context) (int, error) { return 2, nil })
		if !errors.Is(err, ErrQueueFull) || f != nil {
			t.Fatalf("TrySubmit on a full queue: %v, %v", f, err)
		}
	}
	// The watchers of a stopped context.AfterFunc exit asynchronously:
	// give them time (a hang guard, not a speed assertion).
	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine()-before > tries/4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after-before > tries/4 {
		t.Errorf("%d refused TrySubmits left %d goroutines behind", tries, after-before)
	}
	close(release)
	if _, err := running.Result(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := queued.Result(ctx); v != 1 || err != nil {
		t.Fatal(v, err)
	}
}

// Tasks started with Go that are queued when the initializer fails fail
// with ErrBrokenPool like every other queued task: the error handler sees
// the error and Stats counts them as failed (its documentation says so),
// not as cancelled.
func TestGoTasksFailWhenPoolBreaks(t *testing.T) {
	gate := make(chan struct{})
	boom := errors.New("init boom")
	var mu sync.Mutex
	var got []error
	p := newPool(t, WithWorkers(1),
		WithInitializer(func(context.Context) error { <-gate; return boom }),
		WithErrorHandler(func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }))
	ctx := ctxGuard(t)
	ran := make(chan struct{}, 3)
	for range 3 {
		if err := p.Go(ctx, func(context.Context) error { ran <- struct{}{}; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	sctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 0 {
		t.Fatalf("%d tasks ran on a broken pool", len(ran))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("error handler got %d errors, want 3: %v", len(got), got)
	}
	for _, err := range got {
		if !errors.Is(err, ErrBrokenPool) || !errors.Is(err, boom) {
			t.Errorf("handler error %v: want ErrBrokenPool wrapping the initializer's error", err)
		}
	}
	if s := p.Stats(); s.Failed != 3 || s.Cancelled != 0 {
		t.Errorf("Stats: failed %d cancelled %d, want 3 and 0", s.Failed, s.Cancelled)
	}
}

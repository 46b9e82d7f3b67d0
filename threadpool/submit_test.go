package threadpool

import (
	"context"
	"errors"
	"runtime"
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

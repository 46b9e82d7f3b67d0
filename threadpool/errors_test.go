package threadpool

import (
	"context"
	"errors"
	"testing"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/syncx"
)

// The pool's errors match the concepts every executor shares.
func TestErrorsMatchSharedConcepts(t *testing.T) {
	ctx := ctxGuard(t)
	p := newPool(t, WithWorkers(1))
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx)
	if !errors.Is(err, ErrShutdown) || !errors.Is(err, future.ErrShutdown) {
		t.Fatalf("submit after shutdown: %v", err)
	}

	cause := errors.New("no database")
	b := newPool(t, WithWorkers(1), WithInitializer(func(context.Context) error { return cause }))
	_, err = Submit(b, ctx, func(context.Context) (int, error) { return 1, nil }).Result(ctx)
	if !errors.Is(err, ErrBrokenPool) || !errors.Is(err, future.ErrBroken) || errors.Is(err, future.ErrShutdown) {
		t.Fatalf("broken pool: %v", err)
	}

	q := newPool(t, WithWorkers(1), WithQueueSize(1))
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	Submit(q, ctx, block(started, release))
	<-started
	Submit(q, ctx, func(context.Context) (int, error) { return 1, nil })
	if _, err := TrySubmit(q, ctx, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ErrQueueFull) || !errors.Is(err, syncx.ErrQueueFull) {
		t.Fatalf("full queue: %v", err)
	}
}

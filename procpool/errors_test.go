package procpool_test

import (
	"errors"
	"testing"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// The pool's errors match the concepts every executor shares.
func TestErrorsMatchSharedConcepts(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1), procpool.WithBreakOnCrash())
	if _, err := exitWith.Submit(p, ctx, 1).Result(ctx); !errors.Is(err, procpool.ErrWorkerCrashed) {
		t.Fatalf("crashing call: %v", err)
	}
	_, err := square.Submit(p, ctx, 1).Result(ctx)
	if !errors.Is(err, procpool.ErrBrokenPool) || !errors.Is(err, future.ErrBroken) || errors.Is(err, future.ErrShutdown) {
		t.Fatalf("submit to a broken pool: %v", err)
	}

	q := newPool(t, procpool.WithWorkers(1))
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = square.Submit(q, ctx, 1).Result(ctx)
	if !errors.Is(err, procpool.ErrShutdown) || !errors.Is(err, future.ErrShutdown) || errors.Is(err, future.ErrBroken) {
		t.Fatalf("submit after shutdown: %v", err)
	}
}

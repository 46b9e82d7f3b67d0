package procpool_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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

// Separate calls to a pool whose binary never starts a worker all fail with
// ErrWorkerStart: two workers failing their starts in turn must not keep
// replacing each other forever (they did, when each call spawned one).
func TestBadWorkerBinarySeparateCalls(t *testing.T) {
	ctx := ctxT(t)
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("/bin/true missing")
	}
	p := newPool(t, procpool.WithWorkers(2), procpool.WithWorkerCommand("/bin/true"), procpool.WithStartTimeout(2*time.Second))
	var fs []*future.Future[int]
	for i := range 3 {
		fs = append(fs, square.Submit(p, ctx, i))
	}
	for i, f := range fs {
		if _, err := f.Result(ctx); !errors.Is(err, procpool.ErrWorkerStart) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// New reports every bad option at once, each by name and value, and skips a
// nil Option.
func TestNewOptionErrors(t *testing.T) {
	_, err := procpool.New(procpool.WithWorkers(0), nil, procpool.WithInFlight(-1), procpool.WithRetries(-2),
		procpool.WithWorkerCommand(""), procpool.WithCodec(nil), procpool.WithIdleTimeout(0))
	if err == nil {
		t.Fatal("New with bad options: nil error")
	}
	for _, want := range []string{"WithWorkers(0)", "WithInFlight(-1)", "WithRetries(-2)", `WithWorkerCommand("")`,
		"WithCodec(nil)", "WithIdleTimeout(0s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 6 {
		t.Errorf("want 6 joined errors (one per bad option, the nil option skipped), got %T:\n%v", err, err)
	}

	p, err := procpool.New(nil, procpool.WithWorkers(1), nil)
	if err != nil {
		t.Fatalf("New with nil options: %v", err)
	}
	ctx := ctxT(t)
	if v, err := square.Submit(p, ctx, 3).Result(ctx); err != nil || v != 9 {
		t.Errorf("square(3) on a pool made with nil options = %v, %v", v, err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

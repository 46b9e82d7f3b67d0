package threadpool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
)

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

// An initializer that fails in one worker while others run tasks and many
// goroutines submit through every path (bounded queue, so some submitters
// are blocked): every future ends, every group returns, nothing hangs, and
// every accepted task is accounted for exactly once.
func TestStressInitFailureRacesSubmits(t *testing.T) {
	for round := range 10 {
		var inits atomic.Int32
		boom := errors.New("init boom")
		var handled atomic.Int64
		p, err := New(WithWorkers(4), WithQueueSize(8),
			WithInitializer(func(context.Context) error {
				if inits.Add(1) == int32(2+round%3) {
					return boom
				}
				return nil
			}),
			WithErrorHandler(func(error) { handled.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxGuard(t)
		var ran atomic.Int64
		var wg sync.WaitGroup
		var fs [4][]*future.Future[int]
		var groupErrs [4]error
		for gi := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := p.NewGroup(ctx)
				for i := range 300 {
					switch i % 3 {
					case 0:
						fs[gi] = append(fs[gi], Submit(p, ctx, func(context.Context) (int, error) {
							ran.Add(1)
							time.Sleep(time.Microsecond)
							return i, nil
						}))
					case 1:
						_ = p.Go(ctx, func(context.Context) error { ran.Add(1); return nil })
					case 2:
						g.Go(func(context.Context) error { ran.Add(1); return nil })
					}
				}
				groupErrs[gi] = g.Wait()
			}()
		}
		wg.Wait()
		for _, list := range fs {
			for _, f := range list {
				_, err := f.Result(ctx)
				if err != nil && !errors.Is(err, ErrBrokenPool) {
					t.Fatalf("round %d: %v", round, err)
				}
			}
		}
		for _, err := range groupErrs {
			if err != nil && !errors.Is(err, ErrBrokenPool) {
				t.Fatalf("round %d: group: %v", round, err)
			}
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		s := p.Stats()
		if s.Workers != 0 || s.Queued != 0 || s.Running != 0 {
			t.Fatalf("round %d: after shutdown %+v", round, s)
		}
		if s.Submitted != s.Completed+s.Failed+s.Cancelled || s.Completed != uint64(ran.Load()) {
			t.Fatalf("round %d: stats %+v, ran %d", round, s, ran.Load())
		}
		if f := Submit(p, ctx, func(context.Context) (int, error) { return 0, nil }); !errors.Is(f.Err(), ErrBrokenPool) {
			t.Fatalf("round %d: submit after break: %v", round, f.Err())
		}
	}
}

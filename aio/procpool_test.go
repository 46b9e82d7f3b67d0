package aio_test

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/procpool"
)

// slowFib is CPU-bound work of the kind the articles send to a process.
var slowFib = procpool.Register("aio_test.fib", func(ctx context.Context, n int) (int, error) {
	var fib func(int) int
	fib = func(n int) int {
		if n < 2 {
			return n
		}
		return fib(n-1) + fib(n-2)
	}
	return fib(n), nil
})

// The articles' "offload CPU-bound tasks to a separate process": a process
// pool's *future.Future is awaited like any other, and the loop keeps
// running other coroutines meanwhile.
func TestAwaitProcessPoolFuture(t *testing.T) {
	pool, err := procpool.New(procpool.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Shutdown(context.Background())
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		ticks := 0
		ticker := aio.Go(t, func(t *aio.T) (int, error) {
			for {
				if err := aio.Sleep(t, time.Millisecond); err != nil {
					return ticks, nil
				}
				ticks++
			}
		})
		a, err := aio.Await(t, slowFib.Submit(pool, t.Context(), 20))
		if err != nil {
			return 0, err
		}
		b, err := aio.Await(t, slowFib.Submit(pool, t.Context(), 21))
		ticker.Cancel()
		aio.Await(t, ticker) // it ran alongside; how often is timing, not asserted
		return a + b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v != 6765+10946 {
		t.Fatalf("fib sum %d", v)
	}
}

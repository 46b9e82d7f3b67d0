package procpool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

// fib is registered at package level: the worker processes, which are this
// program re-executed, register it too. (In a program, procpool.Main() is the
// first line of main; in tests, of TestMain.)
var fib = procpool.Register("example.fib", func(ctx context.Context, n int) (int, error) {
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a, nil
})

func Example() {
	ctx := context.Background()
	pool, err := procpool.New(procpool.WithWorkers(2))
	if err != nil {
		panic(err)
	}
	defer pool.Shutdown(ctx)

	v, err := fib.Submit(pool, ctx, 50).Result(ctx)
	fmt.Println(v, err)

	// Map sizes chunks from measured call times; results keep input order.
	all, err := future.Results(ctx, fib.Map(pool, ctx, []int{10, 20, 30, 40}))
	fmt.Println(all, err)
	// Output:
	// 12586269025 <nil>
	// [55 6765 832040 102334155] <nil>
}

// A call's deadline is a hard timeout: a call that ignores its context is
// stopped by killing its worker, and the pool goes on with a new one.
func Example_hardTimeout() {
	ctx := context.Background()
	pool, _ := procpool.New(procpool.WithWorkers(1))
	defer pool.Shutdown(ctx)

	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := spin.Submit(pool, tctx, 0).Result(ctx) // loops forever
	fmt.Println(errors.Is(err, context.DeadlineExceeded))

	v, _ := fib.Submit(pool, ctx, 10).Result(ctx)
	fmt.Println(v)
	// Output:
	// true
	// 55
}

// A worker that dies fails only the call it was running, with the exit
// status; the pool starts a replacement.
func Example_crash() {
	ctx := context.Background()
	pool, _ := procpool.New(procpool.WithWorkers(1))
	defer pool.Shutdown(ctx)

	_, err := exitWith.Submit(pool, ctx, 3).Result(ctx) // calls os.Exit(3)
	var ce *procpool.CrashError
	if errors.As(err, &ce) {
		fmt.Println(errors.Is(err, procpool.ErrWorkerCrashed), ce.Func, ce.ExitCode)
	}
	v, _ := fib.Submit(pool, ctx, 12).Result(ctx)
	fmt.Println(v)
	// Output:
	// true t.exitWith 3
	// 144
}

// Errors keep their identity across the process boundary when their
// sentinel is registered with registry.RegisterError.
func Example_remoteError() {
	ctx := context.Background()
	pool, _ := procpool.New(procpool.WithWorkers(1))
	defer pool.Shutdown(ctx)

	_, err := square.Submit(pool, ctx, 5_000_000).Result(ctx)
	var re *registry.RemoteError
	fmt.Println(errors.Is(err, errTooBig), errors.As(err, &re))
	fmt.Println(err)
	// Output:
	// true true
	// remote t.square: square(5000000): too big
}

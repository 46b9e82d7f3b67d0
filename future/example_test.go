package future_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/trident-go/trident/future"
)

// An executor's view: create a future and its resolver, run the task with
// the resolver, hand the future out.
func ExampleResolver_Run() {
	ctx := context.Background()
	f, r := future.New[string](ctx)
	go r.Run(func(ctx context.Context) (string, error) { return "hello", nil })
	v, err := f.Result(ctx)
	fmt.Println(v, err, f.State())
	// Output: hello <nil> done
}

// Python's cancel semantics: a pending future can be cancelled.
func ExampleFuture_Cancel() {
	f, _ := future.New[int](context.Background())
	fmt.Println(f.Cancel(), f.State())
	_, err := f.Result(context.Background())
	fmt.Println(errors.Is(err, future.ErrCancelled), errors.Is(err, context.Canceled))
	// Output:
	// true cancelled
	// true true
}

func ExampleWait() {
	ctx := context.Background()
	a, _ := future.New[int](ctx)
	b := future.Resolved(2, nil)
	done, notDone, err := future.Wait(ctx, []*future.Future[int]{a, b}, future.FirstCompleted)
	fmt.Println(len(done), len(notDone), err)
	a.Cancel()
	// Output: 1 1 <nil>
}

func ExampleAsCompleted() {
	ctx := context.Background()
	f0, r0 := future.New[string](ctx)
	f1, r1 := future.New[string](ctx)
	fs := []*future.Future[string]{f0, f1}
	r1.Complete("second submitted, first done", nil)
	for f, err := range future.AsCompleted(ctx, fs) {
		if err != nil {
			break
		}
		v, _ := f.Result(ctx)
		fmt.Println(v)
		r0.Complete("first submitted, last done", nil) // no-op the second time
	}
	// Output:
	// second submitted, first done
	// first submitted, last done
}

// Each executor's error for a shut down executor matches the shared
// future.ErrShutdown, so one check serves them all.
func ExampleSentinel() {
	errPoolDown := future.Sentinel("mypool: pool is shut down", future.ErrShutdown)
	err := fmt.Errorf("submit: %w", errPoolDown)
	fmt.Println(err, errors.Is(err, future.ErrShutdown), errors.Is(err, future.ErrBroken))
	// Output: submit: mypool: pool is shut down true false
}

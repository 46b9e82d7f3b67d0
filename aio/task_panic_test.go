package aio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

// Panics in the middle of a batch of fresh tasks (run one after another on
// the same coroutine), before and after a suspension, and inside deferred
// cleanup: each panicking task fails alone with a *future.PanicError that
// carries the value, its deferred functions have run, and every other task
// completes normally. goleak (TestMain) checks that the goroutines of the
// coroutines that panicked have ended.
func TestPanicsFailOnlyTheirTask(t *testing.T) {
	const n = 600
	cleaned := make([]bool, n)
	_, err := aio.Run(context.Background(), func(tt *aio.T) (int, error) {
		ts := make([]*aio.Task[int], n)
		for i := range ts {
			ts[i] = aio.Go(tt, func(t *aio.T) (int, error) {
				defer func() { cleaned[i] = true }()
				switch i % 5 {
				case 1:
					panic(i)
				case 2:
					if err := aio.Sleep(t, time.Duration(i)*time.Millisecond); err != nil {
						return 0, err
					}
					panic(i)
				case 3:
					defer func() { panic(i) }()
					return i, aio.Yield(t)
				}
				return i, aio.Yield(t)
			})
		}
		for i, k := range ts {
			v, err := aio.Await(tt, k)
			var pe *future.PanicError
			switch i % 5 {
			case 1, 2, 3:
				if !errors.As(err, &pe) || pe.Value != i {
					t.Errorf("task %d: err = %v, want a PanicError with %d", i, err, i)
				}
				if k.State() != future.Failed {
					t.Errorf("task %d: state %v, want Failed", i, k.State())
				}
			default:
				if err != nil || v != i {
					t.Errorf("task %d = %d, %v", i, v, err)
				}
			}
			if !cleaned[i] {
				t.Errorf("task %d: deferred cleanup did not run", i)
			}
		}
		return 0, nil
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
}

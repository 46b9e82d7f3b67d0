package aio_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// Runner against CPython 3.11's asyncio.Runner (unchanged in 3.12 and
// 3.13 for this): one loop serves several calls, a task started by one
// call is suspended between calls and goes on in the next, a failing call
// leaves the runner usable, a TaskGroup works within a call, Close cancels
// what is left, and a call after Close fails (RuntimeError in Python,
// ErrLoopClosed here).
func TestRunnerAsInPython(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace traceLog
	say := trace.say
	ctx := context.Background()
	r := aio.NewRunner(ctx, aio.WithVirtualTime())
	var loop *aio.Loop
	var ev aio.Event
	var bg *aio.Task[int]
	v, err := aio.RunOn(r, ctx, func(t *aio.T) (int, error) {
		loop = t.Loop()
		bg = aio.Go(t, func(t *aio.T) (int, error) {
			if err := ev.Wait(t); err != nil {
				return 0, err
			}
			say("background: saw the event set by run 2")
			if err := aio.Sleep(t, time.Hour); err != nil {
				say("background: cancelled by close")
				return 0, err
			}
			return 0, nil
		})
		return 1, aio.Yield(t)
	})
	if err != nil {
		t.Fatal(err)
	}
	say("run 1 -> %d", v)
	say("between runs: background done %s", pyBool(bg.Finished()))
	v, err = aio.RunOn(r, ctx, func(t *aio.T) (int, error) {
		say("run 2: same loop %s, background done %s", pyBool(t.Loop() == loop && r.Loop() == loop), pyBool(bg.Finished()))
		ev.Set()
		return 2, aio.Sleep(t, 10*time.Millisecond)
	})
	if err != nil {
		t.Fatal(err)
	}
	say("run 2 -> %d", v)
	if err := r.Run(ctx, func(t *aio.T) error { return errors.New("run 3 failed") }); err != nil {
		say("run 3 -> ValueError: %v", err)
	}
	v, err = aio.RunOn(r, ctx, func(t *aio.T) (int, error) {
		var ts []*aio.Task[int]
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			for i := range 3 {
				ts = append(ts, aio.GoIn(g, sleeper(10*time.Millisecond, i, nil)))
			}
			return nil
		})
		sum := 0
		for _, k := range ts {
			x, _, _ := k.Value()
			sum += x
		}
		return sum, err
	})
	if err != nil {
		t.Fatal(err)
	}
	say("run 4 (TaskGroup) -> %d", v)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	say("closed: background cancelled %s", pyBool(bg.Cancelled()))
	if _, err := aio.RunOn(r, ctx, func(t *aio.T) (int, error) { return 0, nil }); errors.Is(err, aio.ErrLoopClosed) {
		say("run after close: RuntimeError")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	compareTraces(t, "runner", trace)
}

// A call's context cancels that call's main task only; the runner's
// context cancels every task; a call from inside a coroutine of the loop,
// and Close from there, are refused with ErrNestedRun.
func TestRunnerContextsAndNesting(t *testing.T) {
	rctx, rcancel := context.WithCancelCause(context.Background())
	defer rcancel(nil)
	r := aio.NewRunner(rctx) // real clock: the cancellations come from other goroutines
	defer r.Close()
	var other *aio.Task[int]
	cctx, ccancel := context.WithCancelCause(context.Background())
	stopCall := errors.New("stop this call")
	_, err := aio.RunOn(r, cctx, func(t *aio.T) (int, error) {
		other = aio.Go(t, sleeper(time.Hour, 1, nil))
		if _, err := aio.RunOn(r, context.Background(), func(*aio.T) (int, error) { return 0, nil }); !errors.Is(err, aio.ErrNestedRun) {
			return 0, fmt.Errorf("nested RunOn = %v, want ErrNestedRun", err)
		}
		if err := r.Close(); !errors.Is(err, aio.ErrNestedRun) {
			return 0, fmt.Errorf("Close from a coroutine = %v, want ErrNestedRun", err)
		}
		// Cancel this call from another goroutine; the cancellation
		// reaches main in ToThread's await or in the Sleep after it.
		if _, err := aio.ToThread(t, func(context.Context) (int, error) { ccancel(stopCall); return 0, nil }); err != nil {
			return 0, err
		}
		return 0, aio.Sleep(t, time.Hour)
	})
	if !errors.Is(err, aio.ErrCancelled) || !errors.Is(err, stopCall) {
		t.Fatalf("call whose context ended = %v, want a cancellation wrapping its cause", err)
	}
	if other.Finished() {
		t.Fatal("the call's context cancelled another task of the loop")
	}
	// The runner's context cancels every task, the leftover one included.
	stopAll := errors.New("stop the runner")
	_, err = aio.RunOn(r, context.Background(), func(t *aio.T) (int, error) {
		if _, err := aio.ToThread(t, func(context.Context) (int, error) { rcancel(stopAll); return 0, nil }); err != nil {
			return 0, err
		}
		_, err := aio.Await(t, other)
		return 0, err
	})
	if !errors.Is(err, stopAll) || !other.Cancelled() {
		t.Fatalf("after the runner's context ended: call %v, leftover task cancelled %v", err, other.Cancelled())
	}
	// A call after the runner's context ended is cancelled before main
	// starts.
	started := false
	err = r.Run(context.Background(), func(t *aio.T) error { started = true; return nil })
	if !errors.Is(err, stopAll) || started {
		t.Errorf("call after the runner's context ended = %v (main started %v), want a cancellation before start", err, started)
	}
	if err := r.Run(context.Background(), nil); !errors.Is(err, aio.ErrNilFunc) {
		t.Errorf("Run(nil) = %v, want ErrNilFunc", err)
	}
}

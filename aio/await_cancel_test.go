package aio_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// swallower sleeps for an hour; a cancellation is caught and turned into
// the value v (a task that swallows its cancellation).
func swallower(trace *traceLog, msg string, v int) func(t *aio.T) (int, error) {
	return func(t *aio.T) (int, error) {
		if err := aio.Sleep(t, time.Hour); err != nil {
			*trace = append(*trace, msg)
			return v, nil
		}
		return 0, nil
	}
}

// A task awaiting another is cancelled; the cancellation goes to the
// awaited task, which catches it and returns a value. CPython (3.11, 3.12
// and 3.13 alike): the outer await returns that value and the outer task is
// not cancelled (Task.cancel forwarded the request to the task it waits for
// and did not set _must_cancel), although its cancelling() count stays 1.
// Cancelled again while the awaited task still runs, the outer task passes
// that request on too (the inner task sees both). An inner task that lets
// the cancellation through cancels the outer one. Before the fix trident
// returned ErrCancelled from the outer Await regardless.
func TestAwaitOfTaskThatSwallowsCancellation(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace traceLog
	say := trace.say
	runV(t, func(t *aio.T) error {
		it := aio.Go(t, swallower(&trace, "inner: caught the cancellation, returns 42", 42))
		ot := aio.Go(t, func(t *aio.T) (int, error) {
			v, err := aio.Await(t, it)
			if err != nil {
				return 0, err
			}
			say("outer: await returned %d, cancelling=%d", v, t.Cancelling())
			if err := aio.Sleep(t, 10*time.Millisecond); err != nil {
				return 0, err
			}
			say("outer: its next await is not cancelled")
			return v + 1, nil
		})
		aio.Sleep(t, 10*time.Millisecond)
		say("cancel outer: %s", pyBool(ot.Cancel()))
		r, err := aio.Await(t, ot)
		if err != nil {
			return fmt.Errorf("outer task failed: %w", err)
		}
		say("outer: result %d, cancelled=%s, inner cancelled=%s", r, pyBool(ot.Cancelled()), pyBool(it.Cancelled()))

		n := 0
		st := aio.Go(t, func(t *aio.T) (int, error) {
			for {
				if err := aio.Sleep(t, time.Hour); err == nil {
					return -1, nil
				}
				n++
				say("stubborn: caught cancellation %d", n)
				if n == 2 {
					return n, nil
				}
			}
		})
		ot2 := aio.Go(t, func(t *aio.T) (int, error) {
			v, err := aio.Await(t, st)
			if err != nil {
				return 0, err
			}
			say("outer2: await returned %d, cancelling=%d", v, t.Cancelling())
			return v, nil
		})
		aio.Sleep(t, 10*time.Millisecond)
		ot2.Cancel()
		aio.Sleep(t, 10*time.Millisecond)
		ot2.Cancel()
		r, err = aio.Await(t, ot2)
		if err != nil {
			return fmt.Errorf("outer2 failed: %w", err)
		}
		say("outer2: result %d, cancelled=%s", r, pyBool(ot2.Cancelled()))

		pt := aio.Go(t, sleeper(time.Hour, 0, nil))
		ot3 := aio.Go(t, func(t *aio.T) (int, error) {
			if _, err := aio.Await(t, pt); err != nil {
				return 0, err
			}
			say("outer3: not reached")
			return 0, nil
		})
		aio.Sleep(t, 10*time.Millisecond)
		ot3.Cancel()
		if _, err := aio.Await(t, ot3); !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("outer3 = %v, want ErrCancelled", err)
		}
		say("outer3: cancelled=%s, inner cancelled=%s", pyBool(ot3.Cancelled()), pyBool(pt.Cancelled()))
		return nil
	})
	compareTraces(t, "await_swallowed_cancel", trace)
}

// WaitFor and a Timeout scope whose awaited task swallows the timeout's
// cancellation. CPython 3.11 (wait_for's own loop: fut.result() after
// _cancel_and_wait) and 3.12/3.13 (wait_for is timeout(): __aexit__ raises
// TimeoutError only when the body raised CancelledError) both return the
// inner value; the scope still counts as expired and the task's
// cancelling() is back to 0. Before the fix trident returned ErrTimeout.
func TestWaitForTaskThatSwallowsTimeout(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace traceLog
	say := trace.say
	const msg = "inner: caught the timeout's cancellation, returns 7"
	runV(t, func(t *aio.T) error {
		v, err := aio.WaitFor(t, aio.Go(t, swallower(&trace, msg, 7)), 10*time.Millisecond)
		if err != nil {
			return fmt.Errorf("WaitFor = %v, want the inner value", err)
		}
		say("wait_for: returned %d, cancelling=%d", v, t.Cancelling())

		var tm *aio.TimeoutScope
		err = aio.TimeoutWith(t, t.Now().Add(10*time.Millisecond), func(s *aio.TimeoutScope) error {
			tm = s
			v, err := aio.Await(t, aio.Go(t, swallower(&trace, msg, 7)))
			if err != nil {
				return err
			}
			say("timeout: await returned %d", v)
			if err := aio.Sleep(t, 10*time.Millisecond); err != nil {
				return err
			}
			say("timeout: the next await in the scope is not cancelled")
			return nil
		})
		if err != nil {
			return fmt.Errorf("timeout scope = %v, want nil", err)
		}
		expired := "False"
		if tm.Expired() {
			expired = "True"
		}
		say("timeout: scope exited without error, expired=%s, cancelling=%d", expired, t.Cancelling())

		// The same with Timeout, which has no handle.
		err = aio.Timeout(t, 10*time.Millisecond, func() error {
			_, err := aio.Await(t, aio.Go(t, swallower(new(traceLog), "", 7)))
			return err
		})
		if err != nil {
			return fmt.Errorf("Timeout = %v, want nil", err)
		}
		return nil
	})
	compareTraces(t, "wait_for_swallowed_cancel", trace)
}

package aio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

// runV runs main on a virtual-time loop and fails the test on error.
func runV(tb testing.TB, main func(t *aio.T) error) {
	tb.Helper()
	if _, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		return struct{}{}, main(t)
	}, aio.WithVirtualTime()); err != nil {
		tb.Fatal(err)
	}
}

func sleeper(d time.Duration, v int, err error) func(t *aio.T) (int, error) {
	return func(t *aio.T) (int, error) {
		if e := aio.Sleep(t, d); e != nil {
			return 0, e
		}
		return v, err
	}
}

func TestGatherOrderAndFailFast(t *testing.T) {
	runV(t, func(t *aio.T) error {
		a := aio.Go(t, sleeper(3*time.Second, 1, nil))
		b := aio.Go(t, sleeper(time.Second, 2, nil))
		c := aio.Go(t, sleeper(2*time.Second, 3, nil))
		vals, err := aio.Gather(t, a, b, c)
		if err != nil || fmt.Sprint(vals) != "[1 2 3]" {
			return fmt.Errorf("gather: %v %v", vals, err)
		}
		boom := errors.New("boom")
		start := t.Now()
		slow := aio.Go(t, sleeper(time.Hour, 1, nil))
		bad := aio.Go(t, sleeper(time.Second, 0, boom))
		if _, err := aio.Gather(t, slow, bad); !errors.Is(err, boom) {
			return fmt.Errorf("fail fast: %v", err)
		}
		if d := t.Now().Sub(start); d != time.Second {
			return fmt.Errorf("gather waited %v after the first error", d)
		}
		if slow.Finished() {
			return errors.New("the slow task was stopped; Gather must leave it running")
		}
		slow.Cancel()
		vals, errs, err := aio.GatherAll(t, aio.Go(t, sleeper(time.Second, 5, nil)), bad, slow)
		if err != nil || vals[0] != 5 || !errors.Is(errs[1], boom) || !errors.Is(errs[2], aio.ErrCancelled) || errs[0] != nil {
			return fmt.Errorf("gather all: %v %v %v", vals, errs, err)
		}
		return nil
	})
}

func TestGatherCancelledCancelsChildren(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cleaned := 0
		child := func(t *aio.T) (int, error) {
			defer func() { cleaned++ }()
			return 0, aio.Sleep(t, time.Hour)
		}
		a, b := aio.Go(t, child), aio.Go(t, child)
		g := aio.Go(t, func(t *aio.T) ([]int, error) { return aio.Gather(t, a, b) })
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		g.Cancel()
		if _, err := aio.Await(t, g); !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("gather task: %v", err)
		}
		if cleaned != 2 || !a.Cancelled() || !b.Cancelled() {
			return fmt.Errorf("children not cancelled and cleaned up: %d %v %v", cleaned, a.State(), b.State())
		}
		return nil
	})
}

func TestWaitModes(t *testing.T) {
	runV(t, func(t *aio.T) error {
		boom := errors.New("boom")
		ts := []*aio.Task[int]{
			aio.Go(t, sleeper(3*time.Second, 1, nil)),
			aio.Go(t, sleeper(time.Second, 2, nil)),
			aio.Go(t, sleeper(2*time.Second, 0, boom)),
		}
		done, pending, err := aio.Wait(t, ts, future.FirstCompleted)
		if err != nil || len(done) != 1 || done[0] != ts[1] || len(pending) != 2 {
			return fmt.Errorf("first completed: %v %v %v", done, pending, err)
		}
		done, pending, err = aio.Wait(t, ts, future.FirstError)
		if err != nil || len(done) != 2 || done[1] != ts[2] || len(pending) != 1 {
			return fmt.Errorf("first error: %v %v %v", done, pending, err)
		}
		done, pending, err = aio.Wait(t, ts, future.AllCompleted)
		if err != nil || len(done) != 3 || len(pending) != 0 {
			return fmt.Errorf("all: %v %v %v", done, pending, err)
		}
		if _, _, err := aio.Wait(t, ts, future.WaitMode(9)); err == nil {
			return errors.New("bad mode accepted")
		}
		return nil
	})
}

func TestAsCompletedOrder(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var ts []*aio.Task[int]
		for _, d := range []int{3, 1, 2} {
			ts = append(ts, aio.Go(t, sleeper(time.Duration(d)*time.Second, d, nil)))
		}
		var got []string
		for task, err := range aio.AsCompleted(t, ts) {
			if err != nil {
				return err
			}
			v, err := aio.Await(t, task)
			got = append(got, fmt.Sprintf("%d@%v", v, t.Now().Format("05")))
			if err != nil {
				return err
			}
		}
		if s := strings.Join(got, " "); s != "1@01 2@02 3@03" {
			return fmt.Errorf("order %q", s)
		}
		return nil
	})
}

func TestTimeoutScope(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cleaned := false
		start := t.Now()
		err := aio.Timeout(t, time.Second, func() error {
			defer func() { cleaned = true }()
			return aio.Sleep(t, time.Hour)
		})
		if !errors.Is(err, aio.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("timeout error: %v", err)
		}
		if !cleaned || t.Now().Sub(start) != time.Second || t.Cancelling() != 0 {
			return fmt.Errorf("cleaned=%v elapsed=%v cancelling=%d", cleaned, t.Now().Sub(start), t.Cancelling())
		}
		// A body that finishes in time.
		if err := aio.Timeout(t, time.Hour, func() error { return aio.Sleep(t, time.Second) }); err != nil {
			return fmt.Errorf("in time: %v", err)
		}
		// The timer must not fire later.
		if err := aio.Sleep(t, 2*time.Hour); err != nil {
			return fmt.Errorf("stale timeout fired: %v", err)
		}
		return nil
	})
}

func TestNestedTimeoutsKnowWhoseCancellation(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var inner error
		outer := aio.Timeout(t, time.Second, func() error {
			inner = aio.Timeout(t, time.Hour, func() error {
				return aio.Sleep(t, 2*time.Hour)
			})
			return inner
		})
		if !errors.Is(outer, aio.ErrTimeout) {
			return fmt.Errorf("outer: %v", outer)
		}
		// The inner scope did not expire: it must pass the cancellation on, not claim a timeout.
		if errors.Is(inner, aio.ErrTimeout) || !errors.Is(inner, aio.ErrCancelled) {
			return fmt.Errorf("inner: %v", inner)
		}
		// Inner expires first: outer sees a normal completion of the body.
		var in2 error
		out2 := aio.Timeout(t, time.Hour, func() error {
			in2 = aio.Timeout(t, time.Second, func() error { return aio.Sleep(t, 2*time.Hour) })
			return nil
		})
		if out2 != nil || !errors.Is(in2, aio.ErrTimeout) {
			return fmt.Errorf("inner first: outer %v inner %v", out2, in2)
		}
		return nil
	})
}

func TestTimeoutDoesNotSwallowOutsideCancel(t *testing.T) {
	runV(t, func(t *aio.T) error {
		task := aio.Go(t, func(t *aio.T) (int, error) {
			err := aio.Timeout(t, time.Hour, func() error { return aio.Sleep(t, 2*time.Hour) })
			return 0, err
		})
		if err := aio.Sleep(t, time.Minute); err != nil {
			return err
		}
		task.Cancel()
		_, err := aio.Await(t, task)
		if errors.Is(err, aio.ErrTimeout) || !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("outside cancel reported as %v", err)
		}
		return nil
	})
}

func TestWaitForAndShield(t *testing.T) {
	runV(t, func(t *aio.T) error {
		slow := aio.Go(t, sleeper(time.Hour, 1, nil))
		if _, err := aio.WaitFor(t, slow, time.Second); !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wait for: %v", err)
		}
		if !slow.Cancelled() {
			return fmt.Errorf("WaitFor left the task %v", slow.State())
		}
		v, err := aio.WaitFor(t, aio.Go(t, sleeper(time.Second, 3, nil)), time.Hour)
		if v != 3 || err != nil {
			return fmt.Errorf("in time: %v %v", v, err)
		}
		// Shield: the outer wait times out, the inner task survives.
		inner := aio.Go(t, sleeper(time.Minute, 4, nil))
		err = aio.Timeout(t, time.Second, func() error {
			_, err := aio.Shield(t, inner)
			return err
		})
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("shield timeout: %v", err)
		}
		if v, err := aio.Await(t, inner); v != 4 || err != nil {
			return fmt.Errorf("shielded task: %v %v", v, err)
		}
		return nil
	})
}

func TestCancelPropagatesToAwaitedTask(t *testing.T) {
	runV(t, func(t *aio.T) error {
		innerCleaned := false
		inner := aio.Go(t, func(t *aio.T) (int, error) {
			defer func() { innerCleaned = true }()
			return 0, aio.Sleep(t, time.Hour)
		})
		outer := aio.Go(t, func(t *aio.T) (int, error) { return aio.Await(t, inner) })
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		outer.Cancel()
		if _, err := aio.Await(t, outer); !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("outer: %v", err)
		}
		if !innerCleaned || !inner.Cancelled() {
			return errors.New("awaited task not cancelled and cleaned up before the awaiter returned")
		}
		return nil
	})
}

func TestWaitAndAsCompletedWithForeignFutures(t *testing.T) {
	mk := func(d time.Duration, v int) *future.Future[int] {
		f, r := future.New[int](context.Background())
		go func() {
			time.Sleep(d)
			r.Run(func(context.Context) (int, error) { return v, nil })
		}()
		return f
	}
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		fs := []*future.Future[int]{mk(30*time.Millisecond, 3), mk(time.Millisecond, 1), mk(15*time.Millisecond, 2)}
		done, pending, err := aio.Wait(t, fs, future.FirstCompleted)
		if err != nil || len(done) < 1 || len(done)+len(pending) != 3 {
			return 0, fmt.Errorf("wait: %d %d %v", len(done), len(pending), err)
		}
		n, sum := 0, 0
		for f, err := range aio.AsCompleted(t, fs) {
			if err != nil {
				return 0, err
			}
			v, _ := aio.Await(t, f)
			sum += v
			n++
		}
		if n != 3 || sum != 6 {
			return 0, fmt.Errorf("as completed: n=%d sum=%d", n, sum)
		}
		vals, err := aio.Gather(t, fs...)
		if err != nil || fmt.Sprint(vals) != "[3 1 2]" {
			return 0, fmt.Errorf("gather: %v %v", vals, err)
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// AsCompleted given the same task more than once yields it once, as
// asyncio.as_completed does (it builds a set of its input; CPython
// 3.11-3.13). Before the fix a task given twice was yielded twice.
func TestAsCompletedDeduplicates(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace []string
	runV(t, func(t *aio.T) error {
		a := aio.Go(t, sleeper(10*time.Millisecond, 1, nil))
		b := aio.Go(t, sleeper(20*time.Millisecond, 2, nil))
		done := aio.Go(t, sleeper(0, 0, nil))
		aio.Sleep(t, time.Millisecond)
		var out []string
		for k, err := range aio.AsCompleted(t, []*aio.Task[int]{a, done, b, a, done}) {
			if err != nil {
				return err
			}
			v, err := aio.Await(t, k)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprint(v))
		}
		trace = append(trace, "results: "+strings.Join(out, " "))
		return nil
	})
	compareTraces(t, "as_completed_duplicates", trace)
}

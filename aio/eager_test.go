package aio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// eagerTasksCPython is what testdata/python/eager_tasks.py prints on
// CPython 3.12.1 and 3.13.0 alike (eager_task_factory is new in 3.12, so
// python3 3.11 cannot run it): a task that returns without suspending is
// done when create_task returns; one that suspends ran its first step
// before the creator went on; a TaskGroup child finishing at once is
// accounted for, and one failing at once fails the group, whose body is
// cancelled at its next await.
var eagerTasksCPython = []string{
	"quick runs; after create quick: done=True; slow starts; after create slow: done=False; slow resumes; results 1 2",
	"parent starts; quick runs; parent: child done=True; nested -> 1; quick runs; group: child done at once=True; slow starts; slow resumes; group: 1 2; group body goes on after the failed child; group errors: eager failure",
}

func TestEagerTasksAsInPython(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace lineTrace
	say, flush := trace.add, trace.flush
	quick := func(t *aio.T) (int, error) {
		say("quick runs")
		return 1, nil
	}
	slow := func(t *aio.T) (int, error) {
		say("slow starts")
		if err := aio.Yield(t); err != nil {
			return 0, err
		}
		say("slow resumes")
		return 2, nil
	}
	runOpts(t, func(t *aio.T) error {
		t1 := aio.Go(t, quick)
		say("after create quick: done=%s", pyBool(t1.Finished()))
		t2 := aio.Go(t, slow)
		say("after create slow: done=%s", pyBool(t2.Finished()))
		v1, err1 := aio.Await(t, t1)
		v2, err2 := aio.Await(t, t2)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		say("results %d %d", v1, v2)
		flush()

		p := aio.Go(t, func(t *aio.T) (int, error) {
			say("parent starts")
			c := aio.Go(t, quick)
			say("parent: child done=%s", pyBool(c.Finished()))
			return aio.Await(t, c)
		})
		v, err := aio.Await(t, p)
		if err != nil {
			return err
		}
		say("nested -> %d", v)
		var t3, t4 *aio.Task[int]
		err = aio.TaskGroup(t, func(g *aio.Group) error {
			t3 = aio.GoIn(g, quick)
			say("group: child done at once=%s", pyBool(t3.Finished()))
			t4 = aio.GoIn(g, slow)
			return nil
		})
		if err != nil {
			return err
		}
		v3, _, _ := t3.Value()
		v4, _, _ := t4.Value()
		say("group: %d %d", v3, v4)
		err = aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(func(*aio.T) error { return errors.New("eager failure") })
			say("group body goes on after the failed child")
			if err := aio.Sleep(t, time.Second); err != nil {
				return err
			}
			say("not reached")
			return nil
		})
		if err == nil {
			return errors.New("the group with a failing child returned nil")
		}
		say("group errors: %v", err)
		flush()
		return nil
	}, aio.WithVirtualTime(), aio.WithEagerTasks())
	diffTraces(t, "eager_tasks (recorded from CPython 3.12.1 and 3.13.0)", trace.traceLog, eagerTasksCPython)
	diffTraces(t, "eager_tasks", trace.traceLog, pythonTraceWith(t, python313(t), "eager_tasks"))
}

// Eager tasks under load: deep nesting (each task eagerly starts the next
// from its first step), many tasks that suspend and are cancelled, panics
// in eager tasks, and Go during shutdown; every task ends, results are
// right, nothing leaks (goleak in TestMain).
func TestEagerTasksStress(t *testing.T) {
	runOpts(t, func(t *aio.T) error {
		var chain func(n int) func(*aio.T) (int, error)
		chain = func(n int) func(*aio.T) (int, error) {
			return func(t *aio.T) (int, error) {
				if n == 0 {
					return 0, aio.Yield(t)
				}
				v, err := aio.Await(t, aio.Go(t, chain(n-1)))
				return v + 1, err
			}
		}
		if v, err := aio.Await(t, aio.Go(t, chain(200))); err != nil || v != 200 {
			return fmt.Errorf("chain of 200 eager tasks = %d, %v", v, err)
		}
		var ts []*aio.Task[int]
		for i := range 2000 {
			ts = append(ts, aio.Go(t, sleeper(time.Duration(i%7)*time.Second, i, nil)))
		}
		for i, k := range ts {
			if i%3 == 0 {
				k.Cancel()
			}
		}
		vals, errs, err := aio.GatherAll(t, ts...)
		if err != nil {
			return err
		}
		for i := range ts {
			if i%3 == 0 { // every one suspended first (Sleep(0) yields)
				if !errors.Is(errs[i], aio.ErrCancelled) {
					return fmt.Errorf("task %d: %v, want cancelled", i, errs[i])
				}
			} else if errs[i] != nil || vals[i] != i {
				return fmt.Errorf("task %d: %d, %v", i, vals[i], errs[i])
			}
		}
		p := aio.Go(t, func(*aio.T) (int, error) { panic("eager boom") })
		if _, err := aio.Await(t, p); err == nil || !strings.Contains(err.Error(), "eager boom") {
			return fmt.Errorf("panicking eager task: %v", err)
		}
		// Left running when main returns: cancelled by Run, whose cleanup
		// starts another task, cancelled before it starts.
		aio.Go(t, func(t *aio.T) (int, error) {
			err := aio.Sleep(t, time.Hour)
			aio.Go(t, sleeper(time.Hour, 0, nil))
			return 0, err
		})
		return nil
	}, aio.WithVirtualTime(), aio.WithEagerTasks())
}

// runOpts runs main on a new loop with opts and fails tb with its error.
func runOpts(tb testing.TB, main func(t *aio.T) error, opts ...aio.Option) {
	tb.Helper()
	if _, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		return struct{}{}, main(t)
	}, opts...); err != nil {
		tb.Fatal(err)
	}
}

package aio_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

func TestTaskGroupWaitsForChildren(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var a, b *aio.Task[int]
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			a = aio.GoIn(g, sleeper(time.Second, 1, nil))
			b = aio.GoIn(g, sleeper(2*time.Second, 2, nil))
			return nil
		})
		if err != nil {
			return err
		}
		if !a.Finished() || !b.Finished() {
			return errors.New("TaskGroup returned before its children")
		}
		va, _ := aio.Await(t, a)
		vb, _ := aio.Await(t, b)
		if va+vb != 3 {
			return fmt.Errorf("results %d %d", va, vb)
		}
		return nil
	})
}

func TestTaskGroupFirstFailureCancelsSiblingsAndJoinsErrors(t *testing.T) {
	runV(t, func(t *aio.T) error {
		e1, e2 := errors.New("e1"), errors.New("e2")
		cleaned := 0
		bodyCancelled := false
		start := t.Now()
		var late *aio.Task[struct{}]
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(func(t *aio.T) error {
				defer func() { cleaned++ }()
				return aio.Sleep(t, time.Hour)
			})
			g.Go(func(t *aio.T) error {
				aio.Sleep(t, time.Second)
				return e1
			})
			g.Go(func(t *aio.T) error {
				defer func() { cleaned++ }()
				// Fails during its own cleanup: both errors are kept.
				if err := aio.Sleep(t, time.Hour); err != nil {
					return e2
				}
				return nil
			})
			err := aio.Sleep(t, time.Hour) // the body is cancelled too
			bodyCancelled = errors.Is(err, aio.ErrCancelled)
			late = g.Go(func(t *aio.T) error { return nil })
			return err
		})
		if !errors.Is(err, e1) || !errors.Is(err, e2) || errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("group error %v", err)
		}
		if cleaned != 2 || !bodyCancelled {
			return fmt.Errorf("cleaned=%d bodyCancelled=%v", cleaned, bodyCancelled)
		}
		if d := t.Now().Sub(start); d != time.Second {
			return fmt.Errorf("group took %v", d)
		}
		if _, lerr := aio.Await(t, late); !errors.Is(lerr, aio.ErrGroupClosed) {
			return fmt.Errorf("start on aborting group: %v", lerr)
		}
		if t.Cancelling() != 0 {
			return fmt.Errorf("the group left %d cancellation requests on the parent", t.Cancelling())
		}
		// The parent is usable afterwards.
		return aio.Sleep(t, time.Second)
	})
}

func TestTaskGroupCancelledFromOutside(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cleaned := 0
		parent := aio.Go(t, func(t *aio.T) (int, error) {
			return 0, aio.TaskGroup(t, func(g *aio.Group) error {
				for i := 0; i < 3; i++ {
					g.Go(func(t *aio.T) error {
						defer func() { cleaned++ }()
						return aio.Sleep(t, time.Hour)
					})
				}
				return nil
			})
		})
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		parent.Cancel()
		_, err := aio.Await(t, parent)
		if !errors.Is(err, aio.ErrCancelled) || cleaned != 3 {
			return fmt.Errorf("err=%v cleaned=%d", err, cleaned)
		}
		return nil
	})
}

func TestTaskGroupBodyErrorAndPanicChild(t *testing.T) {
	runV(t, func(t *aio.T) error {
		bodyErr := errors.New("body failed")
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(func(t *aio.T) error { return aio.Sleep(t, time.Hour) })
			return bodyErr
		})
		if !errors.Is(err, bodyErr) {
			return fmt.Errorf("body error lost: %v", err)
		}
		err = aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(func(t *aio.T) error { panic("child panic") })
			return nil
		})
		if err == nil || !containsPanic(err) {
			return fmt.Errorf("panic child: %v", err)
		}
		if err := aio.TaskGroup(t, nil); !errors.Is(err, aio.ErrNilFunc) {
			return fmt.Errorf("nil body: %v", err)
		}
		return nil
	})
}

func containsPanic(err error) bool {
	var pe *future.PanicError
	return errors.As(err, &pe) && pe.Value == "child panic"
}

func TestTaskGroupBodyPanicStillWaitsForChildren(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cleaned := false
		task := aio.Go(t, func(t *aio.T) (int, error) {
			aio.TaskGroup(t, func(g *aio.Group) error {
				g.Go(func(t *aio.T) error {
					defer func() { cleaned = true }()
					return aio.Sleep(t, time.Hour)
				})
				if err := aio.Sleep(t, time.Second); err != nil {
					return err
				}
				panic("body panic")
			})
			return 0, nil
		})
		_, err := aio.Await(t, task)
		var pe *future.PanicError
		if !errors.As(err, &pe) || pe.Value != "body panic" {
			return fmt.Errorf("want the body's panic, got %v", err)
		}
		if !cleaned {
			return errors.New("child outlived its group")
		}
		return nil
	})
}

func TestTimeoutAroundTaskGroup(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cleaned := 0
		err := aio.Timeout(t, time.Second, func() error {
			return aio.TaskGroup(t, func(g *aio.Group) error {
				for i := 0; i < 3; i++ {
					g.Go(func(t *aio.T) error {
						defer func() { cleaned++ }()
						return aio.Sleep(t, time.Hour)
					})
				}
				return nil
			})
		})
		if !errors.Is(err, aio.ErrTimeout) || cleaned != 3 || t.Cancelling() != 0 {
			return fmt.Errorf("err=%v cleaned=%d cancelling=%d", err, cleaned, t.Cancelling())
		}
		return nil
	})
}

// The order of a TaskGroup's errors. CPython 3.11-3.13 (taskgroups.py
// __aexit__) appends the body's error after the children's, so the
// ExceptionGroup lists the children first and the body last. Before the
// fix trident put the body's error first.
func TestTaskGroupErrorOrderChildrenFirst(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace []string
	fail := func(msg string, d time.Duration) func(*aio.T) error {
		return func(t *aio.T) error {
			if err := aio.Sleep(t, d); err != nil {
				return err
			}
			return errors.New(msg)
		}
	}
	report := func(err error) error {
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			return fmt.Errorf("TaskGroup = %v, want joined errors", err)
		}
		var msgs []string
		for _, e := range j.Unwrap() {
			msgs = append(msgs, e.Error())
		}
		trace = append(trace, "errors: "+strings.Join(msgs, ", "))
		return nil
	}
	runV(t, func(t *aio.T) error {
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(fail("child 1", 10*time.Millisecond))
			g.Go(fail("child 2", time.Second))
			if err := aio.Sleep(t, 10*time.Second); err != nil {
				return errors.New("body")
			}
			return nil
		})
		if err := report(err); err != nil {
			return err
		}
		err = aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(fail("child", time.Second))
			return errors.New("body")
		})
		return report(err)
	})
	compareTraces(t, "taskgroup_error_order", trace)
}

// Python 3.13's TaskGroup: when a child fails while the parent is also being
// cancelled from outside, the group raises the child's error but the outside
// cancellation is kept (uncancel + cancel): it is delivered at the next
// await.
func TestTaskGroupKeepsOutsideCancellationWithChildError(t *testing.T) {
	boom := errors.New("boom")
	runV(t, func(t *aio.T) error {
		var after error
		var groupErr error
		var cancelling int
		victim := aio.Go(t, func(tt *aio.T) (int, error) {
			groupErr = aio.TaskGroup(tt, func(g *aio.Group) error {
				g.Go(func(t *aio.T) error {
					if err := aio.Sleep(t, time.Second); err != nil {
						return err
					}
					return boom
				})
				return aio.Sleep(tt, time.Hour)
			})
			cancelling = tt.Cancelling()
			after = aio.Sleep(tt, time.Minute)
			return 0, nil
		})
		var cancelled bool
		// Cancel the victim at the very moment the child fails (same virtual
		// instant, just before the child returns its error).
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		cancelled = victim.Cancel()
		if _, err := aio.Await(t, victim); err != nil {
			return err
		}
		if !cancelled {
			return errors.New("victim was already done")
		}
		if !errors.Is(groupErr, boom) {
			return errors.New("group error: " + errString(groupErr))
		}
		if cancelling != 1 {
			return errors.New("cancelling after the group should be 1 (the outside request)")
		}
		if !errors.Is(after, aio.ErrCancelled) {
			return errors.New("outside cancellation was lost: next await returned " + errString(after))
		}
		return nil
	})
}

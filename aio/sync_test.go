package aio_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

func TestEvent(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var ev aio.Event
		woke := 0
		var ts []*aio.Task[int]
		for i := 0; i < 5; i++ {
			ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
				if err := ev.Wait(t); err != nil {
					return 0, err
				}
				woke++
				return 0, nil
			}))
		}
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		if woke != 0 {
			return errors.New("woke before Set")
		}
		ev.Set()
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		if woke != 5 || !ev.IsSet() {
			return fmt.Errorf("woke=%d", woke)
		}
		if err := ev.Wait(t); err != nil {
			return err
		}
		ev.Clear()
		err := aio.Timeout(t, time.Second, func() error { return ev.Wait(t) })
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("wait on cleared event: %v", err)
		}
		return nil
	})
}

func TestLockSerializesAcrossAwaits(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var mu aio.Lock
		inside, maxInside := 0, 0
		var order []int
		var ts []*aio.Task[int]
		for i := 0; i < 20; i++ {
			ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
				if err := mu.Acquire(t); err != nil {
					return 0, err
				}
				defer mu.Release()
				inside++
				maxInside = max(maxInside, inside)
				order = append(order, i)
				err := aio.Sleep(t, time.Millisecond)
				inside--
				return 0, err
			}))
		}
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		if maxInside != 1 {
			return fmt.Errorf("%d coroutines inside the lock", maxInside)
		}
		for i, v := range order {
			if v != i {
				return fmt.Errorf("not FIFO: %v", order)
			}
		}
		if err := mu.Release(); !errors.Is(err, aio.ErrNotLocked) {
			return fmt.Errorf("release unlocked: %v", err)
		}
		return nil
	})
}

func TestLockCancelledWaiterPassesLockOn(t *testing.T) {
	runV(t, func(t *aio.T) error {
		var mu aio.Lock
		if err := mu.Acquire(t); err != nil {
			return err
		}
		a := aio.Go(t, func(t *aio.T) (int, error) {
			if err := mu.Acquire(t); err != nil {
				return 0, err
			}
			return 1, mu.Release()
		})
		b := aio.Go(t, func(t *aio.T) (int, error) {
			if err := mu.Acquire(t); err != nil {
				return 0, err
			}
			return 2, mu.Release()
		})
		if err := aio.Yield(t); err != nil {
			return err
		}
		mu.Release() // hands the lock to a...
		a.Cancel()   // ...which is cancelled before it runs: it must pass it on to b
		if _, err := aio.Await(t, a); !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("a: %v", err)
		}
		if v, err := aio.Await(t, b); v != 2 || err != nil {
			return fmt.Errorf("b: %v %v", v, err)
		}
		if mu.Locked() {
			return errors.New("lock left held")
		}
		return nil
	})
}

func TestSemaphoreLimitsConcurrency(t *testing.T) {
	runV(t, func(t *aio.T) error {
		sem, _ := aio.NewBoundedSemaphore(3)
		inside, maxInside := 0, 0
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			for i := 0; i < 30; i++ {
				g.Go(func(t *aio.T) error {
					if err := sem.Acquire(t); err != nil {
						return err
					}
					defer sem.Release()
					inside++
					maxInside = max(maxInside, inside)
					defer func() { inside-- }()
					return aio.Sleep(t, time.Second)
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if maxInside != 3 || sem.Value() != 3 {
			return fmt.Errorf("max inside %d, value %d", maxInside, sem.Value())
		}
		if err := sem.Release(); !errors.Is(err, aio.ErrReleasedTooMany) {
			return fmt.Errorf("over-release: %v", err)
		}
		return nil
	})
}

func TestConditionProducerConsumer(t *testing.T) {
	runV(t, func(t *aio.T) error {
		cond := aio.NewCondition(nil)
		var items []int
		var got []int
		consumer := aio.Go(t, func(t *aio.T) (int, error) {
			for len(got) < 10 {
				if err := cond.L.Acquire(t); err != nil {
					return 0, err
				}
				if err := cond.WaitFor(t, func() bool { return len(items) > 0 }); err != nil {
					cond.L.Release()
					return 0, err
				}
				got = append(got, items...)
				items = items[:0]
				cond.L.Release()
			}
			return len(got), nil
		})
		for i := 0; i < 10; i++ {
			if err := cond.L.Acquire(t); err != nil {
				return err
			}
			items = append(items, i)
			cond.Notify(1)
			cond.L.Release()
			if err := aio.Sleep(t, time.Millisecond); err != nil {
				return err
			}
		}
		if n, err := aio.Await(t, consumer); n != 10 || err != nil {
			return fmt.Errorf("consumer %d %v", n, err)
		}
		if err := cond.Wait(t); !errors.Is(err, aio.ErrNotLocked) {
			return fmt.Errorf("wait without lock: %v", err)
		}
		// Cancelled while waiting: the lock is held again on return.
		if err := cond.L.Acquire(t); err != nil {
			return err
		}
		err := aio.Timeout(t, time.Second, func() error { return cond.Wait(t) })
		if !errors.Is(err, aio.ErrTimeout) || !cond.L.Locked() {
			return fmt.Errorf("cancelled wait: %v locked=%v", err, cond.L.Locked())
		}
		cond.L.Release()
		cond.NotifyAll()
		return nil
	})
}

func TestQueueProducerConsumerJoin(t *testing.T) {
	runV(t, func(t *aio.T) error {
		q := aio.NewQueue[int](2)
		sum := 0
		for w := 0; w < 3; w++ {
			aio.Go(t, func(t *aio.T) (int, error) {
				for {
					v, err := q.Get(t)
					if err != nil {
						return 0, err
					}
					sum += v
					aio.Sleep(t, time.Millisecond)
					q.TaskDone()
				}
			})
		}
		for i := 1; i <= 100; i++ {
			if err := q.Put(t, i); err != nil {
				return err
			}
			if q.Len() > 2 {
				return errors.New("bounded queue grew past maxsize")
			}
		}
		if err := q.Join(t); err != nil {
			return err
		}
		if sum != 5050 {
			return fmt.Errorf("sum %d", sum)
		}
		if err := q.TaskDone(); !errors.Is(err, aio.ErrTaskDoneTooMany) {
			return fmt.Errorf("task done: %v", err)
		}
		if _, err := q.GetNowait(); !errors.Is(err, aio.ErrQueueEmpty) {
			return fmt.Errorf("get nowait: %v", err)
		}
		q.PutNowait(1)
		q.PutNowait(2)
		if err := q.PutNowait(3); !errors.Is(err, aio.ErrQueueFull) {
			return fmt.Errorf("put nowait: %v", err)
		}
		if v, err := q.GetNowait(); v != 1 || err != nil {
			return fmt.Errorf("fifo: %v %v", v, err)
		}
		return nil // the workers are cancelled when main returns
	})
}

func TestPrimitiveOfAnotherLoop(t *testing.T) {
	var ev aio.Event
	q := aio.NewQueue[int](0)
	runV(t, func(t *aio.T) error {
		ev.Set()
		if err := ev.Wait(t); err != nil {
			return err
		}
		return q.Put(t, 1)
	})
	runV(t, func(t *aio.T) error {
		if err := ev.Wait(t); !errors.Is(err, aio.ErrOtherLoop) {
			return fmt.Errorf("event: %v", err)
		}
		if _, err := q.Get(t); !errors.Is(err, aio.ErrOtherLoop) {
			return fmt.Errorf("queue: %v", err)
		}
		return nil
	})
}

func TestStressPrimitivesRealClock(t *testing.T) {
	const workers, items = 200, 5000
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		q := aio.NewQueue[int](10)
		var mu aio.Lock
		total := 0
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			for w := 0; w < workers; w++ {
				g.Go(func(t *aio.T) error {
					for {
						v, err := q.Get(t)
						if err != nil {
							return err
						}
						if v < 0 {
							return nil
						}
						if err := mu.Acquire(t); err != nil {
							return err
						}
						cur := total
						if err := aio.Yield(t); err != nil {
							mu.Release()
							return err
						}
						total = cur + v // safe: the lock spans the await
						mu.Release()
					}
				})
			}
			for i := 1; i <= items; i++ {
				if err := q.Put(t, 1); err != nil {
					return err
				}
			}
			for w := 0; w < workers; w++ {
				if err := q.Put(t, -1); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if total != items {
			return 0, fmt.Errorf("total %d, want %d", total, items)
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A waiter notified and then cancelled before it runs must not swallow the
// notification: another waiter is woken instead (CPython 3.13, gh-112202;
// a spurious wake-up is allowed by the condition variable protocol).
func TestConditionCancelledAfterNotifyPassesItOn(t *testing.T) {
	runV(t, func(t *aio.T) error {
		c := aio.NewCondition(nil)
		woken := []bool{false, false}
		waiter := func(i int) func(t *aio.T) (int, error) {
			return func(t *aio.T) (int, error) {
				if err := c.L.Acquire(t); err != nil {
					return 0, err
				}
				defer c.L.Release()
				err := aio.Timeout(t, time.Hour, func() error { return c.Wait(t) })
				if err == nil {
					woken[i] = true
				}
				return 0, err
			}
		}
		a := aio.Go(t, waiter(0))
		b := aio.Go(t, waiter(1))
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		if err := c.L.Acquire(t); err != nil {
			return err
		}
		c.Notify(1) // wakes a
		a.Cancel()  // ... which is cancelled before it runs
		c.L.Release()
		_, aerr := aio.Await(t, a)
		_, berr := aio.Await(t, b)
		if !errors.Is(aerr, aio.ErrCancelled) {
			return errors.New("a: " + errString(aerr))
		}
		if berr != nil || !woken[1] {
			return errors.New("the notification was lost with the cancelled waiter; b: " + errString(berr))
		}
		return nil
	})
}

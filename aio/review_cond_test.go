package aio_test

import (
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

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

package aio_test

import (
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

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

package aio

import (
	"context"
	"testing"
	"time"
)

// Waiters that give up (cancelled, timed out) must not pile up in an
// Event that is never set: Python removes the waiter's future in a finally.
func TestEventGoneWaitersDoNotAccumulate(t *testing.T) {
	const n = 10000
	var held int
	_, err := Run(context.Background(), func(t *T) (int, error) {
		var ev Event
		for i := 0; i < n; i++ {
			err := Timeout(t, time.Second, func() error { return ev.Wait(t) })
			if err != ErrTimeout {
				return 0, err
			}
		}
		held = len(ev.waiters.ws) - ev.waiters.head
		return 0, nil
	}, WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if held > 128 {
		t.Fatalf("%d abandoned waiters still queued after %d timed-out waits", held, n)
	}
}

package aio

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
)

// localCallbacks counts the loop-local done callbacks a task holds.
func localCallbacks(t *T) int {
	n := 0
	if t.localCb != nil {
		n++
	}
	if t.rare != nil {
		for _, cb := range t.rare.localMore {
			if cb != nil {
				n++
			}
		}
	}
	return n
}

// Waiting on a long-lived task again and again (Wait with FirstCompleted in
// a loop, AsCompleted, a timed-out Await) must not leave one callback per
// wait on it: Python removes its done callback when the wait ends. Otherwise
// AsCompleted over n tasks holds O(n^2) callbacks.
func TestFinishedWaitsDropTheirCallbacks(t *testing.T) {
	const n = 500
	var maxHeld int
	_, err := Run(context.Background(), func(t *T) (int, error) {
		tasks := make([]*Task[int], n)
		for i := range tasks {
			d := time.Duration(i+1) * time.Second
			tasks[i] = Go(t, func(t *T) (int, error) { return 0, Sleep(t, d) })
		}
		last := &tasks[n-1].t
		for range AsCompleted(t, tasks) {
			maxHeld = max(maxHeld, localCallbacks(last))
		}
		long := Go(t, func(t *T) (int, error) { return 0, Sleep(t, time.Hour) })
		for i := 0; i < n; i++ {
			_ = Timeout(t, time.Millisecond, func() error { _, err := Shield(t, long); return err })
			maxHeld = max(maxHeld, localCallbacks(&long.t))
		}
		var ws []future.Waitable
		ws = append(ws, long)
		for i := 0; i < n; i++ {
			_ = Timeout(t, time.Millisecond, func() error { _, _, err := Wait(t, ws, future.FirstCompleted); return err })
			maxHeld = max(maxHeld, localCallbacks(&long.t))
		}
		long.Cancel()
		return 0, nil
	}, WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if maxHeld > 8 {
		t.Fatalf("a task held up to %d done callbacks of waits that had ended", maxHeld)
	}
}

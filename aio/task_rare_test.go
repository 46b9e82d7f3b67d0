package aio_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trident-go/trident/aio"
)

// Names, extra done callbacks (several awaiters of one task) and the
// cancellation error live in a task's side struct: each still works.
func TestTaskNameAndManyAwaiters(t *testing.T) {
	cause := errors.New("stopped by the test")
	ctx, cancel := context.WithCancelCause(context.Background())
	var name, renamed, str string
	var sums [4]int
	var blocked *aio.Task[int]
	_, err := aio.Run(ctx, func(tt *aio.T) (int, error) {
		k := aio.Go(tt, func(t *aio.T) (int, error) { return 7, aio.Yield(t) })
		name = k.Name()
		k.SetName("worker")
		renamed = k.Name()
		str = k.String()
		ws := make([]*aio.Task[int], len(sums))
		for i := range ws {
			ws[i] = aio.Go(tt, func(t *aio.T) (int, error) {
				v, err := aio.Await(t, k)
				sums[i] = v
				return v, err
			})
		}
		for _, w := range ws {
			if _, err := aio.Await(tt, w); err != nil {
				return 0, err
			}
		}
		// A task left waiting when Run's context is cancelled sees the
		// cancellation with its cause.
		ev := &aio.Event{}
		blocked = aio.Go(tt, func(t *aio.T) (int, error) { return 0, ev.Wait(t) })
		if err := aio.Yield(tt); err != nil {
			return 0, err
		}
		cancel(cause)
		_, err := aio.Await(tt, blocked) // main is cancelled too
		return 0, err
	})
	if err != nil && !errors.Is(err, cause) {
		t.Fatalf("Run: %v", err)
	}
	if !strings.HasPrefix(name, "Task-") {
		t.Errorf("default name %q, want Task-N", name)
	}
	if renamed != "worker" || !strings.Contains(str, "worker") {
		t.Errorf("after SetName: Name %q, String %q", renamed, str)
	}
	for i, s := range sums {
		if s != 7 {
			t.Errorf("awaiter %d got %d, want 7", i, s)
		}
	}
	if blockedErr := blocked.Err(); !blocked.Cancelled() || !errors.Is(blockedErr, aio.ErrCancelled) || !errors.Is(blockedErr, cause) {
		t.Errorf("cancelled task error = %v, want ErrCancelled wrapping the cause", blockedErr)
	}
}

package aio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

// A Submit (or CallSoonThreadsafe) accepted while main makes its last step
// must not be dropped when the loop closes: its future must end.
func TestSubmitDuringLastStepIsNotDropped(t *testing.T) {
	var f *future.Future[int]
	ran := false
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		f = aio.Submit(t.Loop(), context.Background(), func(t *aio.T) (int, error) { return 7, nil })
		if err := t.Loop().CallSoonThreadsafe(func() { ran = true }); err != nil {
			return 0, err
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := f.Result(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("future of a Submit accepted before the loop closed never completed")
	}
	if err == nil && v != 7 {
		t.Fatalf("v = %d", v)
	}
	if !ran {
		t.Fatal("CallSoonThreadsafe returned nil but fn never ran")
	}
}

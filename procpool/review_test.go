package procpool_test

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// Calls cancelled while they wait in the queue for the first worker are
// dropped when that worker comes up; Shutdown, called in between, must
// then see the pool idle instead of waiting for its context.
func TestShutdownAfterQueuedCallsCancelled(t *testing.T) {
	p, err := procpool.New(procpool.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fs []*future.Future[int]
	for i := range 4 {
		fs = append(fs, square.Submit(p, ctx, i))
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard
	defer scancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown after the queued calls were cancelled: %v", err)
	}
	p.Close()
	for _, f := range fs {
		if _, err := f.Result(ctxT(t)); err != nil && !future.IsCancelled(err) {
			t.Errorf("call: %v", err)
		}
	}
}

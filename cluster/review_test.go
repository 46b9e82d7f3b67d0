package cluster

import (
	"testing"

	"github.com/trident-go/trident/future"
)

// A connection that drops while the server's acknowledgements of just
// published tasks are still on their way must not fail those tasks: the
// executor publishes its unfinished tasks again once reconnected, so every
// future completes with its result.
func TestReconnectWithPublishAcksOutstanding(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, ExecutorOptions{Queue: "flaky"})
	ctx := waitCtx(t)
	var fs []*future.Future[int]
	for i := range 500 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	// At once, while many acknowledgements are outstanding.
	if err := conn.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	serveInProcess(t, conn, WorkerOptions{Queue: "flaky", Concurrency: 4})
	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil {
			t.Fatalf("square(%d): %v", i, err)
		}
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
}

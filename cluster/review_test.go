package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

// Closing the connection before the executor, while the server's
// acknowledgements of just published tasks are outstanding, must not hang
// Executor.Close (it waits for its own goroutines) nor leave a future
// unfinished.
func TestExecutorCloseAfterConnClosedWithAcksOutstanding(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn, err := Connect(context.Background(), s.ConnectOptions())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExecutor(context.Background(), conn, ExecutorOptions{Queue: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	var fs []*future.Future[int]
	for i := range 500 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	conn.Close()
	closed := make(chan error, 1)
	go func() { closed <- ex.Close() }()
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("Executor.Close hung after the connection was closed")
	}
	for i, f := range fs {
		if _, err := f.Result(ctx); err == nil {
			continue // it may have been answered before the close
		} else if !errors.Is(err, ErrClosed) && !strings.Contains(err.Error(), "closed") {
			t.Errorf("square(%d): %v", i, err)
		}
	}
}

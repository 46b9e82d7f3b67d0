package cluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
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
	ex := newExecutor(t, conn, WithQueue("flaky"))
	ctx := waitCtx(t)
	var fs []*future.Future[int]
	for i := range 500 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	// At once, while many acknowledgements are outstanding.
	if err := conn.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	serveInProcess(t, conn, WithQueue("flaky"), WithConcurrency(4))
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
	ex, err := NewExecutor(context.Background(), conn, WithQueue("gone"))
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

// Shutdown returns only after every callback of a completed task has run:
// a typed future is completed by such a callback (the registry's bridge),
// so a Shutdown that returned between the raw future's completion and its
// callbacks left typed futures pending (seen once in CI).
func TestShutdownWaitsForCompletionCallbacks(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("sdcb"))
	payload, err := square.Encode(ex.Backend().Codec(), 6)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var ran atomic.Int32
	for range n {
		raw := ex.Backend().SubmitRaw(ctx, square.Name(), payload).Future()
		raw.OnDone(func() {
			time.Sleep(30 * time.Millisecond) // a slow callback after the executor's own
			ran.Add(1)
		})
	}
	serveInProcess(t, conn, WithQueue("sdcb"))
	if err := ex.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ran.Load(); got != n {
		t.Fatalf("Shutdown returned with %d of %d completion callbacks run", got, n)
	}
}

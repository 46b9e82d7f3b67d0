package syncx

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestEventBasics(t *testing.T) {
	var e Event
	if e.IsSet() {
		t.Fatal("zero Event is set")
	}
	if err := e.Wait(cancelledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on cleared event with cancelled ctx = %v, want context.Canceled", err)
	}
	e.Set()
	e.Set() // idempotent
	if !e.IsSet() {
		t.Fatal("IsSet false after Set")
	}
	if err := e.Wait(cancelledCtx()); err != nil {
		t.Fatalf("Wait on set event = %v, want nil even with a done ctx", err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Done not closed while set")
	}
	e.Clear()
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet true after Clear")
	}
	select {
	case <-e.Done():
		t.Fatal("Done closed after Clear")
	default:
	}
}

func TestEventWakesAllWaiters(t *testing.T) {
	var e Event
	ctx := guardCtx(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.Wait(ctx)
		}()
	}
	e.Set()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
}

func TestEventWaitCancelled(t *testing.T) {
	var e Event
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Wait(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	// The event is still usable.
	e.Set()
	if err := e.Wait(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestEventStress sets and clears while many goroutines wait; each waiter
// must only return nil after a Set, and nobody may hang.
func TestEventStress(t *testing.T) {
	var e Event
	ctx := guardCtx(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 2000 {
		e.Set()
		e.Clear()
	}
	e.Set()
	close(stop)
	wg.Wait()
}

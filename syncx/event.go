package syncx

import (
	"context"
	"sync"
)

// Event is a flag that goroutines can wait for: Set raises it and wakes every
// waiter, Clear lowers it again, and Wait blocks until it is raised. The zero
// value is a usable, cleared Event. An Event must not be copied after first
// use.
//
// Python: threading.Event. Differences: Wait takes a context instead of a
// timeout and returns nil (Python: True) or ctx.Err() (Python: False); Done
// exposes the current wait as a channel for use in a select.
type Event struct {
	mu  sync.Mutex
	ch  chan struct{} // closed while the event is set
	set bool
}

// chanLocked returns the channel of the current cleared period, creating it
// on first use. Callers hold e.mu.
func (e *Event) chanLocked() chan struct{} {
	if e.ch == nil {
		e.ch = make(chan struct{})
	}
	return e.ch
}

// Set raises the flag and wakes every goroutine blocked in Wait. Setting an
// already set Event does nothing. Python: Event.set.
func (e *Event) Set() {
	e.mu.Lock()
	if !e.set {
		e.set = true
		close(e.chanLocked())
	}
	e.mu.Unlock()
}

// Clear lowers the flag; later calls to Wait block until Set is called again.
// Goroutines already woken by an earlier Set are not affected. Python:
// Event.clear.
func (e *Event) Clear() {
	e.mu.Lock()
	if e.set {
		e.set = false
		e.ch = make(chan struct{})
	}
	e.mu.Unlock()
}

// IsSet reports whether the flag is raised. Python: Event.is_set.
func (e *Event) IsSet() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.set
}

// Done returns a channel that is closed when the flag is raised. The channel
// belongs to the current cleared period: after Set and Clear, a new channel is
// returned. Python has no counterpart; use it to wait in a select.
func (e *Event) Done() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.chanLocked()
}

// Wait blocks until the flag is raised or ctx ends. It returns nil at once if
// the flag is already raised, and ctx.Err() if ctx ends first. Python:
// Event.wait(timeout), which returns True or False instead.
func (e *Event) Wait(ctx context.Context) error {
	ch := e.Done()
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

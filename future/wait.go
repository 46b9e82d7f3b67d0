package future

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"sync"
	"sync/atomic"
)

// WaitMode says when Wait returns (Python's return_when).
type WaitMode int

const (
	// AllCompleted: return when every future is final (Python's ALL_COMPLETED).
	AllCompleted WaitMode = iota
	// FirstCompleted: return when any future is final (FIRST_COMPLETED).
	FirstCompleted
	// FirstError: return when any future fails with an error, or when all
	// are final (FIRST_EXCEPTION). As in Python, a cancelled future is not
	// an error and does not end the wait.
	FirstError
)

// String names the mode as Python does.
func (m WaitMode) String() string {
	switch m {
	case AllCompleted:
		return "ALL_COMPLETED"
	case FirstCompleted:
		return "FIRST_COMPLETED"
	case FirstError:
		return "FIRST_EXCEPTION"
	}
	return fmt.Sprintf("WaitMode(%d)", int(m))
}

// Wait waits for the futures as mode says and returns them split into those
// that are final and those that are not (Python's concurrent.futures.wait).
// Both slices keep the input order. If ctx ends first, Wait returns the
// split at that moment and ctx.Err(); the futures themselves are not
// cancelled. A future given more than once counts once and is listed once,
// where it first appears, as in Python (whose wait makes a set of fs). Wait
// leaves no callback behind on the futures when it returns, so it can be
// called in a loop.
func Wait[F Waitable](ctx context.Context, fs []F, mode WaitMode) (done, notDone []F, err error) {
	if mode < AllCompleted || mode > FirstError {
		return nil, nil, fmt.Errorf("future.Wait: unknown mode %d", int(mode))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	fs = distinct(fs)
	split := func() ([]F, []F) {
		done, notDone = nil, nil
		for _, f := range fs {
			if f.State().Final() {
				done = append(done, f)
			} else {
				notDone = append(notDone, f)
			}
		}
		return done, notDone
	}
	// A scan of the states first: nothing to register when the answer is
	// already known (and an empty fs is always satisfied).
	already := func() bool {
		all := true
		for _, f := range fs {
			s := f.State()
			if !s.Final() {
				all = false
				continue
			}
			if mode == FirstCompleted || (mode == FirstError && s == Failed) {
				return true
			}
		}
		return all
	}
	if already() {
		done, notDone = split()
		return done, notDone, nil
	}
	// Each future's callback counts it as final, and notes a failure for
	// FirstError; the waiter is woken to check the count. The callbacks
	// are withdrawn on return, so calling Wait in a loop over the same
	// (still pending) futures does not pile them up.
	var (
		nfinal  atomic.Int64
		failure atomic.Bool
		wake    = make(chan struct{}, 1)
		stops   = make([]func() bool, 0, len(fs))
	)
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	satisfied := func() bool {
		n := nfinal.Load()
		switch mode {
		case FirstCompleted:
			return n > 0
		case FirstError:
			if failure.Load() {
				return true
			}
		}
		return n == int64(len(fs))
	}
	for _, f := range fs {
		stops = append(stops, afterDone(f, func() {
			if mode == FirstError && f.State() == Failed {
				failure.Store(true)
			}
			nfinal.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		}))
		if mode == FirstCompleted && nfinal.Load() > 0 {
			break // no need to watch the rest
		}
	}
	for !satisfied() {
		select {
		case <-wake:
		case <-ctx.Done():
			done, notDone = split()
			return done, notDone, ctx.Err()
		}
	}
	done, notDone = split()
	return done, notDone, nil
}

// AsCompleted yields the futures in the order they complete (Python's
// as_completed). Futures already final when iteration starts come first, in
// input order. If ctx ends before all are final, it yields the zero F with
// ctx.Err() once and stops; unlike Python's TimeoutError this leaves the
// remaining futures running. A future given more than once is yielded
// once, as in Python (whose as_completed makes a set of fs). Breaking out
// of the loop early is allowed and leaves no callback behind on the futures
// still pending.
func AsCompleted[F Waitable](ctx context.Context, fs []F) iter.Seq2[F, error] {
	return func(yield func(F, error) bool) {
		if ctx == nil {
			ctx = context.Background()
		}
		fs := distinct(fs)
		if len(fs) == 0 {
			return
		}
		var (
			mu      sync.Mutex
			ready   []F
			pending = len(fs)
			wake    = make(chan struct{}, 1)
		)
		// The callbacks are withdrawn when the iteration ends, so breaking
		// out early (or ctx ending) leaves nothing behind on futures that
		// are still pending.
		stops := make([]func() bool, 0, len(fs))
		defer func() {
			for _, stop := range stops {
				stop()
			}
		}()
		for _, f := range fs {
			stops = append(stops, afterDone(f, func() {
				mu.Lock()
				ready = append(ready, f)
				mu.Unlock()
				select {
				case wake <- struct{}{}:
				default:
				}
			}))
		}
		var batch []F
		for pending > 0 {
			mu.Lock()
			batch = append(batch[:0], ready...)
			ready = ready[:0]
			mu.Unlock()
			if len(batch) == 0 {
				select {
				case <-wake:
					continue
				case <-ctx.Done():
					var zero F
					yield(zero, ctx.Err())
					return
				}
			}
			for _, f := range batch {
				pending--
				if !yield(f, nil) {
					return
				}
			}
		}
	}
}

// distinct returns fs without its repeats, keeping the first of each in
// order; it returns fs itself when nothing repeats. Waitables whose dynamic
// type cannot be compared safely (no Waitable of trident's is such) are all
// kept: they have no identity to compare.
func distinct[F Waitable](fs []F) []F {
	if len(fs) < 2 {
		return fs
	}
	if len(fs) <= 16 {
		// Few: compare each with those before it, allocating nothing
		// unless a repeat is found.
		for i := 1; i < len(fs); i++ {
			if !identifiable(fs[i]) {
				continue
			}
			for j := range i {
				if any(fs[j]) == any(fs[i]) {
					return dropRepeats(fs)
				}
			}
		}
		return fs
	}
	seen := make(map[any]struct{}, len(fs))
	for _, f := range fs {
		if !identifiable(f) {
			continue
		}
		if _, dup := seen[any(f)]; dup {
			return dropRepeats(fs)
		}
		seen[any(f)] = struct{}{}
	}
	return fs
}

// dropRepeats returns a copy of fs without its repeats.
func dropRepeats[F Waitable](fs []F) []F {
	seen := make(map[any]struct{}, len(fs))
	out := make([]F, 0, len(fs))
	for _, f := range fs {
		if identifiable(f) {
			if _, dup := seen[any(f)]; dup {
				continue
			}
			seen[any(f)] = struct{}{}
		}
		out = append(out, f)
	}
	return out
}

// identifiable reports whether f can be compared with == without a panic.
func identifiable[F Waitable](f F) bool {
	t := reflect.TypeOf(any(f))
	return t != nil && t.Comparable() && !hasInterface(t)
}

// hasInterface reports whether comparing values of type t (a comparable
// type) can panic: it holds an interface, whose dynamic value may not be
// comparable.
func hasInterface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return hasInterface(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasInterface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// Results waits for every future and returns their values in input order
// with the errors joined by position. It stops waiting when ctx ends.
// It is a convenience for the common "submit many, collect all" loop.
func Results[T any](ctx context.Context, fs []*Future[T]) ([]T, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	out := make([]T, len(fs))
	var errs []error
	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil {
			if ctx.Err() != nil && err == ctx.Err() {
				return out, err
			}
			errs = append(errs, fmt.Errorf("future %d: %w", i, err))
			continue
		}
		out[i] = v
	}
	return out, errors.Join(errs...)
}

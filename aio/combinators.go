package aio

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"time"

	"github.com/trident-go/trident/future"
)

// ErrTimeout is the error of a Timeout scope or WaitFor whose deadline
// passed (Python's TimeoutError). errors.Is(ErrTimeout,
// context.DeadlineExceeded) is true.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string        { return "aio: timeout: " + context.DeadlineExceeded.Error() }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (timeoutError) Timeout() bool        { return true }

// errScopeExpired is the cause carried by the cancellation a Timeout scope
// sends into its body; the scope itself turns it into ErrTimeout.
var errScopeExpired = errors.New("aio: deadline of an enclosing Timeout scope")

// Sleep suspends the coroutine for d on the loop's clock (Python's
// asyncio.sleep). Sleep(t, 0) just lets the other ready coroutines run
// (see Yield). It returns the cancellation error if the task is cancelled
// meanwhile.
func Sleep(t *T, d time.Duration) error {
	if err := t.enter(); err != nil {
		return err
	}
	if d <= 0 {
		return t.yieldNow()
	}
	l := t.loop
	t.newPark()
	l.sleepUntil(t, addNanos(l.nowNanos(), d))
	for {
		t.suspend()
		if err := t.takeCancel(); err != nil {
			// Cancelled before the entry fired: it is dead now.
			l.sleepCancelled(t)
			return err
		}
		if !t.sleeping {
			return nil // the entry fired
		}
		// Made ready by a cancellation that Uncancel withdrew before it
		// was delivered: the sleep is not over.
	}
}

// Yield lets every other ready coroutine run once before this one continues
// (Python's await asyncio.sleep(0)).
func Yield(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	return t.yieldNow()
}

func (t *T) yieldNow() error {
	t.newPark()
	t.state = stateReady
	t.loop.pushTask(t)
	t.co.yield(struct{}{})
	if t.mustCancel {
		t.mustCancel = false
		return t.cancelError()
	}
	return nil
}

// checkLoop marks tasks of this loop as awaited and rejects those of another.
func checkLoop[W future.Waitable](t *T, ws []W) error {
	for _, w := range ws {
		if lt, ok := any(w).(loopTask); ok {
			o := lt.core()
			if o.loop != nil && o.loop != t.loop {
				return ErrOtherLoop
			}
			if o == t {
				return ErrAwaitSelf
			}
			o.retrieved = true
		}
	}
	return nil
}

// waitSet parks t until done(i, left) (called as each ws[i] ends, with the
// number of those not final yet) says so, or until all are final. It returns
// the cancellation error if t is cancelled first.
func waitSet[W future.Waitable](t *T, ws []W, done func(i, left int) bool) error {
	w := newWatch(t, ws, done)
	defer w.close()
	if w.fired {
		return nil
	}
	return t.park()
}

// cancelAndWait cancels every waitable that is not final and waits until
// those of this loop have finished their cleanup. Further cancellations of t
// meanwhile are absorbed: t is already on its way out.
func cancelAndWait[W future.Waitable](t *T, ws []W) {
	var local []W
	for _, w := range ws {
		if w.State().Final() {
			continue
		}
		if lt, ok := any(w).(loopTask); ok && lt.core().loop == t.loop {
			lt.core().cancel(ErrCancelled)
			local = append(local, w)
		} else if c, ok := any(w).(interface{ Cancel() bool }); ok {
			c.Cancel()
		}
	}
	for {
		left := 0
		for _, w := range local {
			if !w.State().Final() {
				left++
			}
		}
		if left == 0 {
			return
		}
		waitSet(t, local, func(_, left int) bool { return left == 0 })
	}
}

// Gather waits for every awaitable and returns their values in argument
// order (Python's asyncio.gather). It fails fast: the first error to
// happen is returned at once, and the other awaitables keep running, as in
// Python. If the gathering task is cancelled, every awaitable not yet final is
// cancelled and Gather returns after their cleanup. See GatherAll to collect
// every error instead.
func Gather[R any, A Awaitable[R]](t *T, aws ...A) ([]R, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	if err := checkLoop(t, aws); err != nil {
		return nil, err
	}
	var first error
	left := 0
	for _, a := range aws {
		if !a.State().Final() {
			left++
		} else if err := a.Err(); err != nil && first == nil {
			first = err
		}
	}
	if first == nil && left > 0 {
		err := waitSet(t, aws, func(i, left int) bool {
			if e := aws[i].Err(); e != nil && first == nil {
				first = e
				return true
			}
			return left == 0
		})
		if err != nil {
			cancelAndWait(t, aws)
			return nil, err
		}
	}
	if first != nil {
		return nil, first
	}
	out := make([]R, len(aws))
	for i, a := range aws {
		out[i], _, _ = a.Value()
	}
	return out, nil
}

// GatherAll waits for every awaitable and returns all values and all errors,
// both in argument order (Python's gather(..., return_exceptions=True)):
// errs[i] is the error of aws[i]. The returned error is not nil only when the
// gathering task itself is cancelled (then the awaitables are cancelled too
// and waited for) or misused.
func GatherAll[R any, A Awaitable[R]](t *T, aws ...A) (vals []R, errs []error, err error) {
	if err := t.enter(); err != nil {
		return nil, nil, err
	}
	if err := checkLoop(t, aws); err != nil {
		return nil, nil, err
	}
	left := 0
	for _, a := range aws {
		if !a.State().Final() {
			left++
		}
	}
	if left > 0 {
		if err := waitSet(t, aws, func(_, left int) bool { return left == 0 }); err != nil {
			cancelAndWait(t, aws)
			return nil, nil, err
		}
	}
	vals = make([]R, len(aws))
	errs = make([]error, len(aws))
	for i, a := range aws {
		vals[i], errs[i], _ = a.Value()
	}
	return vals, errs, nil
}

// Wait waits for the waitables as mode says (future.AllCompleted,
// FirstCompleted or FirstError) and splits them into final and not final,
// keeping their order (Python's asyncio.wait). As with Python's
// FIRST_EXCEPTION, FirstError returns when one of them has failed with an
// error (state future.Failed); one that was cancelled does not count as an
// error, so with only cancellations Wait returns when all are final.
// Nothing is cancelled: not when Wait returns, not when the waiting task is
// cancelled. Use Timeout around it for Python's timeout argument.
func Wait[W future.Waitable](t *T, ws []W, mode future.WaitMode) (done, pending []W, err error) {
	if err := t.enter(); err != nil {
		return nil, nil, err
	}
	if mode < future.AllCompleted || mode > future.FirstError {
		return nil, nil, errors.New("aio.Wait: unknown wait mode " + mode.String())
	}
	if err := checkLoop(t, ws); err != nil {
		return nil, nil, err
	}
	satisfied := func() bool {
		all := true
		for _, w := range ws {
			s := w.State()
			if !s.Final() {
				all = false
				continue
			}
			if mode == future.FirstCompleted || (mode == future.FirstError && s == future.Failed) {
				return true
			}
		}
		return all
	}
	if !satisfied() {
		err = waitSet(t, ws, func(int, int) bool { return satisfied() })
	}
	for _, w := range ws {
		if w.State().Final() {
			done = append(done, w)
		} else {
			pending = append(pending, w)
		}
	}
	return done, pending, err
}

// AsCompleted yields the waitables as they become final (Python's
// asyncio.as_completed, yielding the waitables themselves rather than new
// awaitables). Those already final come first, in order. A waitable given
// more than once is yielded once, as Python de-duplicates the input. If the task is
// cancelled while waiting, it yields the zero W with the cancellation error
// and stops; nothing is cancelled. The loop body runs in the coroutine, so it
// may await.
func AsCompleted[W future.Waitable](t *T, ws []W) iter.Seq2[W, error] {
	return func(yield func(W, error) bool) {
		var zero W
		if err := t.enter(); err != nil {
			yield(zero, err)
			return
		}
		if err := checkLoop(t, ws); err != nil {
			yield(zero, err)
			return
		}
		ws = distinct(ws)
		yielded := make([]bool, len(ws))
		left := len(ws)
		for left > 0 {
			progressed := false
			for i, w := range ws {
				if !yielded[i] && w.State().Final() {
					yielded[i] = true
					left--
					progressed = true
					if !yield(w, nil) {
						return
					}
				}
			}
			if left == 0 || progressed {
				continue
			}
			var pend []W
			for i, w := range ws {
				if !yielded[i] {
					pend = append(pend, w)
				}
			}
			if err := t.enter(); err != nil {
				yield(zero, err)
				return
			}
			if err := waitSet(t, pend, func(int, int) bool { return true }); err != nil {
				yield(zero, err)
				return
			}
		}
	}
}

// Shield awaits aw but does not pass a cancellation of the awaiting task on
// to it (Python's asyncio.shield): if the task is cancelled, Shield returns
// the cancellation error at once and aw keeps running.
func Shield[R any](t *T, aw Awaitable[R]) (R, error) {
	var zero R
	if err := t.enter(); err != nil {
		return zero, err
	}
	if err := t.await(aw, true); err != nil {
		return zero, err
	}
	v, err, _ := aw.Value()
	return v, err
}

// Timeout runs body (which awaits with the same t) and cancels it when d
// has passed on the loop's clock; it then returns ErrTimeout, which matches
// context.DeadlineExceeded (Python's async with asyncio.timeout(d)). Like
// Python it uses the task's cancellation count, so a cancellation from
// outside during the scope is not mistaken for the timeout and nested
// scopes each report their own. Body should return the cancellation error it
// receives; if it swallows it and returns nil, Timeout returns nil. To read
// or move the deadline while body runs (Python's "as cm" with
// cm.reschedule), use TimeoutWith.
func Timeout(t *T, d time.Duration, body func() error) error {
	if err := t.onLoop(); err != nil {
		return err
	}
	return TimeoutAt(t, t.loop.Now().Add(d), body)
}

// TimeoutAt is Timeout with an absolute deadline on the loop's clock
// (Python's asyncio.timeout_at). The zero time.Time means no deadline
// (Python's timeout_at(None)); a deadline already past expires the scope
// at the loop's next iteration.
func TimeoutAt(t *T, deadline time.Time, body func() error) error {
	if body == nil {
		if err := t.enter(); err != nil {
			return err
		}
		return ErrNilFunc
	}
	return TimeoutWith(t, deadline, func(*TimeoutScope) error { return body() })
}

// ErrTimeoutScopeState is the error of TimeoutScope.Reschedule once the
// scope has expired or ended (Python raises RuntimeError "Cannot change
// state of expiring Timeout").
var ErrTimeoutScopeState = errors.New("aio: the Timeout scope has expired or ended; its deadline cannot change")

// TimeoutScope is the handle of a running TimeoutWith scope (Python's
// asyncio.Timeout, the object "async with asyncio.timeout(d) as cm"
// binds): its deadline can be read and moved while the body runs. Loop
// only. The zero time.Time stands for Python's None, no deadline.
type TimeoutScope struct {
	t        *T
	when     time.Time
	h        *Handle
	expiring bool // the deadline passed and the body was cancelled
	ended    bool
}

// When returns the scope's deadline; ok is false when it has none (Python's
// Timeout.when(), which returns None then).
func (s *TimeoutScope) When() (deadline time.Time, ok bool) {
	return s.when, !s.when.IsZero()
}

// Expired reports whether the deadline passed while the body ran, so that
// the scope cancelled it (Python's Timeout.expired()). It stays true after
// the scope has ended, also when the body swallowed the cancellation and
// the scope returned nil.
func (s *TimeoutScope) Expired() bool { return s.expiring }

// Reschedule moves the deadline to when, on the loop's clock; the zero
// time.Time removes it (Python's Timeout.reschedule(when), None for no
// deadline). A deadline already past expires the scope at the loop's next
// iteration, not at once, as in Python. Once the scope has expired or
// ended, Reschedule returns ErrTimeoutScopeState (Python raises
// RuntimeError).
func (s *TimeoutScope) Reschedule(when time.Time) error {
	if s.expiring || s.ended {
		return ErrTimeoutScopeState
	}
	s.when = when
	if s.h != nil {
		s.h.Cancel()
		s.h = nil
	}
	if when.IsZero() {
		return nil
	}
	l := s.t.loop
	if !when.After(l.Now()) {
		s.h = l.CallSoon(s.fire)
	} else {
		s.h = l.CallAt(when, s.fire)
	}
	return nil
}

func (s *TimeoutScope) fire() {
	s.h = nil
	s.expiring = true
	s.t.cancel(future.CancelledError(errScopeExpired))
}

// TimeoutWith is TimeoutAt with a handle on the scope, through which body
// can read and move the deadline (Python's "async with
// asyncio.timeout_at(when) as cm", with cm.reschedule, cm.when and
// cm.expired). The zero deadline means none (Python's timeout(None)); body
// may set one later with Reschedule. When the deadline passes, the task is
// cancelled; if body then returns an error matching ErrCancelled and no
// other cancellation of the task is pending, TimeoutWith returns
// ErrTimeout. If body swallows the cancellation (or the task it awaited
// did, see Await) and returns nil or another error, that is returned, as
// in Python.
func TimeoutWith(t *T, deadline time.Time, body func(s *TimeoutScope) error) error {
	if err := t.enter(); err != nil {
		return err
	}
	if body == nil {
		return ErrNilFunc
	}
	base := int(t.cancels)
	s := &TimeoutScope{t: t}
	s.Reschedule(deadline)
	err := body(s)
	if s.h != nil {
		s.h.Cancel()
		s.h = nil
	}
	s.ended = true
	if s.expiring {
		if t.Uncancel() <= base && err != nil && errors.Is(err, future.ErrCancelled) {
			return ErrTimeout
		}
	}
	return err
}

// WaitFor awaits aw for at most d (Python's asyncio.wait_for): on timeout aw
// is cancelled (and, if it is a task of this loop, waited for) and ErrTimeout
// is returned.
func WaitFor[R any](t *T, aw Awaitable[R], d time.Duration) (R, error) {
	var v R
	var aerr error
	err := Timeout(t, d, func() error {
		v, aerr = Await(t, aw)
		return aerr
	})
	if err == ErrTimeout {
		var zero R
		return zero, err
	}
	return v, err
}

// distinct returns ws without repeats (the first of each kept, in order);
// ws itself when it has none. Waitables whose dynamic type cannot be
// compared are kept as they are.
func distinct[W future.Waitable](ws []W) []W {
	if len(ws) < 2 {
		return ws
	}
	seen := make(map[any]struct{}, len(ws))
	var out []W
	for i, w := range ws {
		k := any(w)
		if k != nil && !reflect.TypeOf(k).Comparable() {
			if out != nil {
				out = append(out, w)
			}
			continue
		}
		if _, dup := seen[k]; dup {
			if out == nil {
				out = append(make([]W, 0, len(ws)), ws[:i]...)
			}
			continue
		}
		seen[k] = struct{}{}
		if out != nil {
			out = append(out, w)
		}
	}
	if out == nil {
		return ws
	}
	return out
}

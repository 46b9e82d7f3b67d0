package aio_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// TimeoutWith's scope against CPython 3.11's asyncio.timeout() context
// manager (reschedule, when, expired; the same in 3.12 and 3.13): a
// deadline moved later lets the body outlive the first one, a scope
// without a deadline (None) gets one, a deadline is removed, a deadline in
// the past expires at the loop's next iteration rather than at once, and
// once the scope is expiring or over the deadline cannot change
// (RuntimeError in Python, ErrTimeoutScopeState here).
func TestTimeoutScopeRescheduleAsInPython(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace traceLog
	say := trace.say
	ms := time.Millisecond
	runV(t, func(t *aio.T) error {
		err := aio.TimeoutWith(t, t.Now().Add(50*ms), func(s *aio.TimeoutScope) error {
			_, ok := s.When()
			say("deadline set: %s", pyBool(ok))
			if err := s.Reschedule(t.Now().Add(200 * ms)); err != nil {
				return err
			}
			if err := aio.Sleep(t, 100*ms); err != nil {
				return err
			}
			say("extended: slept past the first deadline, expired=%s", pyBool(s.Expired()))
			return nil
		})
		if err != nil {
			return fmt.Errorf("extended scope: %v", err)
		}

		var scope *aio.TimeoutScope
		err = aio.TimeoutWith(t, time.Time{}, func(s *aio.TimeoutScope) error {
			scope = s
			_, ok := s.When()
			say("no deadline: %s", pyBool(!ok))
			s.Reschedule(t.Now().Add(10 * ms))
			return aio.Sleep(t, time.Second)
		})
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("scope given a deadline: %v, want ErrTimeout", err)
		}
		say("timed out after a deadline was set, expired=%s", pyBool(scope.Expired()))

		err = aio.TimeoutWith(t, t.Now().Add(10*ms), func(s *aio.TimeoutScope) error {
			s.Reschedule(time.Time{})
			if err := aio.Sleep(t, 50*ms); err != nil {
				return err
			}
			say("deadline removed: no timeout, expired=%s", pyBool(s.Expired()))
			return nil
		})
		if err != nil {
			return fmt.Errorf("scope without deadline: %v", err)
		}

		err = aio.TimeoutWith(t, t.Now().Add(10*time.Second), func(s *aio.TimeoutScope) error {
			s.Reschedule(t.Now().Add(-time.Second))
			say("past deadline: expired=%s before the next await", pyBool(s.Expired()))
			if err := aio.Yield(t); err != nil {
				return err
			}
			say("not reached")
			return nil
		})
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("past deadline: %v, want ErrTimeout", err)
		}
		say("past deadline: timed out at the next await")

		err = aio.TimeoutWith(t, t.Now().Add(10*ms), func(s *aio.TimeoutScope) error {
			scope = s
			err := aio.Sleep(t, time.Second)
			if err != nil && errors.Is(s.Reschedule(time.Time{}), aio.ErrTimeoutScopeState) {
				say("reschedule while expiring: RuntimeError")
			}
			return err
		})
		if errors.Is(err, aio.ErrTimeout) {
			say("timed out")
		}
		if errors.Is(scope.Reschedule(time.Time{}), aio.ErrTimeoutScopeState) {
			say("reschedule after the scope: RuntimeError")
		}
		return nil
	})
	compareTraces(t, "timeout_reschedule", trace)
}

// A Timeout scope whose deadline is pushed back again and again (a
// heartbeat) never fires while the pushes come in time, and fires once
// they stop; only the latest deadline counts.
func TestTimeoutScopeHeartbeat(t *testing.T) {
	runV(t, func(t *aio.T) error {
		start := t.Now()
		beats := 0
		err := aio.TimeoutWith(t, start.Add(time.Second), func(s *aio.TimeoutScope) error {
			for {
				if err := aio.Sleep(t, 900*time.Millisecond); err != nil {
					return err
				}
				if beats < 50 {
					beats++
					s.Reschedule(t.Now().Add(time.Second))
				}
			}
		})
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("heartbeat scope = %v, want ErrTimeout", err)
		}
		// 50 beats at 0.9 s each, then the last deadline 1 s after the
		// last beat.
		if el, want := t.Now().Sub(start), 50*900*time.Millisecond+time.Second; el != want {
			return fmt.Errorf("timed out after %v, want %v", el, want)
		}
		if err := aio.TimeoutWith(t, time.Time{}, nil); !errors.Is(err, aio.ErrNilFunc) {
			return fmt.Errorf("nil body: %v", err)
		}
		return nil
	})
}

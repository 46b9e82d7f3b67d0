package aio_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

// Wait with FirstError follows Python's FIRST_EXCEPTION: a cancelled task
// does not end the wait, only a task that failed with an error does (or
// all of them being final).
func TestWaitFirstErrorIgnoresCancelled(t *testing.T) {
	runV(t, func(t *aio.T) error {
		start := t.Now()
		ok := aio.Go(t, sleeper(time.Second, 1, nil))
		cancelled := aio.Go(t, sleeper(time.Hour, 2, nil))
		failing := aio.Go(t, sleeper(5*time.Second, 3, errors.New("boom")))
		slow := aio.Go(t, sleeper(time.Hour, 4, nil))
		cancelled.Cancel()
		ws := []*aio.Task[int]{ok, cancelled, failing, slow}
		done, pending, err := aio.Wait(t, ws, future.FirstError)
		if err != nil {
			return err
		}
		if el := t.Now().Sub(start); el != 5*time.Second {
			return fmt.Errorf("Wait returned after %v, want 5s (at the failure, not the cancellation)", el)
		}
		if len(done) != 3 || len(pending) != 1 || pending[0] != slow {
			return fmt.Errorf("done %d, pending %v", len(done), pending)
		}
		if !cancelled.Cancelled() {
			return errors.New("the cancelled task is not cancelled")
		}
		// Only cancellations: FirstError waits for all, as ALL_COMPLETED.
		a := aio.Go(t, sleeper(time.Hour, 0, nil))
		b := aio.Go(t, sleeper(2*time.Second, 0, nil))
		a.Cancel()
		start = t.Now()
		done, pending, err = aio.Wait(t, []*aio.Task[int]{a, b}, future.FirstError)
		if err != nil || len(done) != 2 || len(pending) != 0 || t.Now().Sub(start) != 2*time.Second {
			return fmt.Errorf("only cancelled: done %d pending %d err %v after %v", len(done), len(pending), err, t.Now().Sub(start))
		}
		slow.Cancel()
		return nil
	})
}

// A bounded semaphore of 0 is a real bound (Python's BoundedSemaphore(0)):
// no permit to take and every Release is an error. An unbounded one of 0
// can be released.
func TestBoundedSemaphoreOfZero(t *testing.T) {
	runV(t, func(t *aio.T) error {
		s, _ := aio.NewBoundedSemaphore(0)
		if err := s.Release(); !errors.Is(err, aio.ErrReleasedTooMany) {
			return fmt.Errorf("Release of BoundedSemaphore(0) = %v, want ErrReleasedTooMany", err)
		}
		if s.Value() != 0 {
			return fmt.Errorf("Value = %d after a refused Release", s.Value())
		}
		err := aio.Timeout(t, time.Second, func() error { return s.Acquire(t) })
		if !errors.Is(err, aio.ErrTimeout) {
			return fmt.Errorf("Acquire on BoundedSemaphore(0) = %v, want a timeout", err)
		}
		u, _ := aio.NewSemaphore(0)
		if err := u.Release(); err != nil || u.Value() != 1 {
			return fmt.Errorf("unbounded Release = %v, value %d", err, u.Value())
		}
		// A bounded semaphore released while a coroutine waits is still
		// at its bound: Python checks the bound first, so it is refused.
		b, _ := aio.NewBoundedSemaphore(1)
		if err := b.Acquire(t); err != nil {
			return err
		}
		if err := b.Release(); err != nil {
			return err
		}
		if err := b.Release(); !errors.Is(err, aio.ErrReleasedTooMany) {
			return fmt.Errorf("second Release of BoundedSemaphore(1) = %v", err)
		}
		return nil
	})
}

// A negative number of permits is an error naming it (Python raises
// ValueError).
func TestNewSemaphoreNegativeFails(t *testing.T) {
	for name, mk := range map[string]func(int) (*aio.Semaphore, error){
		"NewSemaphore": aio.NewSemaphore, "NewBoundedSemaphore": aio.NewBoundedSemaphore,
	} {
		s, err := mk(-1)
		if err == nil || s != nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%s(-1) = %v, %v; want an error about a negative value", name, s, err)
		}
	}
}

// A task started while the loop shuts down (here from the cleanup of a task
// that Run cancels after main returned) is cancelled like every other
// task: it never starts, awaiting it reports ErrCancelled, and it cannot
// hold Run open (on the virtual clock its hour-long sleep would otherwise
// simply run).
func TestTaskStartedDuringShutdownIsCancelled(t *testing.T) {
	var late *aio.Task[int]
	lateRan := false
	var lateErr error
	var end time.Duration
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		start := t.Now()
		aio.Go(t, func(t *aio.T) (int, error) {
			defer func() {
				late = aio.Go(t, func(t *aio.T) (int, error) {
					lateRan = true
					return 0, aio.Sleep(t, time.Hour)
				})
				_, lateErr = aio.Await(t, late)
				end = t.Now().Sub(start)
			}()
			return 0, aio.Sleep(t, time.Hour)
		})
		return 0, aio.Yield(t) // the other task is asleep; return
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if late == nil {
		t.Fatal("the cleanup did not run")
	}
	if lateRan {
		t.Error("a task created during shutdown ran")
	}
	if !late.Cancelled() || !errors.Is(lateErr, aio.ErrCancelled) {
		t.Errorf("late task: cancelled=%v, await error %v", late.Cancelled(), lateErr)
	}
	if end != 0 {
		t.Errorf("shutdown took %v of loop time, want 0", end)
	}
}

// A panic in a done callback (Task.OnDone, or an OnDone on the future
// returned by Task.Future, which runs inside the task's own callback) is
// logged and does not stop the loop: the other callbacks and tasks go on.
// A task's callback is logged through the loop's logger (asyncio logs it
// through the exception handler); one of the future.Future is logged by
// package future's logger, as Python's concurrent.futures.Future (which
// run_coroutine_threadsafe returns) logs it on the "concurrent.futures"
// logger.
func TestDoneCallbackPanicIsLogged(t *testing.T) {
	var buf, fbuf logBuf
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	future.SetLogger(slog.New(slog.NewTextHandler(&fbuf, nil)))
	defer future.SetLogger(nil)
	after := 0
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		a := aio.Go(t, sleeper(time.Second, 1, nil))
		a.OnDone(func() { panic("callback one") })
		a.OnDone(func() { after++ })
		b := aio.Go(t, sleeper(2*time.Second, 2, nil))
		b.Future().OnDone(func() { panic("callback two") })
		b.OnDone(func() { after++ })
		c := aio.Go(t, sleeper(3*time.Second, 3, nil))
		vs, err := aio.Gather(t, a, b, c)
		if err != nil {
			return 0, err
		}
		return vs[0] + vs[1] + vs[2], nil
	}, aio.WithVirtualTime(), aio.WithLogger(logger))
	if err != nil || v != 6 {
		t.Fatalf("Run = %d, %v; want 6, nil", v, err)
	}
	if after != 2 {
		t.Errorf("%d of the callbacks after a panicking one ran, want 2", after)
	}
	log := buf.String()
	for _, want := range []string{"callback one", "done callback panicked"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if flog := fbuf.String(); !strings.Contains(flog, "callback two") {
		t.Errorf("future's log lacks %q:\n%s", "callback two", flog)
	}
}

// A sleep or a timer too long for the clock's range waits "forever" (until
// cancelled) instead of wrapping around to a deadline in the past.
func TestHugeSleepDoesNotWrap(t *testing.T) {
	runV(t, func(t *aio.T) error {
		if err := aio.Sleep(t, time.Hour); err != nil { // move the clock off 0
			return err
		}
		start := t.Now()
		err := aio.Timeout(t, time.Second, func() error { return aio.Sleep(t, time.Duration(math.MaxInt64)) })
		if !errors.Is(err, aio.ErrTimeout) || t.Now().Sub(start) != time.Second {
			return fmt.Errorf("Sleep(MaxInt64) ended with %v after %v, want a timeout after 1s", err, t.Now().Sub(start))
		}
		fired := false
		h := t.Loop().CallLater(time.Duration(math.MaxInt64), func() { fired = true })
		if err := aio.Sleep(t, time.Second); err != nil {
			return err
		}
		if fired {
			return errors.New("CallLater(MaxInt64) fired at once")
		}
		h.Cancel()
		return nil
	})
}

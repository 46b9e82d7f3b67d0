package aio_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

func TestRunReturnsResult(t *testing.T) {
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("got %v, %v", v, err)
	}
	_, err = aio.Run(context.Background(), func(t *aio.T) (int, error) { return 0, errors.New("boom") })
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	_, err = aio.Run[int](context.Background(), nil)
	if !errors.Is(err, aio.ErrNilFunc) {
		t.Fatalf("nil main: %v", err)
	}
}

func TestCreateTaskStartsAtNextAwait(t *testing.T) {
	var log []string
	_, err := aio.Run(context.Background(), func(t *aio.T) (string, error) {
		task := aio.Go(t, func(t *aio.T) (string, error) {
			log = append(log, "child start")
			if err := aio.Sleep(t, time.Millisecond); err != nil {
				return "", err
			}
			log = append(log, "child end")
			return "data", nil
		})
		log = append(log, "main continues")
		v, err := aio.Await(t, task)
		log = append(log, "main got "+v)
		return v, err
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	want := "main continues,child start,child end,main got data"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestTaskPanicFailsOnlyItself(t *testing.T) {
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		bad := aio.Go(t, func(t *aio.T) (int, error) { panic("kaboom") })
		good := aio.Go(t, func(t *aio.T) (int, error) { return 7, aio.Sleep(t, time.Second) })
		_, perr := aio.Await(t, bad)
		var pe *future.PanicError
		if !errors.As(perr, &pe) || pe.Value != "kaboom" {
			return 0, errors.New("want PanicError, got " + errString(perr))
		}
		if bad.State() != future.Failed {
			return 0, errors.New("panicked task state " + bad.State().String())
		}
		return aio.Await(t, good)
	}, aio.WithVirtualTime())
	if v != 7 || err != nil {
		t.Fatalf("got %v, %v", v, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestCancelDeliveredAtNextAwait(t *testing.T) {
	cleaned := false
	reached := false
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		task := aio.Go(t, func(t *aio.T) (int, error) {
			defer func() { cleaned = true }()
			if err := aio.Sleep(t, time.Hour); err != nil {
				return 0, err
			}
			reached = true
			return 1, nil
		})
		if err := aio.Sleep(t, time.Minute); err != nil {
			return 0, err
		}
		if !task.Cancel() {
			return 0, errors.New("Cancel of a sleeping task returned false")
		}
		if task.Cancelling() != 1 {
			return 0, errors.New("Cancelling != 1")
		}
		_, err := aio.Await(t, task)
		if !errors.Is(err, aio.ErrCancelled) || !errors.Is(err, context.Canceled) {
			return 0, errors.New("awaiting cancelled task: " + errString(err))
		}
		if !task.Cancelled() {
			return 0, errors.New("task state " + task.State().String())
		}
		if task.Cancel() {
			return 0, errors.New("Cancel of a finished task returned true")
		}
		return 0, nil
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if !cleaned || reached {
		t.Fatalf("cleaned=%v reached=%v", cleaned, reached)
	}
}

func TestCancelBeforeStartNeverRuns(t *testing.T) {
	ran := false
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		task := aio.Go(t, func(t *aio.T) (int, error) { ran = true; return 1, nil })
		task.Cancel()
		_, err := aio.Await(t, task)
		if !errors.Is(err, aio.ErrCancelled) {
			return 0, errors.New("want cancelled, got " + errString(err))
		}
		return 0, nil
	})
	if err != nil || ran {
		t.Fatalf("err=%v ran=%v", err, ran)
	}
}

func TestSelfCancelAndUncancel(t *testing.T) {
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		t.Cancel()
		if err := aio.Yield(t); !errors.Is(err, aio.ErrCancelled) {
			return 0, errors.New("self cancel not delivered: " + errString(err))
		}
		if t.Uncancel() != 0 {
			return 0, errors.New("uncancel count")
		}
		t.Cancel()
		t.Uncancel() // withdrawn before delivery
		if err := aio.Yield(t); err != nil {
			return 0, errors.New("withdrawn cancel delivered: " + err.Error())
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMillionOneHourSleepsVirtual(t *testing.T) {
	tasks, each := 1000, 1000
	if testing.Short() || raceEnabled {
		each = 200 // the race detector makes each switch ~15x slower
	}
	start := time.Now()
	end, err := aio.Run(context.Background(), func(t *aio.T) (time.Time, error) {
		var ts []*aio.Task[int]
		for i := 0; i < tasks; i++ {
			ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
				for j := 0; j < each; j++ {
					if err := aio.Sleep(t, time.Hour); err != nil {
						return j, err
					}
				}
				return each, nil
			}))
		}
		vals, err := aio.Gather(t, ts...)
		if err != nil {
			return time.Time{}, err
		}
		for _, v := range vals {
			if v != each {
				return time.Time{}, errors.New("a task slept too little")
			}
		}
		return t.Now(), nil
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(each) * time.Hour)
	if !end.Equal(want) {
		t.Fatalf("virtual end %v, want %v", end, want)
	}
	t.Logf("%d one-hour sleeps took %v of real time", tasks*each, time.Since(start))
}

func TestLoopContextCancelCancelsEveryTask(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var cleanups int
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	_, err := aio.Run(ctx, func(t *aio.T) (int, error) {
		for i := 0; i < 100; i++ {
			aio.Go(t, func(t *aio.T) (int, error) {
				defer func() { cleanups++ }()
				return 0, aio.Sleep(t, time.Hour)
			})
		}
		defer func() { cleanups++ }()
		if err := aio.Yield(t); err != nil { // let the children start
			return 0, err
		}
		close(started)
		return 0, aio.Sleep(t, time.Hour)
	})
	if !errors.Is(err, aio.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if cleanups != 101 {
		t.Fatalf("cleanups = %d, want 101", cleanups)
	}
}

func TestLoopDeadlineCause(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := aio.Run(ctx, func(t *aio.T) (int, error) { return 0, aio.Sleep(t, time.Hour) })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, aio.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
}

func TestMainReturnCancelsLeftoverTasks(t *testing.T) {
	cleaned := 0
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		for i := 0; i < 10; i++ {
			aio.Go(t, func(t *aio.T) (int, error) {
				defer func() { cleaned++ }()
				return 0, aio.Sleep(t, time.Hour)
			})
		}
		return 0, aio.Yield(t)
	})
	if err != nil || cleaned != 10 {
		t.Fatalf("err=%v cleaned=%d", err, cleaned)
	}
}

func TestAwaitOutsideCoroutine(t *testing.T) {
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		var saved *aio.T
		task := aio.Go(t, func(t *aio.T) (int, error) { saved = t; return 0, nil })
		if _, err := aio.Await(t, task); err != nil {
			return 0, err
		}
		if err := aio.Sleep(saved, time.Second); !errors.Is(err, aio.ErrNotInCoroutine) {
			return 0, errors.New("finished task's handle: " + errString(err))
		}
		// From a plain goroutine while the coroutine is parked (awaiting f).
		// The goroutine must not call while the coroutine runs: that misuse
		// cannot be detected (see T), so it waits for a callback that runs
		// only once the coroutine has parked.
		f, r := future.New[error](context.Background())
		parked := make(chan struct{})
		t.Loop().CallSoon(func() { close(parked) })
		go func() {
			<-parked
			err := aio.Sleep(t, time.Second)
			r.Complete(err, nil)
		}()
		gerr, err := aio.Await(t, f)
		if err != nil {
			return 0, err
		}
		if !errors.Is(gerr, aio.ErrNotInCoroutine) {
			return 0, errors.New("from a goroutine: " + errString(gerr))
		}
		if _, err := aio.Await(t, aio.Go[int](nil, nil)); !errors.Is(err, aio.ErrNotInCoroutine) {
			return 0, errors.New("Go with nil T: " + errString(err))
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := aio.Yield(nil); !errors.Is(err, aio.ErrNotInCoroutine) {
		t.Fatalf("nil T: %v", err)
	}
}

func TestAwaitTaskOfAnotherLoop(t *testing.T) {
	var foreign *aio.Task[int]
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		foreign = aio.Go(t, func(t *aio.T) (int, error) { return 1, nil })
		return aio.Await(t, foreign)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = aio.Run(context.Background(), func(t *aio.T) (int, error) {
		return aio.Await(t, foreign)
	})
	if !errors.Is(err, aio.ErrOtherLoop) {
		t.Fatalf("err = %v", err)
	}
}

func TestNestedRun(t *testing.T) {
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		return aio.Run(t.Context(), func(t *aio.T) (int, error) { return 1, nil })
	})
	if !errors.Is(err, aio.ErrNestedRun) {
		t.Fatalf("err = %v", err)
	}
}

func TestAwaitSelf(t *testing.T) {
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		var self *aio.Task[int]
		self = aio.Go(t, func(t *aio.T) (int, error) { return aio.Await(t, self) })
		return aio.Await(t, self)
	})
	if !errors.Is(err, aio.ErrAwaitSelf) {
		t.Fatalf("err = %v", err)
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestDebugReportsBlockingCoroutine(t *testing.T) {
	var buf logBuf
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		time.Sleep(30 * time.Millisecond) // blocks the loop
		return 0, nil
	}, aio.WithSlowThreshold(5*time.Millisecond), aio.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "held the loop too long") {
		t.Fatalf("no warning logged: %q", buf.String())
	}
}

func TestDebugReportsUnretrievedFailure(t *testing.T) {
	var buf logBuf
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		aio.Go(t, func(t *aio.T) (int, error) { return 0, errors.New("lost error") })
		observed := aio.Go(t, func(t *aio.T) (int, error) { return 0, errors.New("seen error") })
		aio.Await(t, observed)
		return 0, aio.Sleep(t, time.Millisecond)
	}, aio.WithDebug(), aio.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "never retrieved") || !strings.Contains(out, "lost error") {
		t.Fatalf("no warning for the lost error: %q", out)
	}
	if strings.Contains(out, "seen error") {
		t.Fatalf("awaited error reported as lost: %q", out)
	}
}

func TestNoRaceOnSharedStateAcrossThousandsOfCoroutines(t *testing.T) {
	const n = 3000
	counter := 0
	shared := map[int]int{}
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		var ts []*aio.Task[int]
		for i := 0; i < n; i++ {
			ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
				for j := 0; j < 5; j++ {
					counter++
					shared[i%100]++
					if err := aio.Yield(t); err != nil {
						return 0, err
					}
					counter++
				}
				return 0, nil
			}))
		}
		_, err := aio.Gather(t, ts...)
		return 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, v := range shared {
		total += v
	}
	if counter != n*10 {
		t.Fatalf("counter %d, want %d", counter, n*10)
	}
	if total != n*5 {
		t.Fatalf("shared map total %d, want %d", total, n*5)
	}
}

func TestCallbacksAndTimers(t *testing.T) {
	var got []string
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		l := t.Loop()
		start := t.Now()
		l.CallLater(3*time.Second, func() { got = append(got, "3s") })
		l.CallAt(start.Add(time.Second), func() { got = append(got, "1s") })
		h := l.CallLater(2*time.Second, func() { got = append(got, "cancelled") })
		h.Cancel()
		l.CallSoon(func() { got = append(got, "soon") })
		many := make([]*aio.Handle, 500)
		for i := range many {
			many[i] = l.CallLater(time.Duration(i)*time.Millisecond, func() { got = append(got, "never") })
		}
		for _, h := range many {
			h.Cancel()
		}
		if err := aio.Sleep(t, 5*time.Second); err != nil {
			return 0, err
		}
		if d := t.Now().Sub(start); d != 5*time.Second {
			return 0, errors.New("virtual clock moved " + d.String())
		}
		return 0, nil
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, ","); s != "soon,1s,3s" {
		t.Fatalf("callbacks ran as %q", s)
	}
}

func TestCallSoonThreadsafe(t *testing.T) {
	var loop *aio.Loop
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		loop = t.Loop()
		ev := make(chan struct{})
		fired := false
		go func() {
			loop.CallSoonThreadsafe(func() { fired = true })
			close(ev)
		}()
		for !fired {
			if err := aio.Sleep(t, time.Millisecond); err != nil {
				return 0, err
			}
		}
		<-ev
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.CallSoonThreadsafe(func() {}); !errors.Is(err, aio.ErrLoopClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
			ts := []*aio.Task[int]{}
			for i := 1; i <= 3; i++ {
				ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
					return i, aio.Sleep(t, time.Duration(i)*time.Hour)
				}))
			}
			vals, err := aio.Gather(t, ts...)
			if err != nil {
				return 0, err
			}
			return vals[0] + vals[1] + vals[2], nil
		})
		if v != 6 || err != nil {
			t.Fatalf("got %v %v", v, err)
		}
		if d := time.Since(start); d != 3*time.Hour {
			t.Fatalf("fake time moved %v, want 3h", d)
		}
	})
}

// A Submit (or CallSoonThreadsafe) accepted while main makes its last step
// must not be dropped when the loop closes: its future must end.
func TestSubmitDuringLastStepIsNotDropped(t *testing.T) {
	var f *future.Future[int]
	ran := false
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		f = aio.Submit(t.Loop(), context.Background(), func(t *aio.T) (int, error) { return 7, nil })
		if err := t.Loop().CallSoonThreadsafe(func() { ran = true }); err != nil {
			return 0, err
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := f.Result(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("future of a Submit accepted before the loop closed never completed")
	}
	if err == nil && v != 7 {
		t.Fatalf("v = %d", v)
	}
	if !ran {
		t.Fatal("CallSoonThreadsafe returned nil but fn never ran")
	}
}

package procpool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

// checkDeadlineError fails the test unless err is the documented error of a
// call that was running when its deadline passed.
func checkDeadlineError(t *testing.T, what string, i int, st future.State, err error) bool {
	t.Helper()
	var de *procpool.DeadlineError
	if st != future.Failed || !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s, run %d: want a Failed future with a *procpool.DeadlineError, got %s with %T: %v", what, i, st, err, err)
		return false
	}
	return true
}

// The error of a call still running at its deadline is a *DeadlineError
// every time, for typed Submit and typed Map (chunked or not) alike: the typed future's own
// context watcher must not win the race and end it Cancelled.
func TestDeadlineErrorWinsEveryTime(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1), procpool.WithInFlight(1))
	if _, err := square.Submit(p, ctx, 1).Result(ctx); err != nil { // a worker up and ready
		t.Fatal(err)
	}
	const runs = 100
	bad := 0
	for i := range runs {
		// The call must go straight to a worker: one ready with a free slot.
		waitFor(t, "an idle ready worker", func() bool {
			st := p.Stats()
			return st.Queued == 0 && len(st.Workers) == 1 && st.Workers[0].State == "ready" && st.Workers[0].InFlight == 0
		})
		dctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		var f *future.Future[int]
		var what string
		switch i % 3 {
		case 0:
			what, f = "Submit", sleepMs.Submit(p, dctx, 60_000)
		case 1:
			what, f = "Map", sleepMs.Map(p, dctx, []int{60_000}, registry.ChunkSize(0))[0]
		default:
			what, f = "Map with ChunkSize(1)", sleepMs.Map(p, dctx, []int{60_000}, registry.ChunkSize(1))[0]
		}
		_, err := f.Result(ctx)
		cancel()
		if !checkDeadlineError(t, what, i, f.State(), err) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d timed-out calls did not end with a *DeadlineError", bad, runs)
	}
}

// A Map whose context ends ends its futures at once, whether their calls
// wait in the pool's queue (cancelled, with the deadline as cause) or run in
// a worker (cancelled; a deadline there is a *DeadlineError).
func TestMapContextEndsQueuedAndRunningCalls(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1), procpool.WithInFlight(1))
	bctx, stopBusy := context.WithCancel(ctx)
	defer stopBusy()
	busy := sleepMs.Submit(p, bctx, 60_000) // holds the only worker
	waitFor(t, "the busy call to run", func() bool { return p.Stats().Workers[0].InFlight == 1 })

	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	for i, f := range sleepMs.Map(p, dctx, []int{1, 2, 3, 4}) {
		_, err := f.Result(ctx)
		if f.State() != future.Cancelled || !errors.Is(err, context.DeadlineExceeded) || !future.IsCancelled(err) {
			t.Fatalf("queued Map call %d at its deadline: %s %v", i, f.State(), err)
		}
	}
	if busy.Finished() {
		t.Fatalf("the queued Map calls ended only when the busy call did")
	}
	stopBusy()
	if _, err := busy.Result(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("busy call: %v", err)
	}

	// A running chunk whose context is cancelled: Cancelled, not the
	// worker's answer, and at once (busyUs ignores its context).
	waitFor(t, "an idle worker", func() bool { st := p.Stats(); return st.Workers[0].InFlight == 0 })
	cctx, cancel2 := context.WithCancel(ctx)
	fs := busyUs.Map(p, cctx, []int{2_000_000})
	waitFor(t, "the chunk to run", func() bool { return p.Stats().Workers[0].InFlight == 1 })
	cancel2()
	_, err := fs[0].Result(ctx)
	if fs[0].State() != future.Cancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("running chunk cancelled: %s %v", fs[0].State(), err)
	}
	if p.Stats().Workers[0].InFlight != 1 {
		t.Fatalf("the cancelled chunk should still be running in its worker")
	}
}

// A call sent again after its worker crashed, still waiting for a worker
// when its deadline passes, fails with a *DeadlineError then, not when a
// worker finally starts.
func TestDeadlineOfCallWaitingForRetry(t *testing.T) {
	ctx := ctxT(t)
	gate := filepath.Join(t.TempDir(), "gate")
	p := newPool(t, procpool.WithWorkers(1), procpool.WithRetries(2), procpool.WithInitializer(initGate, gate))
	first, err := getpid.Submit(p, ctx, 0).Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gate, nil, 0o644) // the replacement stays in its start
	defer os.Remove(gate)
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	f := sleepMs.Submit(p, dctx, 60_000)
	waitFor(t, "the call to run", func() bool { return p.Stats().Workers[0].InFlight == 1 })
	syscall.Kill(first, syscall.SIGKILL)
	_, err = f.Result(ctx)
	var de *procpool.DeadlineError
	if f.State() != future.Failed || !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a *DeadlineError while the retry waits, got %s %T %v", f.State(), err, err)
	}
	if st := p.Stats(); st.Retried != 1 || st.Queued != 0 {
		t.Fatalf("stats: %+v", st)
	}
	t.Logf("error: %v", err)
}

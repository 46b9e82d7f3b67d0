package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// errReported is what reportingExec fails a running call with at its
// deadline, as procpool does with its *DeadlineError.
var errReported = errors.New("reported by the executor")

// reportingExec is a registry.Backend that reports deadlines: a call starts at once
// unless queued is set, and fails with errReported (wrapping
// context.DeadlineExceeded) when its context's deadline passes; otherwise it
// runs until its context ends.
type reportingExec struct {
	registry.Local
	queued bool
}

func (e reportingExec) ReportsDeadlines() bool { return true }

func (e reportingExec) Backend() registry.Backend { return e }

func (e reportingExec) SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	if e.queued {
		_, r := future.New[[]byte](ctx) // never started: its own watcher cancels it
		return r
	}
	_, raw := future.New[[]byte](ctx)
	raw.Start()
	context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			raw.Complete(nil, errors.Join(errReported, context.DeadlineExceeded))
			return
		}
		time.AfterFunc(20*time.Millisecond, func() { raw.Complete(nil, ctx.Err()) }) // a late answer
	})
	return raw
}

// deadlineCtx is a context whose deadline passes when the test says so.
type deadlineCtx struct {
	context.Context
	done chan struct{}
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) expire()                     { close(c.done) }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Deadline() (time.Time, bool) { return time.Time{}, true }
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// For a Backend that reports deadlines, the executor's error of a call running at its
// deadline is what the typed future ends with, every time: before, the
// typed future's own context watcher won about half of the races and ended
// it Cancelled.
func TestDeadlineReporterErrorWins(t *testing.T) {
	ctx := ctxT(t)
	ex := reportingExec{}
	const runs = 200
	bad := 0
	for i := range runs {
		dctx := newDeadlineCtx()
		f := double.Submit(ex, dctx, i)
		dctx.expire() // after Submit returns, so that the call did start
		_, err := f.Result(ctx)
		if f.State() != future.Failed || !errors.Is(err, errReported) {
			bad++
			if bad < 5 {
				t.Errorf("run %d: want Failed with the executor's error, got %s %v", i, f.State(), err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d runs ended without the executor's error", bad, runs)
	}

	// A call still queued at its deadline is cancelled, with the cause.
	dctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	f := double.Submit(reportingExec{queued: true}, dctx, 1)
	if _, err := f.Result(ctx); f.State() != future.Cancelled || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued call at its deadline: %s %v", f.State(), err)
	}

	// A running call whose context is cancelled (not a deadline) ends
	// Cancelled at once, before the executor's late answer.
	cctx, cancel2 := context.WithCancel(ctx)
	f = double.Submit(ex, cctx, 1)
	cancel2()
	if _, err := f.Result(ctx); f.State() != future.Cancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("running call cancelled: %s %v", f.State(), err)
	}
}

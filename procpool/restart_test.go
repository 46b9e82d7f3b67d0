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
)

// initGate is a worker initializer that holds the worker in its start for
// as long as the file gate exists, so that a test can kill a worker while it
// starts, deterministically.
var initGate = procpool.Register("t.initGate", func(ctx context.Context, gate string) (struct{}, error) {
	for {
		if _, err := os.Stat(gate); err != nil {
			return struct{}{}, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
})

// startingPID waits for a worker that is held in its start and returns its
// pid; it fails the test at once if one of queued has failed meanwhile.
func startingPID(t *testing.T, p *procpool.Pool, not map[int]bool, queued []*future.Future[int]) int {
	t.Helper()
	var pid int
	waitFor(t, "a starting worker", func() bool {
		for i, f := range queued {
			if f.State() == future.Failed {
				t.Fatalf("queued call %d failed while the pool restarted its worker: %v", i, f.Err())
			}
		}
		for _, w := range p.Stats().Workers {
			if w.State == "starting" && w.PID != 0 && !not[w.PID] {
				pid = w.PID
				return true
			}
		}
		return false
	})
	return pid
}

// killStarts kills the one ready worker of p, then n replacement workers
// while they are held in their start (no worker is alive meanwhile), with
// queued calls submitted in between. It returns the queued futures.
func killStarts(t *testing.T, p *procpool.Pool, gate string, n, calls int) []*future.Future[int] {
	t.Helper()
	ctx := ctxT(t)
	first, err := getpid.Submit(p, ctx, 0).Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(first, syscall.SIGKILL)
	killed := map[int]bool{first: true}
	pid := startingPID(t, p, killed, nil)
	var fs []*future.Future[int]
	for i := range calls {
		fs = append(fs, square.Submit(p, ctx, i))
	}
	for range n {
		syscall.Kill(pid, syscall.SIGKILL)
		killed[pid] = true
		pid = startingPID(t, p, killed, fs)
	}
	return fs
}

// A replacement worker killed while it starts is a crash like any other once
// a worker has started: the pool backs off, starts another, and keeps the
// queue. Before, the first such kill failed every queued call with "worker
// failed to start ... does the worker's main call procpool.Main first?".
func TestFailedRestartKeepsTheQueue(t *testing.T) {
	ctx := ctxT(t)
	gate := filepath.Join(t.TempDir(), "gate")
	p := newPool(t, procpool.WithWorkers(1), procpool.WithRetries(3), procpool.WithInitializer(initGate, gate))
	const calls = 500
	fs := killStarts(t, p, gate, 3, calls)
	os.Remove(gate)
	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil || v != i*i {
			t.Fatalf("call %d after 3 killed starts: %v %v", i, v, err)
		}
	}
	if st := p.Stats(); st.FailedStarts != 3 {
		t.Fatalf("want 3 failed starts counted, got %+v", st)
	}
}

// Consecutive failed starts, with no successful one in between, end at the
// WithMaxStartFailures limit: the queued calls then fail with a *StartError
// that names the limit, and a later submit tries to start a worker again.
func TestFailedRestartsGiveUpAtTheLimit(t *testing.T) {
	ctx := ctxT(t)
	gate := filepath.Join(t.TempDir(), "gate")
	p := newPool(t, procpool.WithWorkers(1), procpool.WithInitializer(initGate, gate), procpool.WithMaxStartFailures(2))
	fs := killStarts(t, p, gate, 1, 20)
	// The second failed start reaches the limit.
	syscall.Kill(startingPID(t, p, nil, nil), syscall.SIGKILL)
	for i, f := range fs {
		_, err := f.Result(ctx)
		var se *procpool.StartError
		if !errors.As(err, &se) || !errors.Is(err, procpool.ErrWorkerStart) || se.Limit != 2 || se.Failures != 2 {
			t.Fatalf("call %d: want a *StartError at the limit of 2, got %T %v", i, err, err)
		}
		if i == 0 {
			t.Logf("error: %v", err)
		}
	}
	os.Remove(gate)
	if v, err := square.Submit(p, ctx, 7).Result(ctx); err != nil || v != 49 {
		t.Fatalf("a submit after the pool gave up must try again: %v %v", v, err)
	}
}

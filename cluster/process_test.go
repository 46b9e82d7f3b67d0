package cluster

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
)

// Thousands of tasks through worker processes; one is SIGKILLed mid-run.
// Every task must complete (after redelivery), none may be lost, and the
// duplicates are counted and reported.
func TestWorkerKilledMidRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)
	env := []string{envAckWait + "=1s", envConc + "=4"}
	victim := startWorker(t, s.URL(), env...)
	startWorker(t, s.URL(), env...)

	const n = 3000
	fs := make([]*future.Future[int], n)
	var done atomic.Int64
	for i := range n {
		fs[i] = work.Submit(ex, ctx, i)
		fs[i].OnDone(func() { done.Add(1) })
	}
	// Kill the victim once the run is well under way: it is busy with a
	// full set of tasks at that moment (the queue is far from empty).
	for done.Load() < n/5 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	victim.kill()
	t.Logf("killed worker pid %d after %d of %d tasks", victim.cmd.Process.Pid, done.Load(), n)
	// A replacement joins later, as an operator would restart it.
	startWorker(t, s.URL(), env...)

	for i, f := range fs {
		v, err := f.Result(ctx)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if v != 2*i {
			t.Fatalf("task %d = %d", i, v)
		}
	}
	// Let late duplicates arrive before reading the counters.
	time.Sleep(300 * time.Millisecond)
	st := ex.Stats()
	t.Logf("stats after SIGKILL: %+v", st)
	if st.Completed != n || st.Pending != 0 {
		t.Fatalf("stats %+v: want %d completed", st, n)
	}
	if st.Redelivered < 1 {
		t.Fatalf("stats %+v: no task was redelivered although a busy worker was killed", st)
	}
	status, err := GetStatus(ctx, conn, "", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if status.QueueDepth != 0 || status.InFlight != 0 || len(status.Workers) != 2 {
		t.Fatalf("status after the run: %+v", status)
	}
}

// A task that kills its worker every time fails with ErrMaxDeliveries
// once the limit is reached, and is dead-lettered; workers come back.
func TestMaxDeliveriesFailsFuture(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("poison"))
	ctx := waitCtx(t)

	// A supervisor restarting crashed workers, like systemd would.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var crashes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			w := startWorkerNoCleanup(t, s.URL(), envAckWait+"=300ms", envMaxDeliver+"=2", envConc+"=1",
				"TRIDENT_CLUSTER_TEST_QUEUE=poison")
			select {
			case <-w.done:
				crashes.Add(1)
			case <-stop:
				w.stop()
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	_, err := crash.Submit(ex, ctx, 7).Result(ctx)
	if !errors.Is(err, ErrMaxDeliveries) || !strings.Contains(err.Error(), "limit 2") {
		t.Fatalf("error %v, want ErrMaxDeliveries naming the limit", err)
	}
	if c := crashes.Load(); c < 2 {
		t.Fatalf("%d worker crashes, want at least 2", c)
	}
	st, err := GetStatus(ctx, conn, "poison", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadLetters != 1 || st.QueueDepth != 0 {
		t.Fatalf("status %+v", st)
	}
}

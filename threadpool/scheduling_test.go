package threadpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/internal/cpythontest"
)

// finishLog records the order in which named tasks finish and when each
// started.
type finishLog struct {
	mu     sync.Mutex
	t0     time.Time
	order  []string
	starts map[string]time.Duration
}

func newFinishLog() *finishLog {
	return &finishLog{t0: time.Now(), starts: map[string]time.Duration{}}
}

// task returns a task that sleeps d and logs its start and finish as name.
func (l *finishLog) task(name string, d time.Duration) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		l.mu.Lock()
		l.starts[name] = time.Since(l.t0)
		l.mu.Unlock()
		time.Sleep(d)
		l.mu.Lock()
		l.order = append(l.order, name)
		l.mu.Unlock()
		return 0, nil
	}
}

// A task queued behind a slow one runs on the idle worker, as in CPython.
//
// CPython 3.11, ThreadPoolExecutor(2) with both threads started and idle,
// queue [slow (1.5 s), q1..q4 (50 ms each)]: one worker takes slow and the
// other runs q1, q2, q3, q4 one after the other, so they finish q1, q2, q3,
// q4, slow and q1 starts at once. trident's woken worker used to take slow
// and q1 as one batch, so q1 waited 1.5 s behind slow while the other worker
// had nothing to do (order q2, q3, q4, slow, q1).
func TestQueuedBehindSlowTaskRunsOnIdleWorkerAsInPython(t *testing.T) {
	var py struct {
		Order   []string `json:"order"`
		Q1Start float64  `json:"q1_start"`
	}
	cpythontest.Run(t, `
import json, threading, time
from concurrent.futures import ThreadPoolExecutor
lock = threading.Lock()
order, starts = [], {}
t0 = time.monotonic()
def task(name, d):
    with lock:
        starts[name] = time.monotonic() - t0
    time.sleep(d)
    with lock:
        order.append(name)
with ThreadPoolExecutor(2) as ex:
    # start both threads and let them go idle
    b = threading.Barrier(2)
    for w in [ex.submit(b.wait), ex.submit(b.wait)]:
        w.result()
    time.sleep(0.1)
    t0 = time.monotonic()
    ex.submit(task, "slow", 1.5)
    for i in range(1, 5):
        ex.submit(task, "q%d" % i, 0.05)
print(json.dumps({"order": order, "q1_start": starts["q1"]}))
`, &py)

	p := newPool(t, WithWorkers(2))
	ctx := ctxGuard(t)
	warmUp(t, p)
	l := newFinishLog()
	fs := []*future.Future[int]{Submit(p, ctx, l.task("slow", 1500*time.Millisecond))}
	for i := 1; i <= 4; i++ {
		fs = append(fs, Submit(p, ctx, l.task(fmt.Sprintf("q%d", i), 50*time.Millisecond)))
	}
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	want := []string{"q1", "q2", "q3", "q4", "slow"}
	if !slices.Equal(py.Order, want) {
		t.Fatalf("CPython finished in the order %v, the scenario expects %v", py.Order, want)
	}
	if !slices.Equal(l.order, py.Order) {
		t.Errorf("finish order: trident %v, CPython %v", l.order, py.Order)
	}
	// Generous: q1 starts at once in both, far sooner than slow's 1.5 s.
	if q1 := l.starts["q1"]; q1 > time.Second || py.Q1Start > 1 {
		t.Errorf("q1 started after %v in trident, %.3fs in CPython: it waited behind slow", q1, py.Q1Start)
	}
}

// warmUp starts every worker of p and waits until all are parked.
func warmUp(t *testing.T, p *Pool) {
	t.Helper()
	ctx := ctxGuard(t)
	n := p.Workers()
	var wg sync.WaitGroup
	wg.Add(n)
	var fs []*future.Future[int]
	for range n {
		fs = append(fs, Submit(p, ctx, func(context.Context) (int, error) {
			wg.Done()
			wg.Wait() // every worker holds one of these at once
			return 0, nil
		}))
	}
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "workers parked", func() bool { return p.Stats().Idle == n })
}

// busyPool returns a 2-worker pool whose workers both run a blocker, with
// slow and then quick[0..7] queued behind them; it releases the first
// blocker and waits until slow runs. That worker has then taken slow with
// the three quick tasks after it as one batch (the queue held more than two
// tasks per worker and no worker was idle). The second worker stays in its
// blocker until release2 is closed; slow runs until releaseSlow is closed.
func busyPool(t *testing.T) (p *Pool, quick []*future.Future[int], slowDone *future.Future[int], release2, releaseSlow chan struct{}) {
	t.Helper()
	p = newPool(t, WithWorkers(2), WithIdleTimeout(0))
	ctx := ctxGuard(t)
	started := make(chan struct{}, 2)
	release1 := make(chan struct{})
	release2 = make(chan struct{})
	releaseSlow = make(chan struct{})
	Submit(p, ctx, block(started, release1))
	Submit(p, ctx, block(started, release2))
	<-started
	<-started
	slowStarted := make(chan struct{}, 1)
	slowDone = Submit(p, ctx, block(slowStarted, releaseSlow))
	for i := range 8 {
		quick = append(quick, Submit(p, ctx, func(context.Context) (int, error) { return i, nil }))
	}
	close(release1)
	<-slowStarted
	return p, quick, slowDone, release2, releaseSlow
}

// A worker that becomes idle takes over the tasks another worker batched
// behind a slow task: nothing queued waits while a worker is idle.
// (CPython's workers take one task at a time, so there the idle worker
// simply takes the next queued one.)
func TestIdleWorkerTakesOverBatchedTasks(t *testing.T) {
	_, quick, slow, release2, releaseSlow := busyPool(t)
	defer close(releaseSlow)
	close(release2) // the second worker is free now; slow still runs
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, notDone, err := future.Wait(ctx, quick, future.AllCompleted)
	if err != nil {
		var idx []int
		for i, f := range quick {
			if slices.Contains(notDone, f) {
				idx = append(idx, i)
			}
		}
		t.Fatalf("quick tasks %v still %v after 10 s while a worker was idle: they wait behind the slow task", idx, notDone[0].State())
	}
	if slow.Finished() {
		t.Fatal("slow finished before it was released")
	}
}

// ShutdownNow cancels at once the tasks a worker took in a batch behind the
// task it runs, as CPython's shutdown(cancel_futures=True) cancels every
// queued future at once (its workers hold no queued task).
//
// CPython 3.11, ThreadPoolExecutor(2): both workers blocked, slow and
// q0..q7 queued; one worker is freed and starts slow; shutdown(wait=False,
// cancel_futures=True) leaves q0..q7 all cancelled when it returns.
// trident used to leave the three tasks batched with slow pending until slow
// ended.
func TestShutdownNowCancelsBatchedTasksAtOnce(t *testing.T) {
	var py struct {
		States []bool `json:"cancelled"`
	}
	cpythontest.Run(t, `
import json, threading
from concurrent.futures import ThreadPoolExecutor
ex = ThreadPoolExecutor(2)
started = threading.Semaphore(0)
r1, r2, rs = threading.Event(), threading.Event(), threading.Event()
def block(ev):
    started.release()
    ev.wait()
ex.submit(block, r1); ex.submit(block, r2)
started.acquire(); started.acquire()
slow = ex.submit(block, rs)
quick = [ex.submit(lambda i=i: i) for i in range(8)]
r1.set()
started.acquire()
ex.shutdown(wait=False, cancel_futures=True)
states = [f.cancelled() for f in quick]
r2.set(); rs.set()
ex.shutdown(wait=True)
print(json.dumps({"cancelled": states}))
`, &py)
	p, quick, slow, release2, releaseSlow := busyPool(t)
	p.ShutdownNow()
	var got []bool
	for _, f := range quick {
		got = append(got, f.State() == future.Cancelled)
	}
	close(release2)
	close(releaseSlow)
	if !slices.Equal(got, py.States) {
		t.Errorf("cancelled after ShutdownNow: trident %v, CPython %v", got, py.States)
	}
	ctx := ctxGuard(t)
	if v, err := slow.Result(ctx); v != 1 || err != nil {
		t.Fatalf("running slow task: %v %v", v, err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Cancelled != 8 || s.Completed != 3 || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Workers taking batches, stealing from each other and ShutdownNow racing:
// every task runs at most once, a future is Done exactly when its task ran,
// every other one is cancelled, and the counters add up.
func TestStressBatchStealShutdownNow(t *testing.T) {
	for round := range 12 {
		p, err := New(WithWorkers(3), WithIdleTimeout(0))
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxGuard(t)
		const submitters, per = 4, 300
		var runs [submitters * per]atomic.Int32
		fs := make([]*future.Future[int], submitters*per)
		var wg sync.WaitGroup
		for g := range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					k := g*per + i
					fs[k] = Submit(p, ctx, func(context.Context) (int, error) {
						runs[k].Add(1)
						if k%97 == 0 {
							time.Sleep(2 * time.Millisecond) // a slow one now and then
						}
						return k, nil
					})
				}
			}()
		}
		if round%2 == 1 {
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
			p.ShutdownNow()
		}
		wg.Wait()
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		var done, cancelled uint64
		for k, f := range fs {
			v, err := f.Result(ctx)
			n := runs[k].Load()
			switch {
			case n > 1:
				t.Fatalf("round %d: task %d ran %d times", round, k, n)
			case err == nil && (n != 1 || v != k):
				t.Fatalf("round %d: task %d done with %d but ran %d times", round, k, v, n)
			case err != nil && (n != 0 || !(errors.Is(err, future.ErrCancelled) || errors.Is(err, ErrShutdown))):
				t.Fatalf("round %d: task %d: %v, ran %d times", round, k, err, n)
			}
			if err == nil {
				done++
			} else if f.State() == future.Cancelled {
				cancelled++
			}
		}
		s := p.Stats()
		if s.Completed != done || s.Cancelled != cancelled || s.Queued != 0 || s.Running != 0 || s.Workers != 0 {
			t.Fatalf("round %d: stats %+v; futures: %d done, %d cancelled", round, s, done, cancelled)
		}
	}
}

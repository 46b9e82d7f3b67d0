package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// Functions the job tests enqueue.
var (
	jobRuns   sync.Map // job ID -> *int (runs), for flaky and counted
	jobRunsMu sync.Mutex

	flaky = registry.Register("jobtest.flaky", func(ctx context.Context, failures int) (string, error) {
		n := countRun(ctx)
		if n <= failures {
			return "", fmt.Errorf("run %d: %w", n, errOdd)
		}
		return fmt.Sprintf("ok after %d", n), nil
	})
	counted = registry.Register("jobtest.counted", func(ctx context.Context, x int) (int, error) {
		countRun(ctx)
		return x, nil
	})
	// loggedSleep appends its job's ID to the file named by envRunLog
	// (O_APPEND: one whole line per run, from any process) and sleeps:
	// runs counted across worker processes.
	loggedSleep = registry.Register("jobtest.loggedsleep", func(ctx context.Context, ms int) (int, error) {
		id, _ := TaskID(ctx)
		f, err := os.OpenFile(os.Getenv(envRunLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, err
		}
		_, err = f.Write([]byte(id + "\n"))
		f.Close()
		if err != nil {
			return 0, err
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	jobSleep = registry.Register("jobtest.sleep", func(ctx context.Context, ms int) (int, error) {
		countRun(ctx)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			stopped(ctx, context.Cause(ctx))
			return 0, ctx.Err()
		}
	})
)

func countRun(ctx context.Context) int {
	id, _ := TaskID(ctx)
	jobRunsMu.Lock()
	defer jobRunsMu.Unlock()
	v, _ := jobRuns.LoadOrStore(id, new(int))
	p := v.(*int)
	*p++
	return *p
}

func runsOf(id string) int {
	jobRunsMu.Lock()
	defer jobRunsMu.Unlock()
	if v, ok := jobRuns.Load(id); ok {
		return *v.(*int)
	}
	return 0
}

// A re-executed test binary acting as a job worker (see startJobWorker).
const envJobWorker = "TRIDENT_CLUSTER_TEST_JOBWORKER"

func init() {
	url := os.Getenv(envJobWorker)
	if url == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	conn, err := Connect(ctx, ConnectOptions{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, "job worker:", err)
		os.Exit(2)
	}
	q, err := OpenJobs(ctx, conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "job worker:", err)
		os.Exit(2)
	}
	aw, _ := time.ParseDuration(os.Getenv(envAckWait))
	err = ServeJobs(ctx, q, JobWorkerOptions{AckWait: aw, Concurrency: 4, Logger: quietLog()})
	conn.Close()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "job worker:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func startJobWorker(t *testing.T, url string, env ...string) *workerProc {
	return startWorkerNoCleanup(t, "", append([]string{envJobWorker + "=" + url}, env...)...)
}

type jobEnv struct {
	srv  *Server
	conn *Conn
	q    *Jobs
}

func newJobEnv(t *testing.T) *jobEnv {
	t.Helper()
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	q, err := OpenJobs(context.Background(), conn)
	if err != nil {
		t.Fatalf("OpenJobs: %v", err)
	}
	return &jobEnv{srv: s, conn: conn, q: q}
}

func (e *jobEnv) serve(t *testing.T, o JobWorkerOptions) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLog()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeJobs(ctx, e.q, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeJobs: %v", err)
		}
	})
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func states(j *Job) []JobState {
	var out []JobState
	for _, ev := range j.Timeline {
		out = append(out, ev.State)
	}
	return out
}

func sameStates(a, b []JobState) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestJobFinished(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{Name: "w1"})
	ctx := testCtx(t, 20*time.Second)
	id, err := Enqueue(ctx, e.q, square, 7, JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := JobResult[int](ctx, e.q, id)
	if err != nil || v != 49 {
		t.Fatalf("JobResult = %v, %v; want 49", v, err)
	}
	j, err := e.q.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !sameStates(states(j), []JobState{JobQueued, JobStarted, JobFinished}) {
		t.Errorf("timeline %v", states(j))
	}
	if j.Worker != "w1" || j.Attempts != 1 || j.StartedAt.IsZero() || j.EndedAt.Before(j.StartedAt) || j.Codec != "json" || string(j.Arg) != "7" {
		t.Errorf("record %+v", j)
	}
	// A future over the job ID, from "another process" (a second handle).
	q2, err := OpenJobs(ctx, connect(t, e.srv.ConnectOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := JobFuture[int](ctx, q2, id).Result(ctx); err != nil || v != 49 {
		t.Errorf("JobFuture = %v, %v", v, err)
	}
	if _, err := e.q.Job(ctx, "nosuchjob"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("Job(unknown) = %v, want ErrJobNotFound", err)
	}
	if _, err := e.q.Job(ctx, "bad id"); err == nil || !strings.Contains(err.Error(), "bad id") {
		t.Errorf("Job(bad id) = %v", err)
	}
}

func TestJobFailedAndRequeue(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{})
	ctx := testCtx(t, 20*time.Second)
	id, err := Enqueue(ctx, e.q, flaky, 1, JobOptions{}) // fails on its first run only
	if err != nil {
		t.Fatal(err)
	}
	_, err = JobResult[string](ctx, e.q, id)
	if !errors.Is(err, ErrJobFailed) || !errors.Is(err, errOdd) {
		t.Fatalf("JobResult err = %v, want ErrJobFailed and errOdd", err)
	}
	j, _ := e.q.Job(ctx, id)
	if j.State != JobFailed || j.Error == nil || !strings.Contains(j.Error.Message, "run 1") {
		t.Fatalf("record %+v", j)
	}
	failed, err := e.q.ListJobs(ctx, JobFilter{State: JobFailed})
	if err != nil || len(failed) != 1 || failed[0].ID != id {
		t.Fatalf("ListJobs(failed) = %v, %v", failed, err)
	}
	if err := e.q.Requeue(ctx, id); err != nil {
		t.Fatal(err)
	}
	v, err := JobResult[string](ctx, e.q, id)
	if err != nil || v != "ok after 2" {
		t.Fatalf("after requeue: %q, %v", v, err)
	}
	j, _ = e.q.Job(ctx, id)
	if !sameStates(states(j), []JobState{JobQueued, JobStarted, JobFailed, JobQueued, JobStarted, JobFinished}) || j.Attempts != 1 || j.Error != nil {
		t.Errorf("after requeue: timeline %v, attempts %d, error %v", states(j), j.Attempts, j.Error)
	}
	if err := e.q.Requeue(ctx, id); !errors.Is(err, ErrJobFinal) {
		t.Errorf("Requeue(finished) = %v, want ErrJobFinal", err)
	}
	// Requeue of every failed job.
	var ids []string
	for range 3 {
		id, _ := Enqueue(ctx, e.q, flaky, 1, JobOptions{})
		ids = append(ids, id)
	}
	for _, id := range ids {
		if _, err := e.q.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.q.RequeueFailed(ctx, ""); n != 3 || err != nil {
		t.Fatalf("RequeueFailed = %d, %v", n, err)
	}
	for _, id := range ids {
		if _, err := JobResult[string](ctx, e.q, id); err != nil {
			t.Errorf("requeued %s: %v", id, err)
		}
	}
}

func TestJobCancelQueuedAndRunning(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 20*time.Second)
	queued, err := Enqueue(ctx, e.q, counted, 1, JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.q.Cancel(ctx, queued); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Cancel(ctx, queued); !errors.Is(err, ErrJobFinal) {
		t.Errorf("second Cancel = %v, want ErrJobFinal", err)
	}
	stopCh := make(chan error, 1)
	hookMu.Lock()
	stoppedErr["any"] = stopCh
	hookMu.Unlock()
	t.Cleanup(func() { hookMu.Lock(); delete(stoppedErr, "any"); hookMu.Unlock() })
	e.serve(t, JobWorkerOptions{})
	running, _ := Enqueue(ctx, e.q, jobSleep, 30_000, JobOptions{})
	waitState(t, ctx, e.q, running, JobStarted)
	if err := e.q.Cancel(ctx, running); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-stopCh:
		if !errors.Is(cause, errJobCancelled) {
			t.Errorf("running job stopped with %v", cause)
		}
	case <-ctx.Done():
		t.Fatal("running job not stopped")
	}
	for _, id := range []string{queued, running} {
		j, err := e.q.Wait(ctx, id)
		if err != nil || j.State != JobCancelled || !errors.Is(j.Outcome(), ErrJobCancelled) {
			t.Errorf("%s: %+v, %v", id, j, err)
		}
	}
	// The worker dropped the cancelled job's message without running it.
	waitFor(t, ctx, "the queue to drain", func() bool {
		qs, err := e.q.Queues(ctx)
		return err == nil && len(qs) == 1 && qs[0].Waiting == 0 && qs[0].InFlight == 0
	})
	if n := runsOf(queued); n != 0 {
		t.Errorf("cancelled queued job ran %d times", n)
	}
}

func waitState(t *testing.T, ctx context.Context, q *Jobs, id string, st JobState) *Job {
	t.Helper()
	var j *Job
	waitFor(t, ctx, fmt.Sprintf("job %s to be %s", id, st), func() bool {
		var err error
		j, err = q.Job(ctx, id)
		return err == nil && j.State == st
	})
	return j
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestJobScheduledAtAndIn(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{})
	ctx := testCtx(t, 20*time.Second)
	in, err := Enqueue(ctx, e.q, counted, 1, JobOptions{In: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	at, err := Enqueue(ctx, e.q, counted, 2, JobOptions{At: time.Now().Add(900 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{in, at} {
		j, err := e.q.Job(ctx, id)
		if err != nil || j.State != JobScheduled || j.RunAt.IsZero() {
			t.Fatalf("%s right after enqueue: %+v, %v", id, j, err)
		}
	}
	for _, id := range []string{in, at} {
		j, err := e.q.Wait(ctx, id)
		if err != nil || j.State != JobFinished {
			t.Fatalf("%s: %+v, %v", id, j, err)
		}
		if j.StartedAt.Before(j.RunAt) {
			t.Errorf("%s started at %v, before its time %v", id, j.StartedAt, j.RunAt)
		}
		if !sameStates(states(j), []JobState{JobScheduled, JobStarted, JobFinished}) {
			t.Errorf("%s timeline %v", id, states(j))
		}
	}
}

func TestJobDependencies(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{Concurrency: 4})
	ctx := testCtx(t, 30*time.Second)
	parent, _ := Enqueue(ctx, e.q, jobSleep, 300, JobOptions{})
	child, err := Enqueue(ctx, e.q, counted, 1, JobOptions{DependsOn: []string{parent}})
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := e.q.Job(ctx, child); j.State != JobDeferred {
		t.Fatalf("child is %s, want deferred", j.State)
	}
	cj, err := e.q.Wait(ctx, child)
	if err != nil || cj.State != JobFinished {
		t.Fatalf("child: %+v, %v", cj, err)
	}
	pj, _ := e.q.Job(ctx, parent)
	if cj.StartedAt.Before(pj.EndedAt) {
		t.Errorf("child started %v before its dependency ended %v", cj.StartedAt, pj.EndedAt)
	}

	bad, _ := Enqueue(ctx, e.q, flaky, 5, JobOptions{})
	cancelled, _ := Enqueue(ctx, e.q, counted, 2, JobOptions{DependsOn: []string{parent, bad}})
	allowed, _ := Enqueue(ctx, e.q, counted, 3, JobOptions{DependsOn: []string{bad}, AllowFailure: true})
	j, err := e.q.Wait(ctx, cancelled)
	if err != nil || j.State != JobCancelled || !strings.Contains(j.Outcome().Error(), bad+" failed") {
		t.Errorf("dependent of a failed job: %+v, %v (outcome %v)", j, err, j.Outcome())
	}
	if runsOf(cancelled) != 0 {
		t.Errorf("dependent of a failed job ran")
	}
	if v, err := JobResult[int](ctx, e.q, allowed); err != nil || v != 3 {
		t.Errorf("allow-failure dependent: %v, %v", v, err)
	}
	if _, err := Enqueue(ctx, e.q, counted, 1, JobOptions{DependsOn: []string{"no good"}}); err == nil {
		t.Error("a bad dependency ID was accepted")
	}
}

func TestJobRetries(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{})
	ctx := testCtx(t, 20*time.Second)
	id, _ := Enqueue(ctx, e.q, flaky, 2, JobOptions{Retry: &RetryPolicy{Max: 3, Intervals: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}}})
	v, err := JobResult[string](ctx, e.q, id)
	if err != nil || v != "ok after 3" {
		t.Fatalf("JobResult = %q, %v", v, err)
	}
	j, _ := e.q.Job(ctx, id)
	want := []JobState{JobQueued, JobStarted, JobScheduled, JobStarted, JobScheduled, JobStarted, JobFinished}
	if !sameStates(states(j), want) || j.Retries != 2 || j.Attempts != 3 {
		t.Fatalf("timeline %v retries %d attempts %d", states(j), j.Retries, j.Attempts)
	}
	// The backoff was waited: the second retry started >= 300ms after the
	// second failure.
	tl := j.Timeline
	if gap := tl[5].At.Sub(tl[4].At); gap < 300*time.Millisecond {
		t.Errorf("second retry after %v, want >= 300ms", gap)
	}
	if gap := tl[3].At.Sub(tl[2].At); gap < 100*time.Millisecond {
		t.Errorf("first retry after %v, want >= 100ms", gap)
	}
	// Out of retries: failed, with the last error.
	id, _ = Enqueue(ctx, e.q, flaky, 5, JobOptions{Retry: &RetryPolicy{Max: 1, Base: 50 * time.Millisecond}})
	j, err = e.q.Wait(ctx, id)
	if err != nil || j.State != JobFailed || j.Retries != 1 || !strings.Contains(j.Error.Message, "run 2") {
		t.Fatalf("exhausted: %+v, %v", j, err)
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	p := &RetryPolicy{Max: 10, Base: 100 * time.Millisecond, Cap: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 9: time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	p.Jitter = true
	for range 200 {
		if d := p.Delay(3); d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("jittered Delay(3) = %v, want in [200ms, 400ms]", d)
		}
	}
	p = &RetryPolicy{Intervals: []time.Duration{time.Second, 5 * time.Second}}
	if p.Delay(1) != time.Second || p.Delay(2) != 5*time.Second || p.Delay(7) != 5*time.Second {
		t.Errorf("interval list: %v %v %v", p.Delay(1), p.Delay(2), p.Delay(7))
	}
}

func TestJobUnique(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 20*time.Second)
	first, err := Enqueue(ctx, e.q, counted, 1, JobOptions{UniqueKey: "report-2026-12-05"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Enqueue(ctx, e.q, counted, 1, JobOptions{UniqueKey: "report-2026-12-05"})
	if !errors.Is(err, ErrDuplicateJob) || !strings.Contains(err.Error(), first) {
		t.Fatalf("second enqueue = %v, want ErrDuplicateJob naming %s", err, first)
	}
	if _, err := Enqueue(ctx, e.q, counted, 1, JobOptions{ID: first}); !errors.Is(err, ErrDuplicateJob) {
		t.Errorf("enqueue of an existing ID = %v, want ErrDuplicateJob", err)
	}
	e.serve(t, JobWorkerOptions{})
	if _, err := e.q.Wait(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Ended: the key is free again.
	next, err := Enqueue(ctx, e.q, counted, 1, JobOptions{UniqueKey: "report-2026-12-05"})
	if err != nil {
		t.Fatalf("enqueue after the first ended: %v", err)
	}
	if _, err := e.q.Wait(ctx, next); err != nil {
		t.Fatal(err)
	}
}

func TestJobTTL(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{})
	ctx := testCtx(t, 20*time.Second)
	short, _ := Enqueue(ctx, e.q, counted, 1, JobOptions{ResultTTL: time.Second})
	failed, _ := Enqueue(ctx, e.q, flaky, 9, JobOptions{FailureTTL: time.Second})
	kept, _ := Enqueue(ctx, e.q, counted, 1, JobOptions{ResultTTL: -1})
	for _, id := range []string{short, failed, kept} {
		if _, err := e.q.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "the records to expire", func() bool {
		_, e1 := e.q.Job(ctx, short)
		_, e2 := e.q.Job(ctx, failed)
		return errors.Is(e1, ErrJobNotFound) && errors.Is(e2, ErrJobNotFound)
	})
	time.Sleep(500 * time.Millisecond)
	if j, err := e.q.Job(ctx, kept); err != nil || j.State != JobFinished {
		t.Errorf("job kept forever: %v, %v", j, err)
	}
}

// envRunLog names the run log of loggedSleep.
const envRunLog = "TRIDENT_CLUSTER_TEST_RUNLOG"

// runsLogged counts the runs of each job in a loggedSleep run log.
func runsLogged(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	for _, id := range strings.Fields(string(b)) {
		runs[id]++
	}
	return runs
}

// A worker process is SIGSTOPped with jobs running and more fetched
// ahead; another worker takes them all after AckWait. The stopped worker
// resumes while that worker runs them: only the jobs it was running run a
// second time (their results dropped), the messages it had fetched ahead
// are left to the worker that has them now, every job ends once, and no
// record changes after its final state.
func TestJobWorkerStoppedAndResumed(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 60*time.Second)
	log := t.TempDir() + "/runs"
	t.Setenv(envRunLog, log)
	w := startJobWorker(t, e.srv.URL(), envAckWait+"=1s") // 4 slots
	defer w.stop()
	specs := make([]JobSpec, 12)
	for i := range specs {
		specs[i] = JobSpec{Func: loggedSleep.Name(), Arg: []byte("1500")}
	}
	ids, err := e.q.EnqueueBatch(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	count := func(ok func(*Job) bool) int {
		js, err := e.q.FetchMany(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, j := range js {
			if j != nil && ok(j) {
				n++
			}
		}
		return n
	}
	waitFor(t, ctx, "the worker to run 4 jobs", func() bool {
		return count(func(j *Job) bool { return j.State == JobStarted }) == 4
	})
	time.Sleep(200 * time.Millisecond) // and to fetch ahead
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = w.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	e.serve(t, JobWorkerOptions{AckWait: time.Second, Concurrency: 16, Name: "survivor"})
	waitFor(t, ctx, "the survivor to run every job", func() bool {
		return count(func(j *Job) bool { return j.Worker == "survivor" && (j.State == JobStarted || j.State.Final()) }) == len(ids)
	})
	resumed = true
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "every job to end", func() bool { return count(func(j *Job) bool { return j.State.Final() }) == len(ids) })
	before, err := e.q.FetchMany(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the resumed worker's leftovers would show now
	after, err := e.q.FetchMany(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	runs := runsLogged(t, log)
	total, dups := 0, 0
	for i, id := range ids {
		if after[i].State != JobFinished || after[i].Revision != before[i].Revision || after[i].Worker != "survivor" {
			t.Errorf("%s: %s by %s at revision %d after the resume, %s at %d before", id, after[i].State, after[i].Worker, after[i].Revision, before[i].State, before[i].Revision)
		}
		if runs[id] < 1 {
			t.Errorf("%s finished without a logged run", id)
		}
		total += runs[id]
		dups += runs[id] - 1
	}
	t.Logf("%d jobs, %d runs, %d duplicate runs", len(ids), total, dups)
	if dups > 4 {
		t.Errorf("%d duplicate runs: more than the 4 jobs the stopped worker was running", dups)
	}
}

// A worker process is SIGKILLed mid-job: the job is run again by another
// worker and ends exactly once, finished, with two attempts.
func TestJobWorkerKilledMidJob(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 60*time.Second)
	w := startJobWorker(t, e.srv.URL(), envAckWait+"=1s")
	defer w.stop()
	id, _ := Enqueue(ctx, e.q, jobSleep, 1500, JobOptions{})
	waitState(t, ctx, e.q, id, JobStarted)
	w.kill()
	e.serve(t, JobWorkerOptions{AckWait: time.Second, Name: "survivor"})
	j, err := e.q.Wait(ctx, id)
	if err != nil || j.State != JobFinished || j.Worker != "survivor" || j.Attempts != 2 {
		t.Fatalf("after the kill: %+v, %v", j, err)
	}
	if !sameStates(states(j), []JobState{JobQueued, JobStarted, JobStarted, JobFinished}) {
		t.Errorf("timeline %v", states(j))
	}
	time.Sleep(1500 * time.Millisecond) // a late duplicate would show now
	if j2, _ := e.q.Job(ctx, id); j2.Revision != j.Revision {
		t.Errorf("record changed after its final state: %v", states(j2))
	}
}

func TestJobCommand(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{Functions: []string{CommandFunc}})
	ctx := testCtx(t, 20*time.Second)
	ok, _ := e.q.EnqueueCommand(ctx, CommandJob{Command: "echo hello"}, JobOptions{})
	bad, _ := e.q.EnqueueCommand(ctx, CommandJob{Command: "echo oops >&2; exit 3"}, JobOptions{})
	j, err := e.q.Wait(ctx, ok)
	if r, _ := j.CommandResult(); err != nil || j.State != JobFinished || string(r.Stdout) != "hello\n" {
		t.Errorf("ok command: %+v, %v", j, err)
	}
	j, err = e.q.Wait(ctx, bad)
	if err != nil || j.State != JobFailed || j.Error.ExitCode != 3 || j.Error.StderrTail != "oops\n" {
		t.Errorf("failing command: %+v, %v", j.Error, err)
	}
	if _, err := e.q.EnqueueCommand(ctx, CommandJob{}, JobOptions{}); err == nil {
		t.Error("empty command accepted")
	}
}

func TestJobPriorityQueues(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 20*time.Second)
	var low, high []string
	for i := range 20 {
		id, _ := Enqueue(ctx, e.q, counted, i, JobOptions{Queue: "low"})
		low = append(low, id)
	}
	for i := range 20 {
		id, _ := Enqueue(ctx, e.q, counted, i, JobOptions{Queue: "high"})
		high = append(high, id)
	}
	e.serve(t, JobWorkerOptions{Queues: []string{"high", "low"}, Concurrency: 1, Functions: []string{counted.Name()}})
	var lastHigh, firstLow time.Time
	for _, id := range high {
		j, _ := e.q.Wait(ctx, id)
		if j.StartedAt.After(lastHigh) {
			lastHigh = j.StartedAt
		}
	}
	for _, id := range low {
		j, _ := e.q.Wait(ctx, id)
		if firstLow.IsZero() || j.StartedAt.Before(firstLow) {
			firstLow = j.StartedAt
		}
	}
	if firstLow.Before(lastHigh) {
		t.Errorf("a low-priority job started at %v, before the last high one %v", firstLow, lastHigh)
	}
}

func TestJobWorkersMetricsList(t *testing.T) {
	e := newJobEnv(t)
	m := NewJobMetrics(e.q)
	e.serve(t, JobWorkerOptions{Name: "wm", Concurrency: 3, Metrics: m})
	ctx := testCtx(t, 20*time.Second)
	long, _ := Enqueue(ctx, e.q, jobSleep, 20_000, JobOptions{Queue: DefaultQueue})
	waitState(t, ctx, e.q, long, JobStarted)
	ws, err := e.q.Workers(ctx, 0)
	if err != nil || len(ws) != 1 || ws[0].Name != "wm" || ws[0].Concurrency != 3 || len(ws[0].Running) != 1 || ws[0].Running[0] != long {
		t.Fatalf("Workers = %+v, %v", ws, err)
	}
	for i := range 5 {
		id, _ := Enqueue(ctx, e.q, counted, i, JobOptions{})
		e.q.Wait(ctx, id)
	}
	fid, _ := Enqueue(ctx, e.q, flaky, 9, JobOptions{})
	e.q.Wait(ctx, fid)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`trident_jobs_ended_total{queue="default",state="finished"} 5`,
		`trident_jobs_ended_total{queue="default",state="failed"} 1`,
		`trident_job_queue_in_flight{queue="default"} 1`,
		`trident_job_run_seconds_count{queue="default"} 6`,
		`trident_job_wait_seconds_bucket{queue="default",le="+Inf"} 7`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	all, err := e.q.ListJobs(ctx, JobFilter{})
	if err != nil || len(all) != 7 || all[0].ID != fid {
		t.Errorf("ListJobs = %d jobs (first %v), %v", len(all), all, err)
	}
	if l, _ := e.q.ListJobs(ctx, JobFilter{IDPrefix: long}); len(l) != 1 || l[0].ID != long {
		t.Errorf("ListJobs(prefix) = %v", l)
	}
	if l, _ := e.q.ListJobs(ctx, JobFilter{IDPrefix: "zz-no-such"}); len(l) != 0 {
		t.Errorf("ListJobs(unknown prefix) = %v", l)
	}
	if l, _ := e.q.ListJobs(ctx, JobFilter{State: JobStarted, Limit: 1}); len(l) != 1 || l[0].ID != long {
		t.Errorf("ListJobs(started) = %v", l)
	}
	if err := e.q.Cancel(ctx, long); err != nil {
		t.Fatal(err)
	}
}

func TestCronNoDoubleFire(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 30*time.Second)
	if err := e.q.AddSchedule(ctx, Schedule{Name: "tick", Cron: "@every 1s", Func: counted.Name(), Arg: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := e.q.AddSchedule(ctx, Schedule{Name: "bad", Cron: "61 * * * *", Func: "x"}); err == nil || !strings.Contains(err.Error(), "61 * * * *") {
		t.Errorf("bad cron expression: %v", err)
	}
	e.serve(t, JobWorkerOptions{})
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 { // three schedulers, looking at different moments
		wg.Add(1)
		go func() {
			defer wg.Done()
			RunScheduler(sctx, e.q, SchedulerOptions{Tick: 70 * time.Millisecond, Logger: quietLog()})
		}()
		time.Sleep(30 * time.Millisecond)
	}
	time.Sleep(3500 * time.Millisecond)
	stop()
	wg.Wait()
	jobs, err := e.q.ListJobs(ctx, JobFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	periods := map[string]bool{}
	for _, j := range jobs {
		if j.Schedule != "tick" {
			t.Errorf("job %s not from the schedule", j.ID)
		}
		periods[j.ID] = true
		if _, err := e.q.Wait(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	// 3 or 4 periods pass; a scheduler starved for over a second by a busy
	// machine skips a period (as cron does) rather than firing it twice.
	if len(jobs) < 2 || len(jobs) > 5 {
		t.Errorf("%d jobs in 3.5s of a 1s schedule", len(jobs))
	}
	for id := range periods {
		if n := runsOf(id); n != 1 {
			t.Errorf("period job %s ran %d times", id, n)
		}
	}
	if s, _ := e.q.Schedules(ctx); len(s) != 1 || s[0].Name != "tick" {
		t.Errorf("Schedules = %v", s)
	}
	if err := e.q.RemoveSchedule(ctx, "tick"); err != nil {
		t.Error(err)
	}
}

func TestLatestPeriod(t *testing.T) {
	now := time.Date(2026, 12, 5, 13, 7, 30, 0, time.UTC)
	p, ok := latestPeriod("*/5 * * * *", now, time.Minute)
	if ok {
		t.Errorf("*/5 at 13:07:30 with 1m grace: %v, want none", p)
	}
	p, ok = latestPeriod("*/5 * * * *", now, 5*time.Minute)
	if !ok || !p.Equal(time.Date(2026, 12, 5, 13, 5, 0, 0, time.UTC)) {
		t.Errorf("*/5 with 5m grace: %v %v", p, ok)
	}
	p1, _ := latestPeriod("@every 10s", now, time.Minute)
	p2, _ := latestPeriod("@every 10s", now.Add(3*time.Second), time.Minute)
	if !p1.Equal(p2) || !p1.Equal(now) {
		t.Errorf("@every 10s: %v and %v, want both %v", p1, p2, now)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestJobExecutor(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{Concurrency: 2})
	ctx := testCtx(t, 20*time.Second)
	ex := e.q.Executor(JobOptions{Queue: DefaultQueue})
	if v, err := square.Submit(ex, ctx, 9).Result(ctx); err != nil || v != 81 {
		t.Fatalf("Submit = %v, %v", v, err)
	}
	if _, err := flaky.Submit(ex, ctx, 1).Result(ctx); !errors.Is(err, errOdd) {
		t.Errorf("failing job: %v, want errOdd", err)
	}
	f := jobSleep.Submit(ex, ctx, 30_000)
	waitFor(t, ctx, "the job to start", func() bool {
		l, _ := e.q.ListJobs(ctx, JobFilter{State: JobStarted})
		return len(l) == 1
	})
	f.Cancel()
	waitFor(t, ctx, "the job to be cancelled", func() bool {
		l, _ := e.q.ListJobs(ctx, JobFilter{State: JobCancelled})
		return len(l) == 1
	})
	// Map and MapAll reach the queue as one job per chunk.
	got, err := square.MapAll(ex, ctx, []int{1, 2, 3, 4, 5}, registry.ChunkSize(2))
	if err != nil || len(got) != 5 || got[4] != 25 || got[0] != 1 {
		t.Errorf("MapAll = %v, %v; want squares of 1..5", got, err)
	}
	l, _ := e.q.ListJobs(ctx, JobFilter{})
	batches := 0
	for _, j := range l {
		if j.Batch {
			batches++
		}
	}
	if batches != 3 {
		t.Errorf("MapAll of 5 inputs in chunks of 2 made %d batch jobs, want 3", batches)
	}
	fs := square.Map(ex, ctx, []int{6, 7, 8}, registry.ChunkSize(2))
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || v != (6+i)*(6+i) {
			t.Errorf("Map: square(%d) = %v, %v", 6+i, v, err)
		}
	}
	if _, err := square.Submit(e.q.Executor(JobOptions{UniqueKey: "k"}), ctx, 1).Result(ctx); err == nil {
		t.Error("a JobExecutor with a unique key was accepted")
	}
}

// JobExecutor's futures wait on one shared watch of the bucket, which
// runs while any of them waits: Submit returns at once, many futures in
// flight resolve from it, and it stops with the last one.
func TestJobExecutorSharedWatch(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 30*time.Second)
	ex := e.q.Executor(JobOptions{})
	stops := func() int {
		e.q.waiters.mu.Lock()
		defer e.q.waiters.mu.Unlock()
		return e.q.waiters.stops
	}
	watching := func() bool {
		e.q.waiters.mu.Lock()
		defer e.q.waiters.mu.Unlock()
		return e.q.waiters.cc != nil
	}
	// No worker yet: Submit does not wait for the job to run.
	fs := make([]*future.Future[int], 300)
	for i := range fs {
		fs[i] = square.Submit(ex, ctx, i)
	}
	waitFor(t, ctx, "the watch to start", watching)
	if n := consumersOf(t, ctx, e, "KV_"+JobBucket); n != 1 {
		t.Errorf("%d consumers on the bucket for 300 waiting futures, want 1", n)
	}
	e.serve(t, JobWorkerOptions{Concurrency: 8})
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) = %v, %v", i, v, err)
		}
	}
	waitFor(t, ctx, "the watch to stop with the last waiter", func() bool { return !watching() })
	if got := stops(); got != 1 {
		t.Errorf("the watch stopped %d times, want once", got)
	}
	// A future cancelled at once: its job is cancelled once it exists.
	f := jobSleep.Submit(ex, ctx, 30_000)
	f.Cancel()
	waitFor(t, ctx, "the job to be cancelled", func() bool {
		l, _ := e.q.ListJobs(ctx, JobFilter{State: JobCancelled})
		return len(l) == 1
	})
	waitFor(t, ctx, "the watch to stop", func() bool { return !watching() })
}

// consumersOf counts the consumers of stream name.
func consumersOf(t *testing.T, ctx context.Context, e *jobEnv, name string) int {
	t.Helper()
	st, err := e.conn.js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// The queue message carries the record as written and its KV revision, so
// the worker starts the job without reading it; a record changed since
// (here: rewritten before any worker runs) makes the compare-and-set fail
// and the worker read the current record, running the job once.
// A queue message carries the job's ID only; the worker starts the job
// from its current record, read when it takes the message, so a change
// made while the job was queued is kept.
func TestJobWorkerStartsFromCurrentRecord(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 20*time.Second)
	fresh, err := Enqueue(ctx, e.q, counted, 1, JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Enqueue(ctx, e.q, counted, 2, JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.conn.js.Stream(ctx, JobStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if id := m.Header.Get(hdrJobID); (id != fresh && id != changed) || len(m.Data) != 0 {
			t.Errorf("queue message %d: job %q, %d bytes of data; want the ID only", seq, id, len(m.Data))
		}
	}
	if _, err := e.q.update(ctx, changed, func(j *Job) error { j.Timeout = time.Hour; return nil }); err != nil {
		t.Fatal(err)
	}
	e.serve(t, JobWorkerOptions{})
	for _, id := range []string{fresh, changed} {
		j, err := e.q.Wait(ctx, id)
		if err != nil || j.State != JobFinished || j.Attempts != 1 || runsOf(id) != 1 {
			t.Fatalf("%s: %+v, %v, runs %d", id, j, err, runsOf(id))
		}
		if id == changed && j.Timeout != time.Hour {
			t.Errorf("the worker ran the record as enqueued over the changed one: %+v", j)
		}
	}
}

// watchStates records the states every write of job id's record shows,
// from its enqueue on.
func watchStates(t *testing.T, ctx context.Context, q *Jobs, id string) func() []JobState {
	t.Helper()
	w, err := q.kv.Watch(ctx, jobKey(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	var mu sync.Mutex
	var seen []JobState
	go func() {
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			if j, err := decodeJob(e); err == nil {
				mu.Lock()
				seen = append(seen, j.State)
				mu.Unlock()
			}
		}
	}()
	return func() []JobState {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// A job that ends within StartedAfter goes from queued to finished in one
// write, its timeline still showing when it started; a longer one is
// recorded as started while it runs; a negative StartedAfter records every
// job as started before it runs.
func TestJobStartedAfter(t *testing.T) {
	for _, c := range []struct {
		name  string
		after time.Duration
		ms    int
		want  []JobState
	}{
		{"quick job, default", 0, 0, []JobState{JobQueued, JobFinished}},
		{"slow job, default", 0, 400, []JobState{JobQueued, JobStarted, JobFinished}},
		{"quick job, always recorded", -1, 0, []JobState{JobQueued, JobStarted, JobFinished}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newJobEnv(t)
			ctx := testCtx(t, 20*time.Second)
			id, err := Enqueue(ctx, e.q, jobSleep, c.ms, JobOptions{})
			if err != nil {
				t.Fatal(err)
			}
			seen := watchStates(t, ctx, e.q, id)
			queued, err := e.q.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// No sweeper: the job's record is the only key written, so
			// its revisions count its writes (a watcher could miss one:
			// the bucket keeps one revision).
			e.serve(t, JobWorkerOptions{StartedAfter: c.after, RepairGrace: -1})
			j, err := e.q.Wait(ctx, id)
			if err != nil || j.State != JobFinished {
				t.Fatalf("%+v, %v", j, err)
			}
			if got, want := j.Revision-queued.Revision, uint64(len(c.want)-1); got != want {
				t.Errorf("%d writes after the enqueue, want %d (%v)", got, want, c.want[1:])
			}
			if c.ms > 0 {
				// A slow job is seen started while it runs.
				if got := seen(); !slices.Contains(got, JobStarted) {
					t.Errorf("a watcher saw %v, not started", got)
				}
			}
			if got := states(j); !slices.Equal(got, []JobState{JobQueued, JobStarted, JobFinished}) || j.StartedAt.IsZero() {
				t.Errorf("timeline %v, started at %v; want queued, started, finished", got, j.StartedAt)
			}
		})
	}
}

// FetchMany reads many records in order, nil for an ID not found, as RQ's
// Job.fetch_many.
func TestJobFetchMany(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 20*time.Second)
	specs := make([]JobSpec, 600) // three batches of the batched read
	for i := range specs {
		specs[i] = JobSpec{Func: counted.Name(), Arg: []byte(fmt.Sprint(i))}
	}
	ids, err := e.q.EnqueueBatch(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.q.Cancel(ctx, ids[300]); err != nil {
		t.Fatal(err)
	}
	ask := append(slices.Clone(ids), "never-enqueued", ids[0])
	got, err := e.q.FetchMany(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ask) {
		t.Fatalf("%d records for %d IDs", len(got), len(ask))
	}
	for i, j := range got {
		switch {
		case ask[i] == "never-enqueued":
			if j != nil {
				t.Errorf("a job never enqueued: %+v", j)
			}
		case j == nil:
			t.Errorf("%d (%s): nil", i, ask[i])
		case j.ID != ask[i]:
			t.Errorf("%d: record of %s for %s", i, j.ID, ask[i])
		default:
			one, err := e.q.Job(ctx, ask[i])
			if err != nil || one.State != j.State || one.Revision != j.Revision || string(one.Arg) != string(j.Arg) {
				t.Errorf("%s: FetchMany %s rev %d, Job %+v, %v", ask[i], j.State, j.Revision, one, err)
			}
		}
	}
	if got[300].State != JobCancelled || got[0].State != JobQueued {
		t.Errorf("states %s, %s; want cancelled, queued", got[300].State, got[0].State)
	}
	if got[0] == got[len(got)-1] {
		t.Error("an ID asked for twice shares one record")
	}
	if _, err := e.q.FetchMany(ctx, []string{"bad id"}); err == nil {
		t.Error("FetchMany with an invalid ID: no error")
	}
	if got, err := e.q.FetchMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("FetchMany(nil) = %v, %v", got, err)
	}
}

// A process killed between a job's record write and its queue publish
// leaves a queued job no worker sees; RepairQueued publishes its message
// again once the grace period has passed, once (incremental passes, one
// sweeper at a time), without duplicating a message that was published,
// and the worker runs each job once even when two messages of it exist.
func TestJobRepairQueued(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 30*time.Second)
	crash := errors.New("killed between the record write and the publish")
	enqueueCrashHook = func() error { return crash }
	t.Cleanup(func() { enqueueCrashHook = nil })
	spec := func(id string, x int) JobSpec {
		return JobSpec{Func: counted.Name(), Arg: []byte(fmt.Sprint(x)), Opts: JobOptions{ID: id}}
	}
	if _, err := e.q.EnqueueBatch(ctx, []JobSpec{spec("rep1", 1), spec("rep2", 2), spec("rep3", 3)}); !errors.Is(err, crash) {
		t.Fatalf("EnqueueBatch with the crash hook = %v", err)
	}
	enqueueCrashHook = nil
	if _, err := e.q.EnqueueRaw(ctx, spec("rep4", 4)); err != nil {
		t.Fatal(err)
	}
	msgs := func() uint64 {
		t.Helper()
		st, err := e.conn.js.Stream(ctx, JobStream)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}
	if got := msgs(); got != 1 {
		t.Fatalf("%d queue messages before the repair, want 1", got)
	}
	if n, err := e.q.RepairQueued(ctx, time.Hour); n != 0 || err != nil {
		t.Fatalf("RepairQueued(1h) = %d, %v; want 0 (within the grace period)", n, err)
	}
	time.Sleep(300 * time.Millisecond)
	if n, err := e.q.RepairQueued(ctx, 200*time.Millisecond); n != 3 || err != nil {
		t.Fatalf("RepairQueued = %d, %v; want the 3 lost messages", n, err)
	}
	if got := msgs(); got != 4 {
		t.Errorf("%d queue messages after the repair, want 4 (rep4's was published: not again)", got)
	}
	if n, err := e.q.RepairQueued(ctx, 0); n != 0 || err != nil {
		t.Errorf("second pass = %d, %v; want 0", n, err)
	}
	other, err := OpenJobs(ctx, connect(t, e.srv.ConnectOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := other.RepairQueued(ctx, 0); n != 0 || err != nil {
		t.Errorf("a second sweeper while the first holds the lock = %d, %v", n, err)
	}
	// Two messages of one job (a republish after the duplicate window):
	// it runs once.
	if _, err := e.q.EnqueueRaw(ctx, spec("rep5", 5)); err != nil {
		t.Fatal(err)
	}
	j5, err := e.q.Job(ctx, "rep5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.js.PublishMsg(ctx, e.q.queueMsg(j5, requeueMsgID("rep5", j5.Revision))); err != nil {
		t.Fatal(err)
	}
	// The worker's own sweeper repairs a job lost while it runs.
	e.serve(t, JobWorkerOptions{RepairGrace: 300 * time.Millisecond})
	enqueueCrashHook = func() error { return crash }
	if _, err := e.q.EnqueueRaw(ctx, spec("rep6", 6)); !errors.Is(err, crash) {
		t.Fatalf("EnqueueRaw with the crash hook = %v", err)
	}
	enqueueCrashHook = nil
	for _, id := range []string{"rep1", "rep2", "rep3", "rep4", "rep5", "rep6"} {
		j, err := e.q.Wait(ctx, id)
		if err != nil || j.State != JobFinished || j.Attempts != 1 {
			t.Fatalf("%s: %+v, %v", id, j, err)
		}
	}
	waitFor(t, ctx, "the queue to drain", func() bool { return msgs() == 0 })
	for _, id := range []string{"rep1", "rep2", "rep3", "rep4", "rep5", "rep6"} {
		if n := runsOf(id); n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
}

var bigResult = registry.Register("jobtest.big", func(ctx context.Context, n int) (string, error) {
	return strings.Repeat("x", n), nil
})

// A result larger than MaxInlineResult is kept in the result store, the
// record naming it; Job, Wait and JobResult read it transparently, and
// CleanResults removes objects no record names any more.
func TestJobLargeResult(t *testing.T) {
	e := newJobEnv(t)
	e.serve(t, JobWorkerOptions{RepairGrace: -1})
	ctx := testCtx(t, 30*time.Second)
	big := MaxInlineResult + 1000
	ids := make([]string, 3)
	for i := range ids {
		var err error
		if ids[i], err = Enqueue(ctx, e.q, bigResult, big, JobOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	small, err := Enqueue(ctx, e.q, bigResult, 10, JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		v, err := JobResult[string](ctx, e.q, id)
		if err != nil || len(v) != big {
			t.Fatalf("JobResult = %d bytes, %v; want %d", len(v), err, big)
		}
		rec, err := e.q.record(ctx, id)
		if err != nil || rec.ResultObject != resultObjectName(id, 1) || len(rec.Result) != 0 {
			t.Fatalf("stored record: object %q, %d result bytes, %v", rec.ResultObject, len(rec.Result), err)
		}
		j, err := e.q.Job(ctx, id)
		if err != nil || len(j.Result) != big+2 { // a JSON string
			t.Fatalf("Job: %d result bytes, %v", len(j.Result), err)
		}
	}
	if v, err := JobResult[string](ctx, e.q, small); err != nil || len(v) != 10 {
		t.Fatalf("small JobResult = %q, %v", v, err)
	}
	if j, _ := e.q.record(ctx, small); j.ResultObject != "" {
		t.Errorf("a small result went to the result store: %q", j.ResultObject)
	}
	if n, err := e.q.CleanResults(ctx); n != 0 || err != nil {
		t.Fatalf("CleanResults with every object young = %d, %v", n, err)
	}
	old := resultCleanAge
	resultCleanAge = 0
	t.Cleanup(func() { resultCleanAge = old })
	if n, err := e.q.CleanResults(ctx); n != 0 || err != nil {
		t.Fatalf("CleanResults with every object named by its job = %d, %v", n, err)
	}
	// ids[0] expires (its record goes), ids[1] is requeued (its record
	// names no object until it ends again): both objects go.
	if err := e.q.kv.Delete(ctx, jobKey(ids[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.update(ctx, ids[1], func(j *Job) error { j.State, j.ResultObject = JobFailed, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := e.q.CleanResults(ctx); n != 2 || err != nil {
		t.Fatalf("CleanResults = %d, %v; want 2", n, err)
	}
	if v, err := JobResult[string](ctx, e.q, ids[2]); err != nil || len(v) != big {
		t.Fatalf("the result still named was removed: %d bytes, %v", len(v), err)
	}
}

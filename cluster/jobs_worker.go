package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// JobWorkerOptions configures ServeJobs.
type JobWorkerOptions struct {
	// Queues are the queues to serve in priority order: a job of a later
	// queue is taken only when the earlier ones have none ready (RQ's
	// `rq worker high default low`). Empty means DefaultQueue.
	Queues []string
	// Concurrency is how many jobs run at once; 0 means GOMAXPROCS.
	Concurrency int
	// AckWait is how long a job's message waits for a sign of life from its
	// worker before another worker takes the job; 0 means 30s. A running
	// job sends a heartbeat every AckWait/3.
	AckWait time.Duration
	// MaxAttempts bounds the runs of one job lost with their worker (killed
	// mid-job): past it the job fails with ErrMaxDeliveries. 0 means 5.
	// Retries after an error are counted apart (JobOptions.Retry).
	MaxAttempts int
	// Functions are the functions this worker runs; nil means every
	// function registered in this binary. Add CommandFunc to run command
	// jobs.
	Functions []string
	// Handler overrides how a function job runs; nil means registry.Invoke.
	// Command jobs (CommandFunc) always run with RunCommand.
	Handler Handler
	// Name identifies the worker in job records and status; "" means
	// host:pid.
	Name string
	// Logger receives structured logs of state changes (Debug) and
	// failures (Warn); nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, counts this worker's jobs (see JobMetrics).
	Metrics *JobMetrics
	// RepairGrace is the grace period of the repair sweeper the worker
	// runs every RepairGrace/2 (Jobs.RepairQueued; one process sweeps at
	// a time): jobs whose record was written that long ago but whose queue
	// message was lost are queued again. 0 means DefaultRepairGrace;
	// negative turns the sweeper off.
	RepairGrace time.Duration
}

// JobWorkerInfo is a job worker's answer to a status ping (JobWorkers):
// its slots and the jobs it runs now.
type JobWorkerInfo struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Queues      []string  `json:"queues"`
	PID         int       `json:"pid"`
	Concurrency int       `json:"concurrency"`
	Running     []string  `json:"running"`
	Done        int64     `json:"done"`
	Failed      int64     `json:"failed"`
	Started     time.Time `json:"started"`
	Functions   []string  `json:"functions,omitempty"`
}

const subjectJobPing = "trident.jobs.ping"

type jobWorker struct {
	q     *Jobs
	o     JobWorkerOptions
	id    string
	start time.Time
	log   *slog.Logger
	slots *slotPool
	conss []jetstream.Consumer // queues in priority order, then functions

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc

	nDone, nFailed atomic.Int64
}

var errJobCancelled = errors.New("cluster: job cancelled by request")

// ServeJobs runs durable jobs from q's queues until ctx ends (an RQ
// worker). Every job it takes ends in a final state written exactly once
// (compare-and-set on the job's record): a job whose worker dies mid-run
// is run again by another worker after AckWait (at least once), and a
// result that arrives after another run already ended the job is dropped.
// On return the jobs it was running are handed back to the queue.
func ServeJobs(ctx context.Context, q *Jobs, o JobWorkerOptions) error {
	if q.conn.anonymousRemote {
		return fmt.Errorf("%w (job worker)", ErrInsecure)
	}
	if len(o.Queues) == 0 {
		o.Queues = []string{DefaultQueue}
	}
	for _, qu := range o.Queues {
		if err := validQueue(qu); err != nil {
			return err
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = host + ":" + strconv.Itoa(os.Getpid())
	}
	if o.Functions == nil {
		o.Functions = registry.Names()
	}
	fns := slices.Compact(slices.Sorted(slices.Values(o.Functions)))
	if len(fns) == 0 || fns[0] == "" {
		return errors.New("cluster: job worker has no function to run (JobWorkerOptions.Functions is empty and nothing is registered, or a name is empty)")
	}
	o.Functions = fns
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &jobWorker{q: q, o: o, id: nuid.Next(), start: time.Now(), slots: newSlotPool(o.Concurrency),
		running: map[string]context.CancelCauseFunc{}}
	w.log = log.With("component", "trident.jobs", "worker", o.Name)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, qu := range o.Queues {
		for _, fn := range fns {
			cons, err := q.conn.js.CreateOrUpdateConsumer(cctx, JobStream, jetstream.ConsumerConfig{
				Durable:       "jobs-" + consumerName(qu, fn),
				Description:   fmt.Sprintf("trident job workers of queue %s, function %q", qu, fn),
				FilterSubject: jobSubject(qu, fn),
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       o.AckWait,
				MaxDeliver:    -1, // attempts are counted in the job record
				MaxAckPending: -1,
			})
			if err != nil {
				return fmt.Errorf("cluster: creating job consumer for function %q of queue %s: %w", fn, qu, err)
			}
			w.conss = append(w.conss, cons)
		}
	}
	cancel()
	cancelSub, err := q.conn.nc.Subscribe(subjectJobCancel, w.onCancel)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to job cancellations: %w", err)
	}
	defer cancelSub.Unsubscribe()
	pingSub, err := q.conn.nc.Subscribe(subjectJobPing, w.onPing)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to job pings: %w", err)
	}
	defer pingSub.Unsubscribe()
	w.log.Info("job worker started", "queues", o.Queues, "concurrency", o.Concurrency, "functions", len(fns))
	defer w.log.Info("job worker stopped")
	if o.RepairGrace == 0 {
		o.RepairGrace = DefaultRepairGrace
	}
	if o.RepairGrace > 0 {
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.sweep(sctx, o.RepairGrace)
		}()
		defer func() { stop(); <-done }()
	}
	return w.loop(ctx)
}

// resultCleanEvery is how often the sweeping worker runs CleanResults.
const resultCleanEvery = 10 * time.Minute

// sweep runs q.RepairQueued every grace/2 until ctx ends, and, in the
// process holding the sweeper's lock, q.CleanResults every
// resultCleanEvery.
func (w *jobWorker) sweep(ctx context.Context, grace time.Duration) {
	t := time.NewTicker(max(grace/2, 10*time.Millisecond))
	defer t.Stop()
	lastClean := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := w.q.RepairQueued(ctx, grace)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("job repair sweep failed", "err", err)
		} else if n > 0 {
			w.log.Warn("jobs queued again: their queue message was lost", "jobs", n)
		}
		if time.Since(lastClean) >= resultCleanEvery && w.q.repairHeld() {
			lastClean = time.Now()
			if n, err := w.q.CleanResults(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("job result cleaning failed", "err", err)
			} else if n > 0 {
				w.log.Info("job results removed: their jobs are gone", "objects", n)
			}
		}
	}
}

func (w *jobWorker) loop(ctx context.Context) error {
	base, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	var tasks sync.WaitGroup
	defer func() {
		stop(errWorkerStopping)
		tasks.Wait()
	}()
	idle := time.Millisecond
	for {
		n, ok := w.slots.waitFree(ctx)
		if !ok || ctx.Err() != nil {
			return nil
		}
		got := 0
		// Strict priority: the first consumer with ready messages wins.
		for _, cons := range w.conss {
			var batch jetstream.MessageBatch
			var err error
			if len(w.conss) == 1 {
				fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
				batch, err = cons.Fetch(n, jetstream.FetchContext(fctx))
				got += w.dispatch(ctx, base, batch, err, &tasks)
				fcancel()
			} else {
				batch, err = cons.FetchNoWait(n)
				got += w.dispatch(ctx, base, batch, err, &tasks)
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("cluster: job worker connection closed: %w", err)
			}
			if got > 0 {
				break
			}
		}
		if got > 0 {
			idle = time.Millisecond
			continue
		}
		select {
		case <-time.After(idle):
		case <-ctx.Done():
			return nil
		}
		idle = min(2*idle, 100*time.Millisecond)
	}
}

func (w *jobWorker) dispatch(ctx, base context.Context, batch jetstream.MessageBatch, err error, tasks *sync.WaitGroup) int {
	if err != nil || batch == nil {
		return 0
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if !w.slots.take(ctx, m, w.o.AckWait) {
			_ = m.Nak()
			continue
		}
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			defer w.slots.release()
			w.handle(base, m)
		}()
	}
	return n
}

// handle takes one job message to its end: acknowledged once the job is
// final, delayed (scheduled, deferred, retry backoff) or handed back.
func (w *jobWorker) handle(base context.Context, m jetstream.Msg) {
	id := m.Headers().Get(hdrJobID)
	ctx, cancelOp := context.WithTimeout(base, 10*time.Second)
	defer cancelOp()
	if validJobID(id) != nil {
		w.log.Warn("job message without a valid job ID: dropped", "subject", m.Subject())
		_ = m.Term()
		return
	}
	delivered, seq := 1, uint64(0)
	if md, err := m.Metadata(); err == nil {
		delivered, seq = int(md.NumDelivered), md.Sequence.Stream
	}
	// The first delivery carries the record as written at enqueue and its
	// revision: start the job with a compare-and-set on it, no read. A
	// failed compare-and-set (cancelled, started by another worker,
	// requeued...) and any later delivery read the current record.
	j := carriedJob(m, id, delivered)
	for {
		var err error
		if j == nil {
			j, err = w.q.record(ctx, id)
		}
		if errors.Is(err, ErrJobNotFound) {
			w.log.Warn("job message without a record (expired or deleted): dropped", "job", id)
			_ = m.Ack()
			return
		}
		if err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		now := time.Now()
		switch j.State {
		case JobFinished, JobFailed, JobCancelled:
			_ = m.Ack() // a duplicate message, or a job cancelled while queued
			return
		case JobScheduled:
			if d := j.RunAt.Sub(now); d > 0 {
				_ = m.NakWithDelay(d)
				return
			}
		case JobDeferred:
			ready, reason := w.depsReady(ctx, j)
			if !ready && reason == "" {
				_ = m.NakWithDelay(min(time.Duration(delivered)*50*time.Millisecond, 2*time.Second))
				return
			}
			if reason != "" {
				j.EndedAt = now.UTC()
				j.event(JobCancelled, w.o.Name, reason)
				if err := w.q.put(ctx, j); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					j = nil
					continue
				} else if err != nil {
					_ = m.NakWithDelay(time.Second)
					return
				}
				w.log.Info("job cancelled", "job", id, "reason", reason)
				w.o.Metrics.ended(j)
				_ = m.Ack()
				return
			}
		case JobStarted:
			if j.QueueSeq != 0 && seq != 0 && j.QueueSeq != seq {
				// Started from another message of the job, which stays in
				// the stream until that run ends (and is redelivered if its
				// worker dies): this one is a duplicate.
				w.o.Metrics.duplicate()
				_ = m.Ack()
				return
			}
			// Its worker died (or was too slow to show life): run it again,
			// within the limit.
			if j.Attempts >= w.o.MaxAttempts+j.Retries {
				j.EndedAt = now.UTC()
				j.Error = &JobError{Message: fmt.Sprintf("%s: job %s started %d times without completing (its worker died each time)", ErrMaxDeliveries.Error(), id, j.Attempts),
					Sentinels: []string{"cluster.ErrMaxDeliveries"}}
				j.event(JobFailed, w.o.Name, "too many lost runs")
				if err := w.q.put(ctx, j); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					j = nil
					continue
				} else if err != nil {
					_ = m.NakWithDelay(time.Second)
					return
				}
				w.o.Metrics.ended(j)
				_ = m.Ack()
				return
			}
		}
		j.Attempts++
		j.QueueSeq = seq
		j.StartedAt = now.UTC()
		j.Worker = w.o.Name
		note := ""
		if j.State == JobStarted {
			note = "restarted: previous run lost"
		}
		waited := now.Sub(j.EnqueuedAt)
		if !j.RunAt.IsZero() {
			waited = now.Sub(j.RunAt)
		}
		j.event(JobStarted, w.o.Name, note)
		err = w.q.put(ctx, j)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			j = nil
			continue // changed meanwhile (cancelled? started elsewhere?): look again
		}
		if err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		w.o.Metrics.started(j.Queue, waited)
		break
	}
	w.run(base, m, j)
}

// carriedJob returns the record a job message carries (see
// Jobs.queueMsg) on its first delivery, or nil when it must be read from
// the bucket: a redelivery (the record has changed since), no record in
// the message, or one that does not decode to job id.
func carriedJob(m jetstream.Msg, id string, delivered int) *Job {
	if delivered != 1 {
		return nil
	}
	rev, err := strconv.ParseUint(m.Headers().Get(hdrJobRev), 10, 64)
	if err != nil || rev == 0 || len(m.Data()) == 0 {
		return nil
	}
	var j Job
	if json.Unmarshal(m.Data(), &j) != nil || j.ID != id {
		return nil
	}
	j.Revision = rev
	return &j
}

// depsReady reports whether j's dependencies allow it to run now; a
// non-empty reason means it must be cancelled.
func (w *jobWorker) depsReady(ctx context.Context, j *Job) (bool, string) {
	for _, d := range j.DependsOn {
		dj, err := w.q.record(ctx, d)
		if errors.Is(err, ErrJobNotFound) {
			if j.AllowFailure {
				continue
			}
			return false, fmt.Sprintf("dependency %s not found (never enqueued, or expired)", d)
		}
		if err != nil {
			return false, ""
		}
		switch {
		case dj.State == JobFinished:
		case dj.State.Final() && j.AllowFailure:
		case dj.State.Final():
			return false, fmt.Sprintf("dependency %s %s", d, dj.State)
		default:
			return false, ""
		}
	}
	return true, ""
}

func (w *jobWorker) run(base context.Context, m jetstream.Msg, j *Job) {
	ctx, cancel := context.WithCancelCause(context.WithValue(base, taskKey{}, &taskInfo{id: j.ID, delivery: j.Attempts}))
	defer cancel(nil)
	if j.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, j.Timeout)
		defer c()
	}
	w.mu.Lock()
	w.running[j.ID] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, j.ID)
		w.mu.Unlock()
	}()
	w.log.Debug("job started", "job", j.ID, "func", j.Func, "queue", j.Queue, "attempt", j.Attempts)
	start := time.Now()
	type outcome struct {
		out []byte
		err error
		cmd *CommandResult
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o = outcome{err: future.NewPanicError(r)}
			}
			done <- o
		}()
		o.out, o.cmd, o.err = w.call(ctx, j)
	}()
	beat := time.NewTicker(max(w.o.AckWait/3, 10*time.Millisecond))
	defer beat.Stop()
	var res outcome
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-beat.C:
			_ = m.InProgress()
		case <-ctx.Done():
			select {
			case res = <-done:
			case <-time.After(100 * time.Millisecond):
				res = outcome{err: context.Cause(ctx)}
			}
			break wait
		}
	}
	elapsed := time.Since(start)
	cause := context.Cause(ctx)
	if errors.Is(cause, errWorkerStopping) {
		_ = m.Nak() // another worker runs it again
		return
	}
	if errors.Is(cause, errJobCancelled) {
		_ = m.Ack() // Cancel wrote the final state already
		return
	}
	if errors.Is(cause, context.DeadlineExceeded) && res.err != nil {
		res.err = fmt.Errorf("cluster: job %s (%s) passed its timeout %v on worker %s: %w", j.ID, j.Func, j.Timeout, w.o.Name, context.DeadlineExceeded)
	}
	var retryIn time.Duration
	opCtx, opCancel := context.WithTimeout(context.WithoutCancel(base), 10*time.Second)
	defer opCancel()
	now := time.Now().UTC()
	j.EndedAt = now
	if res.cmd != nil {
		j.Result, _ = json.Marshal(res.cmd)
	}
	if res.err == nil {
		j.Error = nil
		if res.cmd == nil {
			j.Result = res.out
		}
		j.event(JobFinished, w.o.Name, "")
	} else {
		re := registry.EncodeError(j.Func, res.err)
		j.Error = &JobError{Message: re.Message, Type: re.Type, Sentinels: re.Sentinels, Panic: re.Panic, Stack: re.Stack}
		if res.cmd != nil {
			j.Error.ExitCode = res.cmd.ExitCode
			j.Error.StderrTail = tail(res.cmd.Stderr, 2048)
		}
		if j.Retry != nil && j.Retries < j.Retry.Max && !errors.Is(res.err, registry.ErrUnknownFunction) && !errors.Is(res.err, registry.ErrDecode) {
			j.Retries++
			retryIn = j.Retry.Delay(j.Retries)
			j.RunAt = now.Add(retryIn)
			j.EndedAt = time.Time{}
			j.event(JobScheduled, w.o.Name, fmt.Sprintf("retry %d of %d in %v after: %s", j.Retries, j.Retry.Max, retryIn.Round(time.Millisecond), re.Message))
		} else {
			j.event(JobFailed, w.o.Name, re.Message)
		}
	}
	if err := w.q.storeResult(opCtx, j); err != nil {
		// The result store is unreachable or full: fail the job with why,
		// rather than lose the result silently.
		w.log.Warn("job result not stored", "job", j.ID, "err", err)
		j.Result = nil
		j.Error = &JobError{Message: err.Error()}
		j.EndedAt = now
		j.event(JobFailed, w.o.Name, err.Error())
	}
	for {
		err := w.q.put(opCtx, j)
		if err == nil {
			break
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			cur, gerr := w.q.record(opCtx, j.ID)
			if gerr == nil && cur.State == JobStarted && cur.Attempts == j.Attempts && cur.Worker == j.Worker {
				j.Revision = cur.Revision // still our run: write on top
				continue
			}
			// Cancelled, or another run took the job over: this result is
			// a duplicate, and the message is no longer ours to settle
			// unless the job is final.
			w.q.dropResult(opCtx, j)
			if gerr == nil && cur.State.Final() {
				_ = m.Ack()
			}
			w.o.Metrics.duplicate()
			return
		}
		// The server is unreachable: hand the message back; the next
		// delivery sees the job as started and runs it again.
		w.q.dropResult(opCtx, j)
		w.log.Warn("job result not stored", "job", j.ID, "err", err)
		_ = m.Nak()
		return
	}
	switch j.State {
	case JobScheduled:
		w.nFailed.Add(1)
		w.log.Info("job will be retried", "job", j.ID, "func", j.Func, "in", retryIn, "err", j.Error.Message)
		w.o.Metrics.retried(j.Queue)
		_ = m.NakWithDelay(retryIn)
		return
	case JobFailed:
		w.nFailed.Add(1)
		w.log.Warn("job failed", "job", j.ID, "func", j.Func, "queue", j.Queue, "attempts", j.Attempts, "err", j.Error.Message)
	default:
		w.nDone.Add(1)
		w.log.Debug("job finished", "job", j.ID, "func", j.Func, "seconds", elapsed.Seconds())
	}
	w.o.Metrics.ran(j.Queue, elapsed)
	w.o.Metrics.ended(j)
	_ = m.Ack()
}

// call runs the job's function (or command).
func (w *jobWorker) call(ctx context.Context, j *Job) ([]byte, *CommandResult, error) {
	if j.Func == CommandFunc {
		var cj CommandJob
		if err := json.Unmarshal(j.Arg, &cj); err != nil {
			return nil, nil, fmt.Errorf("%w: command job: %w", registry.ErrDecode, err)
		}
		res, err := RunCommand(ctx, cj)
		if err != nil {
			return nil, nil, err
		}
		res.Worker, res.Delivery = w.o.Name, j.Attempts
		if res.ExitCode != 0 {
			return nil, &res, fmt.Errorf("cluster: command %q exited with status %d", cj.Command, res.ExitCode)
		}
		return nil, &res, nil
	}
	if w.o.Handler != nil {
		out, err := w.o.Handler(ctx, j.Func, j.Arg)
		return out, nil, err
	}
	c, ok := registry.LookupCodec(j.Codec)
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown codec %q", registry.ErrDecode, j.Codec)
	}
	if j.Batch {
		out, err := registry.InvokeBatch(ctx, c, j.Func, j.Arg)
		return out, nil, err
	}
	out, err := registry.Invoke(ctx, c, j.Func, j.Arg)
	return out, nil, err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (w *jobWorker) onCancel(m *nats.Msg) {
	w.mu.Lock()
	cancel := w.running[string(m.Data)]
	w.mu.Unlock()
	if cancel != nil {
		cancel(errJobCancelled)
	}
}

func (w *jobWorker) onPing(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	w.mu.Lock()
	running := make([]string, 0, len(w.running))
	for id := range w.running {
		running = append(running, id)
	}
	w.mu.Unlock()
	slices.Sort(running)
	b, _ := json.Marshal(JobWorkerInfo{ID: w.id, Name: w.o.Name, Queues: w.o.Queues, PID: os.Getpid(),
		Concurrency: w.o.Concurrency, Running: running, Done: w.nDone.Load(), Failed: w.nFailed.Load(),
		Started: w.start, Functions: w.o.Functions})
	_ = m.Respond(b)
}

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
	// StartedAfter is how long a job runs before its worker records it as
	// started. A job that ends sooner goes from queued to its final state
	// in one write (its timeline still shows when it started), which
	// saves a write and a round trip to the server per job: the cost that
	// bounds end-to-end throughput for small jobs. 0 means
	// DefaultStartedAfter; negative records every job as started before
	// it runs, as RQ does. Only a job's first delivery, with the record
	// its message carries, is recorded late; a redelivered job is
	// recorded before it runs again, so that lost runs are counted
	// (MaxAttempts) - a run lost before it was recorded is not.
	StartedAfter time.Duration
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

// DefaultStartedAfter is the default JobWorkerOptions.StartedAfter.
const DefaultStartedAfter = 50 * time.Millisecond

type jobWorker struct {
	q     *Jobs
	o     JobWorkerOptions
	id    string
	start time.Time
	log   *slog.Logger
	slots *slotPool
	conss []jetstream.Consumer // queues in priority order, then functions

	mu      sync.Mutex
	running map[string]jobRun
	// ended holds the jobs this worker ran lately: a record read before
	// a run ended may not show it, so a message of that job whose record
	// still shows the revision the run started from is a duplicate (see
	// run).
	ended      map[string]jobRun
	endedOrder []string // ended's keys, oldest first (pruned after endedKeep)

	nDone, nFailed atomic.Int64
}

var errJobCancelled = errors.New("cluster: job cancelled by request")

// ServeJobs runs durable jobs from q's queues until ctx ends (an RQ
// worker). Every job it takes ends in a final state written exactly once
// (compare-and-set on the job's record): a job whose worker dies mid-run
// is run again by another worker after AckWait (at least once), and a
// result that arrives after another run already ended the job is dropped.
// A job is started from its record as read when its message is taken, so
// a job cancelled while queued does not run. A second queue message of one
// job (the repair sweeper's, see RepairQueued) is dropped once the record
// shows the first run, or at once on the worker running it; on another
// worker, within the first run's StartedAfter, it can run the job a second
// time, and that run's result is dropped (JobMetrics counts it).
// Unlike RQ's worker, which runs one job at a time in a forked work horse,
// it runs Concurrency jobs at once in this process and fetches messages
// ahead of its free slots, holding at most Concurrency of them waiting
// (plus one per function whose queue had run dry) and telling the server
// they are in progress, so none is redelivered while it waits.
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
	if o.StartedAfter == 0 {
		o.StartedAfter = DefaultStartedAfter
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
		running: map[string]jobRun{}, ended: map[string]jobRun{}}
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
	if len(w.o.Queues) == 1 {
		return w.stream(ctx, base, w.conss, &tasks)
	}
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

// stream serves the consumers of one queue (one per function). A fetcher
// per consumer keeps messages ahead of the free slots, in fetches as large
// as the room there is (up to Concurrency messages held), so that a slot
// freed by a finished job is filled without waiting for a round trip. A
// fetcher whose last fetch found nothing asks for one message at a time
// outside that room, so idle functions hold no room: at most one message
// per function more is held. Messages waiting for a slot are told
// InProgress every AckWait/3, so none is redelivered while it waits. The
// records of the messages dispatched together are read in one batched
// request. Several queues are fetched in turn instead (loop), to keep
// strict priority between them: a prefetch would hold a lower queue's
// jobs while a higher one fills.
func (w *jobWorker) stream(ctx, base context.Context, conss []jetstream.Consumer, tasks *sync.WaitGroup) error {
	p := &prefetch{limit: w.o.Concurrency, wake: make(chan struct{}), fetchers: len(conss)}
	fetchErr := make(chan error, len(conss))
	for _, cons := range conss {
		go func() { fetchErr <- w.fetchAhead(ctx, cons, p) }()
	}
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		t := time.NewTicker(max(w.o.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.beat()
			}
		}
	}()
	defer func() {
		<-beatDone
		for range conss {
			if err := <-fetchErr; err != nil && ctx.Err() == nil {
				w.log.Warn("job worker fetcher stopped", "err", err)
			}
		}
		// Hand back what was fetched but not started, for another worker
		// to take now rather than after AckWait.
		for _, m := range p.popUpTo(context.Background(), 1<<30, false) {
			_ = m.Nak()
		}
	}()
	for {
		n, ok := w.slots.waitFree(ctx)
		if !ok {
			return nil
		}
		msgs := p.popUpTo(ctx, n, true)
		if len(msgs) == 0 {
			if ctx.Err() != nil {
				return nil
			}
			err := <-fetchErr // the fetchers stopped: the connection is closed
			fetchErr <- err   // for the deferred check
			return err
		}
		// Their slots are taken now; their records are read together, off
		// this loop, which goes on filling slots meanwhile.
		taken := msgs[:0]
		for _, m := range msgs {
			if !w.slots.take(ctx, m, w.o.AckWait) {
				_ = m.Nak()
				continue
			}
			taken = append(taken, m)
		}
		if len(taken) == 0 {
			continue
		}
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			w.startBatch(ctx, base, taken, tasks)
		}()
	}
}

// startBatch reads the records of msgs, whose slots are taken, in one batched
// request and hands each message to handle with its record.
func (w *jobWorker) startBatch(ctx, base context.Context, msgs []jetstream.Msg, tasks *sync.WaitGroup) {
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if id := m.Headers().Get(hdrJobID); validJobID(id) == nil {
			ids = append(ids, id)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	recs, err := w.q.readMany(rctx, ids)
	cancel()
	if err != nil {
		recs = nil // each handler reads its own
	}
	for _, m := range msgs {
		var j *Job
		if r, ok := recs[m.Headers().Get(hdrJobID)]; ok {
			c := *r // two messages of one job get a record each
			j = &c
		}
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			defer w.slots.release()
			w.handle(base, m, j)
		}()
	}
}

// fetchAhead fetches messages of cons into p until ctx ends; it returns
// an error only when the connection is closed. While cons has messages
// ready it takes as many as p has room for, without waiting (no-wait
// fetches, so no room is held for a function that has run dry); once it
// finds none it probes: a fetch of one message that waits for it at the
// server, outside p's room, so an idle function costs no room.
func (w *jobWorker) fetchAhead(ctx context.Context, cons jetstream.Consumer, p *prefetch) error {
	defer p.close()
	probe, idle := true, time.Millisecond
	for ctx.Err() == nil {
		var batch jetstream.MessageBatch
		var err error
		k := 1
		if probe {
			// Not bound to ctx: a fetch is always read to its end, so that
			// no message is left delivered and unseen when the worker stops.
			batch, err = cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		} else {
			if k = p.reserve(ctx, 1024); k == 0 {
				return nil
			}
			batch, err = cons.FetchNoWait(k)
		}
		got := 0
		if err == nil {
			for m := range batch.Messages() {
				got++
				p.push(m, probe)
			}
			err = batch.Error()
		}
		if !probe {
			p.unreserve(k - got)
		}
		probe = got == 0
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return fmt.Errorf("cluster: job worker connection closed: %w", err)
		}
		if got > 0 || err == nil || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
			idle = time.Millisecond
			continue
		}
		select { // a failing fetch (server restarting...): back off
		case <-ctx.Done():
			return nil
		case <-time.After(idle):
		}
		idle = min(2*idle, time.Second)
	}
	return nil
}

// prefetch holds a job worker's fetched messages until a slot takes them.
type prefetch struct {
	mu       sync.Mutex
	limit    int // waiting + reserved stays at or under it, probed messages aside
	waiting  []jetstream.Msg
	reserved int           // asked for by the fetches in flight, probes aside
	fetchers int           // fetchers still running
	wake     chan struct{} // closed and replaced on every change
}

func (p *prefetch) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// reserve waits for room and reserves up to most messages of it; 0 when
// ctx ended.
func (p *prefetch) reserve(ctx context.Context, most int) int {
	for {
		p.mu.Lock()
		if room := p.limit - len(p.waiting) - p.reserved; room > 0 {
			k := min(room, most)
			p.reserved += k
			p.mu.Unlock()
			return k
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0
		}
	}
}

func (p *prefetch) push(m jetstream.Msg, probe bool) {
	p.mu.Lock()
	p.waiting = append(p.waiting, m)
	if !probe {
		p.reserved--
	}
	p.changed()
	p.mu.Unlock()
}

func (p *prefetch) unreserve(k int) {
	p.mu.Lock()
	p.reserved -= k
	p.changed()
	p.mu.Unlock()
}

// close marks one fetcher stopped.
func (p *prefetch) close() {
	p.mu.Lock()
	p.fetchers--
	p.changed()
	p.mu.Unlock()
}

// popUpTo takes up to n waiting messages, oldest first; with wait, it
// waits for at least one until ctx ends or every fetcher stopped.
func (p *prefetch) popUpTo(ctx context.Context, n int, wait bool) []jetstream.Msg {
	for {
		p.mu.Lock()
		if k := min(n, len(p.waiting)); k > 0 || !wait || p.fetchers == 0 {
			out := slices.Clone(p.waiting[:k])
			p.waiting = slices.Delete(p.waiting, 0, k)
			p.changed()
			p.mu.Unlock()
			return out
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// beat tells JetStream the waiting messages are in progress.
func (p *prefetch) beat() {
	p.mu.Lock()
	ms := slices.Clone(p.waiting)
	p.mu.Unlock()
	for _, m := range ms {
		_ = m.InProgress()
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
			w.handle(base, m, nil)
		}()
	}
	return n
}

// handle takes one job message to its end: acknowledged once the job is
// final, delayed (scheduled, deferred, retry backoff) or handed back. j is
// the job's record as just read, or nil to read it here.
func (w *jobWorker) handle(base context.Context, m jetstream.Msg, j *Job) {
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
	if j != nil && j.ID != id {
		j = nil
	}
	// fresh: j was read for this delivery and no write has failed since.
	fresh := j != nil
	for {
		var err error
		if j == nil {
			fresh = false
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
			if delivered == 1 && j.QueueSeq != 0 && j.QueueSeq == seq {
				// Started from this very message after a redelivery: this
				// worker held its first delivery past AckWait (stopped,
				// or starved of CPU) and another worker has it now. The
				// message is that run's to settle: leave it alone.
				w.o.Metrics.duplicate()
				return
			}
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
		if fresh && delivered == 1 && w.o.StartedAfter > 0 {
			// Recorded as started only if it runs StartedAfter (run): the
			// final write's compare-and-set on the revision read still
			// catches a cancel or another run meanwhile.
			w.o.Metrics.started(j.Queue, waited)
			w.run(base, m, j, true)
			return
		}
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
	w.run(base, m, j, false)
}

// lateStart writes a running job's started state once it has run
// JobWorkerOptions.StartedAfter (see handle).
type lateStart struct {
	t       *time.Timer
	done    chan struct{} // closed when the write, once begun, is over
	settled bool
}

// startLate arranges for j to be recorded as started after d, unless
// settle comes first. A write that finds the record changed (the job was
// cancelled, or another run took it) cancels the run with
// errRunSuperseded.
func (w *jobWorker) startLate(base context.Context, j *Job, d time.Duration, cancel context.CancelCauseFunc) *lateStart {
	ls := &lateStart{done: make(chan struct{})}
	ls.t = time.AfterFunc(d, func() {
		defer close(ls.done)
		ctx, c := context.WithTimeout(base, 10*time.Second)
		defer c()
		err := w.q.put(ctx, j)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			cancel(errRunSuperseded)
		} else if err != nil {
			w.log.Warn("job's started state not recorded", "job", j.ID, "err", err)
		}
	})
	return ls
}

// settle stops the write if it has not begun, or waits for it to end, so
// that j is the caller's alone again.
func (ls *lateStart) settle() {
	if ls == nil || ls.settled {
		return
	}
	ls.settled = true
	if !ls.t.Stop() {
		<-ls.done
	}
}

// jobRun is a run of a job on this worker, running or ended.
type jobRun struct {
	cancel context.CancelCauseFunc // while running
	from   uint64                  // the record revision it started from
	at     time.Time               // when it ended
}

// endedKeep is how long a worker remembers a job it ran (jobWorker.ended):
// far longer than a record read takes to reach the run it was read for.
const endedKeep = 5 * time.Second

// errRunSuperseded cancels a run whose job record changed before it was
// recorded as started: cancelled, or taken by another run.
var errRunSuperseded = errors.New("cluster: job record changed before its run was recorded (cancelled, or run elsewhere)")

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

func (w *jobWorker) run(base context.Context, m jetstream.Msg, j *Job, late bool) {
	ctx, cancel := context.WithCancelCause(context.WithValue(base, taskKey{}, &taskInfo{id: j.ID, delivery: j.Attempts}))
	defer cancel(nil)

	if j.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, j.Timeout)
		defer c()
	}
	from := j.Revision // the revision this run starts from
	w.mu.Lock()
	r, runs := w.running[j.ID]
	e, ran := w.ended[j.ID]
	if late && (runs && r.from == from || ran && e.from == from) {
		// Another message of this job (a repair republish), delivered
		// while this worker runs the job from the first one or just
		// after: the record read for it does not show that run yet, this
		// worker knows. The first message settles the job.
		w.mu.Unlock()
		w.o.Metrics.duplicate()
		_ = m.Ack()
		return
	}
	w.running[j.ID] = jobRun{cancel: cancel, from: from}
	w.mu.Unlock()
	defer func() {
		now := time.Now()
		w.mu.Lock()
		delete(w.running, j.ID)
		w.ended[j.ID] = jobRun{from: from, at: now}
		w.endedOrder = append(w.endedOrder, j.ID)
		k := 0 // forget, oldest first, what ended more than endedKeep ago
		for ; k < len(w.endedOrder); k++ {
			if e, ok := w.ended[w.endedOrder[k]]; ok && now.Sub(e.at) <= endedKeep {
				break // (a job run twice here waits for its later end)
			}
			delete(w.ended, w.endedOrder[k])
		}
		w.endedOrder = w.endedOrder[k:] // append reallocates the live part only
		w.mu.Unlock()
	}()
	var ls *lateStart
	if late {
		ls = w.startLate(base, j, w.o.StartedAfter, cancel)
	}
	defer ls.settle()
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
	ls.settle() // j is ours again
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
			if gerr == nil && cur.State == JobStarted && cur.Attempts == j.Attempts && cur.Worker == j.Worker && cur.QueueSeq == j.QueueSeq {
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
	cancel := w.running[string(m.Data)].cancel
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

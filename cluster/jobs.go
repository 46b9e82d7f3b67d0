package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// Durable jobs: the RQ-like side of the cluster. Unlike an Executor task,
// whose result travels on core NATS to the submitting process, a job's
// state lives in the KV bucket JobBucket and its queue message in the
// work-queue stream JobStream, so it outlives the process that enqueued it
// and can be read, waited for, cancelled or requeued from any process.
//
// Layout of the bucket:
//
//	j.<id>     the job record (JSON Job), one revision per state change;
//	           a final state is written with a per-message TTL
//	           (ResultTTL / FailureTTL), after which the key disappears
//	u.<hash>   the lock of a unique job key: the ID of the pending job
//	s.<name>   a periodic schedule (JSON Schedule)
//	r.lock     the lock of the RepairQueued sweeper (one at a time)
//	r.swept    the KV revision up to which RepairQueued has decided

const (
	// JobBucket is the JetStream KV bucket holding job records, unique-key
	// locks and periodic schedules.
	JobBucket = "TRIDENT_JOBS"
	// JobStream is the work-queue stream of job messages, one subject per
	// queue and function: trident.jobq.<queue>.<function>.
	JobStream = "TRIDENT_JOBQ"

	subjectJobPrefix = "trident.jobq."
	subjectJobCancel = "trident.jobs.cancel"

	hdrJobID = "Trident-Job-Id"
	// hdrJobPub marks a record write that a queue message follows (an
	// enqueue, a requeue); its value is that message's ID. RepairQueued
	// publishes the message of a marked record nothing has moved on from.
	hdrJobPub = "Trident-Job-Pub"

	jobKeyPrefix      = "j."
	uniqueKeyPrefix   = "u."
	scheduleKeyPrefix = "s."
	repairLockKey     = "r.lock"
	repairSweptKey    = "r.swept"
)

// Default retention of job records, as RQ's result_ttl and failure_ttl
// (RQ keeps results 500 s and failures a year; a queue one walks away from
// needs the result longer, so trident keeps both longer than RQ's result
// default and shorter than its failure default).
const (
	DefaultResultTTL  = 24 * time.Hour
	DefaultFailureTTL = 7 * 24 * time.Hour
)

// JobState is where a job is in its life. The final states are
// JobFinished, JobFailed and JobCancelled.
type JobState string

// The states of a job, named as RQ's JobStatus.
const (
	// JobQueued: waiting in its queue for a worker.
	JobQueued JobState = "queued"
	// JobScheduled: waiting for its start time (EnqueueAt/EnqueueIn, or a
	// retry's backoff).
	JobScheduled JobState = "scheduled"
	// JobDeferred: waiting for the jobs it depends on.
	JobDeferred JobState = "deferred"
	// JobStarted: running on a worker.
	JobStarted JobState = "started"
	// JobFinished: ran and returned a result (final).
	JobFinished JobState = "finished"
	// JobFailed: ran out of attempts with an error (final; requeue-able).
	JobFailed JobState = "failed"
	// JobCancelled: cancelled by a user or because a dependency failed
	// (final; requeue-able).
	JobCancelled JobState = "cancelled"
)

// Final reports whether s is a state a job does not leave by itself.
func (s JobState) Final() bool {
	return s == JobFinished || s == JobFailed || s == JobCancelled
}

// JobStates lists every state, in the order of a job's life.
var JobStates = []JobState{JobQueued, JobScheduled, JobDeferred, JobStarted, JobFinished, JobFailed, JobCancelled}

// ParseJobState returns the state named s, or an error naming the valid ones.
func ParseJobState(s string) (JobState, error) {
	for _, st := range JobStates {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(JobStates))
	for i, st := range JobStates {
		names[i] = string(st)
	}
	return "", fmt.Errorf("cluster: unknown job state %q (one of %s)", s, strings.Join(names, ", "))
}

// Errors of the job API, usable with errors.Is.
var (
	// ErrJobNotFound: no record for this ID (never enqueued, or expired
	// after its TTL).
	ErrJobNotFound = errors.New("cluster: job not found (never enqueued, or expired after its result/failure TTL)")
	// ErrJobFinal: the operation needs a job that has not ended (cancel) or
	// one that failed or was cancelled (requeue).
	ErrJobFinal = errors.New("cluster: job is in the wrong state for this operation")
	// ErrDuplicateJob: a job with the same unique key is still pending.
	ErrDuplicateJob = errors.New("cluster: a job with this unique key is pending")
	// ErrJobFailed is matched by the error of Wait/JobResult for a job that
	// failed (the error also carries the job's own error when it was a
	// *registry.RemoteError).
	ErrJobFailed = errors.New("cluster: job failed")
	// ErrJobCancelled is matched by the error of Wait/JobResult for a
	// cancelled job.
	ErrJobCancelled = errors.New("cluster: job cancelled")
)

// JobEvent is one state change in a job's timeline.
type JobEvent struct {
	State  JobState  `json:"state"`
	At     time.Time `json:"at"`
	Worker string    `json:"worker,omitempty"`
	Note   string    `json:"note,omitempty"`
}

// maxTimeline bounds a job's timeline: the first event and the latest ones.
const maxTimeline = 32

// JobError is a failed job's error as stored: the remote error's fields,
// plus the tail of a command's stderr.
type JobError struct {
	Message   string   `json:"message"`
	Type      string   `json:"type,omitempty"`
	Sentinels []string `json:"sentinels,omitempty"`
	Panic     bool     `json:"panic,omitempty"`
	// Stack is the worker-side stack of a panic.
	Stack string `json:"stack,omitempty"`
	// StderrTail is the end of a failed command's standard error.
	StderrTail string `json:"stderr_tail,omitempty"`
	// ExitCode is a failed command's exit status.
	ExitCode int `json:"exit_code,omitempty"`
}

// Err turns the stored error back into an error matching the registered
// sentinels it matched on the worker (see registry.RemoteError).
func (e *JobError) Err(fn string) error {
	if e == nil {
		return nil
	}
	return &registry.RemoteError{Func: fn, Message: e.Message, Type: e.Type, Sentinels: e.Sentinels, Panic: e.Panic, Stack: e.Stack}
}

// Job is a job's durable record: what `trident job show` prints, the
// counterpart of RQ's Job.
type Job struct {
	ID    string   `json:"id"`
	Queue string   `json:"queue"`
	Func  string   `json:"func"`
	Codec string   `json:"codec"`
	State JobState `json:"state"`
	// Arg is the encoded argument (Codec); for a command job, the
	// JSON-encoded CommandJob.
	Arg []byte `json:"arg,omitempty"`
	// Result is the encoded result of a finished job (for a command job,
	// the JSON-encoded CommandResult, also kept for a failed command).
	Result []byte    `json:"result,omitempty"`
	Error  *JobError `json:"error,omitempty"`
	// ResultObject names the object of the result store ResultBucket
	// holding a result larger than MaxInlineResult; Jobs.Job and
	// Jobs.Wait read it into Result.
	ResultObject string `json:"result_object,omitempty"`

	EnqueuedAt time.Time `json:"enqueued_at"`
	// RunAt is when a scheduled job (or a retry) becomes due.
	RunAt     time.Time `json:"run_at,omitzero"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Worker is the worker that last started the job.
	Worker string `json:"worker,omitempty"`
	// QueueSeq is the job stream sequence of the queue message whose
	// delivery started the current run: a second message of the same job
	// (a repair's or a requeue's duplicate) finding the job started by
	// another message is dropped, while a redelivery of this one (its
	// worker died) runs the job again.
	QueueSeq uint64 `json:"queue_seq,omitempty"`
	// Attempts counts the runs started, including those lost with a dead
	// worker; Retries those started after a failure.
	Attempts int `json:"attempts"`
	Retries  int `json:"retries,omitempty"`

	DependsOn    []string `json:"depends_on,omitempty"`
	AllowFailure bool     `json:"allow_failure,omitempty"`
	UniqueKey    string   `json:"unique_key,omitempty"`
	// Schedule names the periodic schedule that fired this job.
	Schedule string       `json:"schedule,omitempty"`
	Retry    *RetryPolicy `json:"retry,omitempty"`
	// Timeout bounds one run (RQ's job_timeout); 0 means none.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Batch marks a job whose argument is a chunk of a Map's inputs,
	// encoded as one value, run with registry.InvokeBatch.
	Batch bool `json:"batch,omitempty"`
	// ResultTTL and FailureTTL are how long the record stays after it
	// finished or failed/was cancelled; negative means forever.
	ResultTTL  time.Duration `json:"result_ttl,omitempty"`
	FailureTTL time.Duration `json:"failure_ttl,omitempty"`

	Timeline []JobEvent `json:"timeline,omitempty"`

	// Revision is the record's KV revision (not stored in the record).
	Revision uint64 `json:"-"`
}

// Command returns the command of a command job, and false for a function job.
func (j *Job) Command() (CommandJob, bool) {
	if j.Func != CommandFunc {
		return CommandJob{}, false
	}
	var c CommandJob
	return c, json.Unmarshal(j.Arg, &c) == nil
}

// CommandResult returns the result of a command job that ran (finished,
// or failed with a non-zero exit), and false otherwise.
func (j *Job) CommandResult() (CommandResult, bool) {
	if j.Func != CommandFunc || len(j.Result) == 0 {
		return CommandResult{}, false
	}
	var r CommandResult
	return r, json.Unmarshal(j.Result, &r) == nil
}

func (j *Job) event(st JobState, worker, note string) {
	j.State = st
	ev := JobEvent{State: st, At: time.Now().UTC(), Worker: worker, Note: note}
	if len(j.Timeline) >= maxTimeline {
		j.Timeline = append(j.Timeline[:1], j.Timeline[len(j.Timeline)-maxTimeline+2:]...)
	}
	j.Timeline = append(j.Timeline, ev)
}

// ttl is how long the record is kept in its current state: 0 for no TTL.
func (j *Job) ttl() time.Duration {
	var d time.Duration
	switch j.State {
	case JobFinished:
		d = j.ResultTTL
		if d == 0 {
			d = DefaultResultTTL
		}
	case JobFailed, JobCancelled:
		d = j.FailureTTL
		if d == 0 {
			d = DefaultFailureTTL
		}
	default:
		return 0
	}
	if d < 0 {
		return 0
	}
	return max(d, time.Second) // the server's minimum per-message TTL
}

// RetryPolicy says how a failed job is retried (RQ's Retry): Max more
// runs, waiting Intervals[i] before retry i+1 (the last interval repeats),
// or, without Intervals, Base doubled at each retry up to Cap, with full
// jitter (a random wait between half and all of it) when Jitter is set.
type RetryPolicy struct {
	Max       int             `json:"max"`
	Intervals []time.Duration `json:"intervals,omitempty"`
	Base      time.Duration   `json:"base,omitempty"`
	Cap       time.Duration   `json:"cap,omitempty"`
	Jitter    bool            `json:"jitter,omitempty"`
}

// Delay is the wait before retry n (1 for the first retry).
func (p *RetryPolicy) Delay(n int) time.Duration {
	if p == nil || n < 1 {
		return 0
	}
	if len(p.Intervals) > 0 {
		return p.Intervals[min(n-1, len(p.Intervals)-1)]
	}
	base := p.Base
	if base <= 0 {
		base = time.Second
	}
	cap := p.Cap
	if cap <= 0 {
		cap = time.Hour
	}
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	if p.Jitter && d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// JobOptions are the per-job settings of Enqueue (RQ's enqueue keyword
// arguments).
type JobOptions struct {
	// Queue is the queue to enqueue to; "" means DefaultQueue.
	Queue string
	// ID is the job ID; "" means a fresh unique one. Enqueueing an ID that
	// exists fails with ErrDuplicateJob.
	ID string
	// At, when in the future, schedules the job (RQ's enqueue_at); In
	// schedules it that long from now (RQ's enqueue_in).
	At time.Time
	In time.Duration
	// DependsOn lists jobs that must finish first (RQ's depends_on). When
	// one fails or is cancelled, this job is cancelled with the reason,
	// unless AllowFailure is set: then it runs once they all ended.
	DependsOn    []string
	AllowFailure bool
	// Retry retries a failed job; nil means no retry.
	Retry *RetryPolicy
	// UniqueKey, when set, refuses (ErrDuplicateJob) a second job with the
	// same key while one is pending (not in a final state).
	UniqueKey string
	// Timeout bounds each run (RQ's job_timeout).
	Timeout time.Duration
	// ResultTTL and FailureTTL: how long the record stays once finished, or
	// failed/cancelled; 0 means DefaultResultTTL/DefaultFailureTTL,
	// negative forever (RQ's result_ttl=-1).
	ResultTTL, FailureTTL time.Duration
	// Codec encodes the argument and result of a function job; nil means
	// registry.JSON (readable by `trident job show` and any language).
	Codec registry.Codec

	schedule string // set by the scheduler
}

// Jobs is a handle on the durable job queue of a connection: enqueue, read,
// wait for, cancel and requeue jobs. It is the counterpart of RQ's Queue
// and Job classes; workers run jobs with ServeJobs. Create it with
// OpenJobs; it needs no Close (its batched reads share one subscription of
// the connection, which ends with it).
type Jobs struct {
	conn  *Conn
	kv    jetstream.KeyValue
	kvPre string // "$KV.TRIDENT_JOBS."

	repair  repairState // RepairQueued's place in the bucket
	reads   readMux     // answers of batched reads (readMany)
	waiters jobWaiters  // JobExecutor's futures waiting for their jobs

	objMu sync.Mutex
	obj   jetstream.ObjectStore // the result store, once used
}

// OpenJobs creates (idempotently) the job bucket and stream on conn's
// server and returns a handle on them.
func OpenJobs(ctx context.Context, conn *Conn) (*Jobs, error) {
	ctx = ctxOrTimeout(ctx)
	kv, err := conn.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         JobBucket,
		Description:    "trident durable jobs: records, unique-key locks, schedules",
		History:        1,
		Storage:        jetstream.FileStorage,
		LimitMarkerTTL: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: creating the job bucket %s: %w", JobBucket, err)
	}
	if err := conn.ensureStream(ctx, jetstream.StreamConfig{
		Name:        JobStream,
		Description: "trident durable job queue",
		Subjects:    []string{subjectJobPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return nil, fmt.Errorf("cluster: creating the job stream %s: %w", JobStream, err)
	}
	return &Jobs{conn: conn, kv: kv, kvPre: "$KV." + JobBucket + "."}, nil
}

func jobSubject(queue, fn string) string { return subjectJobPrefix + queue + "." + funcToken(fn) }

func jobKey(id string) string { return jobKeyPrefix + id }

func uniqueKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return uniqueKeyPrefix + hex.EncodeToString(h[:16])
}

// validJobID: an ID is one KV key token.
func validJobID(id string) error {
	if id == "" {
		return errors.New("cluster: empty job ID")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=') {
			return fmt.Errorf("cluster: job ID %q: only letters, digits, '-', '_' and '=' are allowed", id)
		}
	}
	return nil
}

// JobSpec is one job to enqueue with EnqueueRaw or EnqueueBatch: the
// registered function's name and its encoded argument (with opts.Codec).
type JobSpec struct {
	Func string
	Arg  []byte
	Opts JobOptions
	// Batch says Arg is a chunk of inputs (registry.Chunks.Encode), run
	// with registry.InvokeBatch: how Map and MapAll reach the queue.
	Batch bool
}

// Enqueue enqueues a call of the registered function f with arg as a
// durable job and returns its ID as soon as the job is stored (RQ's
// q.enqueue(f, arg)). The result is read with JobResult, Jobs.Wait or
// `trident job result ID`.
func Enqueue[A, R any](ctx context.Context, q *Jobs, f *registry.Func[A, R], arg A, o JobOptions) (string, error) {
	c := o.Codec
	if c == nil {
		c = registry.JSON
	}
	b, err := f.Encode(c, arg)
	if err != nil {
		return "", err
	}
	return q.EnqueueRaw(ctx, JobSpec{Func: f.Name(), Arg: b, Opts: o})
}

// EnqueueCommand enqueues a shell command as a durable job, run by workers
// that serve CommandFunc (`trident job worker`). A non-zero exit status
// fails the job, with the tail of its stderr in the error; the
// CommandResult is kept either way.
func (q *Jobs) EnqueueCommand(ctx context.Context, cmd CommandJob, o JobOptions) (string, error) {
	if cmd.Command == "" {
		return "", errors.New("cluster: empty command")
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		return "", fmt.Errorf("%w: command job: %w", registry.ErrEncode, err)
	}
	o.Codec = registry.JSON
	return q.EnqueueRaw(ctx, JobSpec{Func: CommandFunc, Arg: b, Opts: o})
}

// EnqueueRaw enqueues one job with an already-encoded argument.
func (q *Jobs) EnqueueRaw(ctx context.Context, s JobSpec) (string, error) {
	ids, err := q.EnqueueBatch(ctx, []JobSpec{s})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// newRecord validates s and builds its first record.
func newRecord(s JobSpec, now time.Time) (*Job, error) {
	o := s.Opts
	if s.Func == "" {
		return nil, errors.New("cluster: job without a function name")
	}
	if o.Queue == "" {
		o.Queue = DefaultQueue
	}
	if err := validQueue(o.Queue); err != nil {
		return nil, err
	}
	if o.ID == "" {
		o.ID = nuid.Next()
	} else if err := validJobID(o.ID); err != nil {
		return nil, err
	}
	for _, d := range o.DependsOn {
		if err := validJobID(d); err != nil {
			return nil, fmt.Errorf("cluster: depends_on: %w", err)
		}
	}
	if o.Retry != nil && o.Retry.Max < 0 {
		return nil, fmt.Errorf("cluster: retry: negative Max %d", o.Retry.Max)
	}
	codec := o.Codec
	if codec == nil {
		codec = registry.JSON
	}
	j := &Job{
		ID: o.ID, Queue: o.Queue, Func: s.Func, Codec: codec.Name(), Arg: s.Arg, Batch: s.Batch,
		EnqueuedAt: now, DependsOn: slices.Clone(o.DependsOn), AllowFailure: o.AllowFailure,
		UniqueKey: o.UniqueKey, Retry: o.Retry, Timeout: o.Timeout, ResultTTL: o.ResultTTL, FailureTTL: o.FailureTTL,
		Schedule: o.schedule,
	}
	at := o.At
	if o.In > 0 {
		at = now.Add(o.In)
	}
	state := JobQueued
	if at.After(now) {
		state, j.RunAt = JobScheduled, at.UTC()
	}
	if len(j.DependsOn) > 0 {
		state = JobDeferred
	}
	j.event(state, "", "enqueued")
	j.EnqueuedAt = j.Timeline[0].At
	return j, nil
}

// EnqueueBatch enqueues many jobs at once: every record is written, then
// every queue message published, without waiting for each
// acknowledgement in turn; it returns when all are stored. This is the
// fast path for many small jobs. On an error, the IDs of the jobs stored
// before it are returned with it.
func (q *Jobs) EnqueueBatch(ctx context.Context, specs []JobSpec) ([]string, error) {
	now := time.Now().UTC()
	recs := make([]*Job, len(specs))
	for i, s := range specs {
		j, err := newRecord(s, now)
		if err != nil {
			return nil, fmt.Errorf("cluster: job %d of %d: %w", i+1, len(specs), err)
		}
		recs[i] = j
	}
	// Unique keys: a create-if-absent lock per key, released when the job
	// ends.
	for i, j := range recs {
		if j.UniqueKey == "" {
			continue
		}
		if err := q.lockUnique(ctx, j); err != nil {
			ids := make([]string, i)
			for k := range i {
				ids[k] = recs[k].ID
			}
			return ids, err
		}
	}
	// Phase 1: the records (create-if-absent: an existing ID is refused).
	acks := make([]jetstream.PubAckFuture, len(recs))
	bufs := make([][]byte, len(recs))
	for i, j := range recs {
		b, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("cluster: encoding job %s: %w", j.ID, err)
		}
		bufs[i] = b
		m := nats.NewMsg(q.kvPre + jobKey(j.ID))
		m.Data = b
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		m.Header.Set(hdrJobPub, j.ID)
		acks[i], err = q.publishAsync(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("cluster: storing job %s: %w", j.ID, err)
		}
	}
	if err := waitAcksSeq(ctx, acks, func(i int, seq uint64) { recs[i].Revision = seq }, func(i int, err error) error {
		if isWrongLastSeqErr(err) {
			return fmt.Errorf("%w: job ID %s exists", ErrDuplicateJob, recs[i].ID)
		}
		return fmt.Errorf("cluster: storing job %s: %w", recs[i].ID, err)
	}); err != nil {
		return nil, err
	}
	if enqueueCrashHook != nil {
		if err := enqueueCrashHook(); err != nil {
			return nil, err
		}
	}
	// Phase 2: the queue messages, deduplicated by job ID.
	ids := make([]string, len(recs))
	for i, j := range recs {
		ids[i] = j.ID
		var err error
		acks[i], err = q.publishAsync(ctx, q.queueMsg(j, j.ID))
		if err != nil {
			return ids[:i], fmt.Errorf("cluster: queueing job %s: %w", j.ID, err)
		}
	}
	if err := waitAcks(ctx, acks, func(i int, err error) error {
		return fmt.Errorf("cluster: queueing job %s (its record is stored; `trident job requeue %s` queues it again): %w", recs[i].ID, recs[i].ID, err)
	}); err != nil {
		return ids, err
	}
	return ids, nil
}

// queueMsg is the queue message of j: its subject names j's queue and
// function, and it carries only the job's ID; the worker reads the
// current record (in one batched read for the messages it takes
// together), so a job cancelled or changed while queued is seen as it is.
func (q *Jobs) queueMsg(j *Job, msgID string) *nats.Msg {
	m := nats.NewMsg(jobSubject(j.Queue, j.Func))
	m.Header.Set(hdrJobID, j.ID)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	return m
}

// publishAsync publishes m, waiting for room when the window of
// unacknowledged publishes is full.
func (q *Jobs) publishAsync(ctx context.Context, m *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		a, err := q.conn.js.PublishMsgAsync(m)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return a, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func waitAcks(ctx context.Context, acks []jetstream.PubAckFuture, wrap func(int, error) error) error {
	return waitAcksSeq(ctx, acks, nil, wrap)
}

// waitAcksSeq waits for every acknowledgement, giving each stored
// message's sequence to ok (when not nil) and the first error to wrap.
func waitAcksSeq(ctx context.Context, acks []jetstream.PubAckFuture, ok func(int, uint64), wrap func(int, error) error) error {
	var first error
	for i, a := range acks {
		select {
		case pa := <-a.Ok():
			if ok != nil && pa != nil {
				ok(i, pa.Sequence)
			}
		case err := <-a.Err():
			if first == nil {
				first = wrap(i, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// Job returns the current record of job id (RQ's Job.fetch), or an error
// matching ErrJobNotFound. A result kept in the result store (see
// MaxInlineResult) is read into Result.
func (q *Jobs) Job(ctx context.Context, id string) (*Job, error) {
	j, err := q.record(ctx, id)
	if err != nil {
		return nil, err
	}
	return j, q.loadResult(ctx, j)
}

// record returns the current record of job id as stored: a result kept in
// the result store is not read (Result stays empty, ResultObject names it).
func (q *Jobs) record(ctx context.Context, id string) (*Job, error) {
	if err := validJobID(id); err != nil {
		return nil, err
	}
	e, err := q.kv.Get(ctx, jobKey(id))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil, fmt.Errorf("%w: %s", ErrJobNotFound, id)
		}
		return nil, fmt.Errorf("cluster: reading job %s: %w", id, err)
	}
	return decodeJob(e)
}

func decodeJob(e jetstream.KeyValueEntry) (*Job, error) {
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return nil, fmt.Errorf("cluster: job record %s: %w", e.Key(), err)
	}
	j.Revision = e.Revision()
	return &j, nil
}

// put writes j as the new revision after j.Revision (compare and set),
// with the TTL of its state, and updates j.Revision. A concurrent change
// makes it fail with an error matching jetstream.ErrKeyRevisionMismatch.
func (q *Jobs) put(ctx context.Context, j *Job) error { return q.putPub(ctx, j, "") }

// putPub is put marking the write with hdrJobPub = pub when pub is not
// empty: a queue message with ID pub follows it.
func (q *Jobs) putPub(ctx context.Context, j *Job, pub string) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("cluster: encoding job %s: %w", j.ID, err)
	}
	m := nats.NewMsg(q.kvPre + jobKey(j.ID))
	m.Data = b
	if pub != "" {
		m.Header.Set(hdrJobPub, pub)
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(j.Revision)}
	if ttl := j.ttl(); ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	pa, err := q.conn.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		return mapRevisionMismatch(err)
	}
	j.Revision = pa.Sequence
	if j.State.Final() && j.UniqueKey != "" {
		q.releaseUnique(ctx, j)
	}
	return nil
}

// releaseUnique drops j's unique-key lock if j still holds it.
func (q *Jobs) releaseUnique(ctx context.Context, j *Job) {
	k := uniqueKey(j.UniqueKey)
	if e, err := q.kv.Get(ctx, k); err == nil && string(e.Value()) == j.ID {
		_ = q.kv.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
	}
}

// update applies change to the latest record of id and stores it, again
// on a concurrent change. change returns an error to give up.
func (q *Jobs) update(ctx context.Context, id string, change func(*Job) error) (*Job, error) {
	return q.updatePub(ctx, id, change, nil)
}

// updatePub is update marking the write (see putPub) with the ID pub
// returns for the changed record, when pub is not nil.
func (q *Jobs) updatePub(ctx context.Context, id string, change func(*Job) error, pub func(*Job) string) (*Job, error) {
	for {
		j, err := q.record(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(j); err != nil {
			return j, err
		}
		p := ""
		if pub != nil {
			p = pub(j)
		}
		err = q.putPub(ctx, j, p)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		return j, err
	}
}

// Cancel cancels job id (RQ's job.cancel()): a waiting job never runs, a
// running one has its context cancelled on its worker (a command is
// killed). It fails with ErrJobFinal when the job has already ended.
func (q *Jobs) Cancel(ctx context.Context, id string) error {
	_, err := q.update(ctx, id, func(j *Job) error {
		if j.State.Final() {
			return fmt.Errorf("%w: job %s is %s", ErrJobFinal, id, j.State)
		}
		j.EndedAt = time.Now().UTC()
		j.event(JobCancelled, "", "cancelled by request")
		return nil
	})
	if err != nil {
		return err
	}
	return q.conn.nc.Publish(subjectJobCancel, []byte(id))
}

// Requeue puts a failed or cancelled job back in its queue with its
// attempts reset (RQ's failed_job_registry.requeue), or publishes the
// queue message of a job stuck in queued again. It fails with ErrJobFinal
// for a job in any other state.
func (q *Jobs) Requeue(ctx context.Context, id string) error {
	var msgID string
	j, err := q.updatePub(ctx, id, func(j *Job) error {
		switch j.State {
		case JobFailed, JobCancelled, JobQueued:
		default:
			return fmt.Errorf("%w: job %s is %s; only failed, cancelled or queued jobs are requeued", ErrJobFinal, id, j.State)
		}
		j.Attempts, j.Retries, j.Error, j.Result, j.ResultObject = 0, 0, nil, nil, ""
		j.EndedAt, j.StartedAt, j.RunAt = time.Time{}, time.Time{}, time.Time{}
		j.DependsOn = nil // they were decided already
		j.event(JobQueued, "", "requeued")
		return nil
	}, func(j *Job) string { msgID = requeueMsgID(j.ID, j.Revision); return msgID })
	if err != nil {
		return err
	}
	if j.UniqueKey != "" {
		_, _ = q.kv.Create(ctx, uniqueKey(j.UniqueKey), []byte(j.ID))
	}
	// The message ID (named by the write's marker) names the revision the
	// record had before this write: RepairQueued republishes it under the
	// same ID.
	_, err = q.conn.js.PublishMsg(ctx, q.queueMsg(j, msgID))
	if err != nil {
		return fmt.Errorf("cluster: requeueing job %s: %w", id, err)
	}
	return nil
}

// Wait waits until job id reaches a final state, or ctx ends, and returns
// its record (RQ's job.latest_result(timeout=...)).
func (q *Jobs) Wait(ctx context.Context, id string) (*Job, error) {
	if err := validJobID(id); err != nil {
		return nil, err
	}
	w, err := q.kv.Watch(ctx, jobKey(id))
	if err != nil {
		return nil, fmt.Errorf("cluster: watching job %s: %w", id, err)
	}
	defer w.Stop()
	seen := false
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("cluster: watching job %s: watcher stopped", id)
			}
			if e == nil { // end of the initial values
				if !seen {
					return nil, fmt.Errorf("%w: %s", ErrJobNotFound, id)
				}
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				return nil, fmt.Errorf("%w: %s (expired)", ErrJobNotFound, id)
			}
			seen = true
			j, err := decodeJob(e)
			if err != nil {
				return nil, err
			}
			if j.State.Final() {
				return j, q.loadResult(ctx, j)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Outcome returns the error a final job stands for: nil when it finished,
// an error matching ErrJobFailed (and the job's own registered sentinels)
// or ErrJobCancelled otherwise.
func (j *Job) Outcome() error {
	switch j.State {
	case JobFinished:
		return nil
	case JobFailed:
		if j.Error != nil {
			return fmt.Errorf("%w: %s: %w", ErrJobFailed, j.ID, j.Error.Err(j.Func))
		}
		return fmt.Errorf("%w: %s", ErrJobFailed, j.ID)
	case JobCancelled:
		note := ""
		if n := len(j.Timeline); n > 0 {
			note = ": " + j.Timeline[n-1].Note
		}
		return fmt.Errorf("%w: %s%s", ErrJobCancelled, j.ID, note)
	}
	return fmt.Errorf("cluster: job %s is %s, not final", j.ID, j.State)
}

// JobResult waits for job id to end and decodes its result into an R
// (RQ's job.return_value()), or returns the job's error.
func JobResult[R any](ctx context.Context, q *Jobs, id string) (R, error) {
	var r R
	j, err := q.Wait(ctx, id)
	if err != nil {
		return r, err
	}
	if err := j.Outcome(); err != nil {
		return r, err
	}
	c, ok := registry.LookupCodec(j.Codec)
	if !ok {
		return r, fmt.Errorf("%w: job %s: unknown codec %q", registry.ErrDecode, id, j.Codec)
	}
	if err := c.Unmarshal(j.Result, &r); err != nil {
		return r, fmt.Errorf("%w: job %s result: %w", registry.ErrDecode, id, err)
	}
	return r, nil
}

// JobFuture returns a future of job id's result: the bridge from the
// durable queue to trident's futures (future.Future), so code written
// against futures can wait on a job enqueued by any process. Cancelling the
// future stops waiting; it does not cancel the job (use Jobs.Cancel).
func JobFuture[R any](ctx context.Context, q *Jobs, id string) *future.Future[R] {
	f, res := future.New[R](ctx)
	wctx, cancel := context.WithCancel(ctx)
	f.OnDone(cancel)
	go func() {
		r, err := JobResult[R](wctx, q, id)
		res.Complete(r, err)
	}()
	return f
}

// isWrongLastSeqErr reports whether err is JetStream's "wrong last
// sequence" answer to a compare-and-set publish.
func isWrongLastSeqErr(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// mapRevisionMismatch makes a failed compare-and-set match
// jetstream.ErrKeyRevisionMismatch.
func mapRevisionMismatch(err error) error {
	if err != nil && isWrongLastSeqErr(err) {
		return fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
	}
	return err
}

// lockUnique takes the lock of j's unique key, or fails with
// ErrDuplicateJob naming the job that holds it. A lock left by a job that
// has ended (its release not yet written, or lost with its worker) is
// taken over.
func (q *Jobs) lockUnique(ctx context.Context, j *Job) error {
	k := uniqueKey(j.UniqueKey)
	for range 5 {
		_, err := q.kv.Create(ctx, k, []byte(j.ID))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("cluster: unique key %q: %w", j.UniqueKey, err)
		}
		e, gerr := q.kv.Get(ctx, k)
		if gerr != nil {
			continue // released meanwhile: try again
		}
		other := string(e.Value())
		oj, gerr := q.record(ctx, other)
		if errors.Is(gerr, ErrJobNotFound) || (gerr == nil && oj.State.Final()) {
			if _, uerr := q.kv.Update(ctx, k, []byte(j.ID), e.Revision()); uerr == nil {
				return nil
			}
			continue
		}
		return fmt.Errorf("%w: key %q held by job %s", ErrDuplicateJob, j.UniqueKey, other)
	}
	return fmt.Errorf("%w: key %q (contended)", ErrDuplicateJob, j.UniqueKey)
}

// JobExecutor is a registry.Executor whose calls are durable jobs: a typed
// handle's Submit on it enqueues a job (with the executor's options) and
// returns a future of its result, so code written for the process pool or
// the cluster Executor runs unchanged on the durable queue. Cancelling the
// future cancels the job. Submit returns at once, as Python's
// Executor.submit does: the job is enqueued in the background (an enqueue
// error fails the future). Each call costs a job's writes; the futures of
// one Jobs handle wait on one shared watch of the bucket's record writes,
// running while any of them waits. That watch receives every record write
// in the bucket, the right trade for many futures; Jobs.Wait watches its
// one key instead. For many tiny calls the cluster Executor is still the
// fast path (nothing stored).
type JobExecutor struct {
	q *Jobs
	o JobOptions
}

// Executor returns a JobExecutor enqueueing with o (o.ID and o.UniqueKey
// must be empty: every call is its own job).
func (q *Jobs) Executor(o JobOptions) *JobExecutor {
	if o.Codec == nil {
		o.Codec = registry.JSON
	}
	return &JobExecutor{q: q, o: o}
}

// Backend returns the executor's registry.Backend: what typed handles'
// Submit, Map and MapAll call.
func (e *JobExecutor) Backend() registry.Backend { return jobBackend{e} }

// jobBackend is the registry.Backend of a JobExecutor.
type jobBackend struct{ e *JobExecutor }

// Codec returns the codec of the jobs' arguments and results.
func (b jobBackend) Codec() registry.Codec { return b.e.o.Codec }

// SubmitRaw enqueues a job calling name with payload and returns the
// resolver of a future of its encoded result.
func (b jobBackend) SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	return b.e.submit(ctx, JobSpec{Func: name, Arg: payload, Opts: b.e.o})
}

// SubmitChunks enqueues one job per chunk of job's inputs (its argument
// the chunk encoded as one value, run with registry.InvokeBatch) and
// delivers each chunk's results when its job ends. chunk 0 means 64.
func (b jobBackend) SubmitChunks(ctx context.Context, job registry.Chunks, chunk int) {
	if chunk <= 0 {
		chunk = 64
	}
	for lo := 0; lo < job.Len(); lo += chunk {
		hi := min(lo+chunk, job.Len())
		p, err := job.Encode(lo, hi)
		if err != nil {
			job.Deliver(lo, hi, nil, err)
			continue
		}
		f := b.e.submit(ctx, JobSpec{Func: job.Name(), Arg: p, Opts: b.e.o, Batch: true}).Future()
		f.OnDone(func() {
			out, err := f.Result(context.Background())
			job.Deliver(lo, hi, out, err)
		})
	}
}

// CancelRaw does nothing more than cancelling the future already does:
// the future's done callback cancels its job (Jobs.Cancel), which reaches
// the worker running it.
func (jobBackend) CancelRaw(*future.Future[[]byte]) {}

// ReportsDeadlines reports false: the typed future's own context watcher
// ends a call whose deadline passed.
func (jobBackend) ReportsDeadlines() bool { return false }

// submit enqueues s and returns the resolver of a future of its encoded
// result; cancelling the future cancels the job.
func (e *JobExecutor) submit(ctx context.Context, s JobSpec) future.Resolver[[]byte] {
	f, r := future.New[[]byte](ctx)
	if e.o.ID != "" || e.o.UniqueKey != "" {
		r.Complete(nil, errors.New("cluster: JobExecutor options must not set ID or UniqueKey (every call is its own job)"))
		return r
	}
	id := nuid.Next()
	s.Opts.ID = id
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	enqueued := make(chan struct{})
	f.OnDone(func() {
		cancel()
		if f.Cancelled() {
			go func() {
				<-enqueued // cancel the job once it exists
				cctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer c()
				_ = e.q.Cancel(cctx, id)
			}()
		}
	})
	go func() {
		// Wait on the handle's shared watch of record writes, registered
		// before the job exists, so its final write cannot be missed.
		done, unregister, err := e.q.register(ctx, id)
		if err != nil {
			close(enqueued)
			r.Complete(nil, err)
			return
		}
		defer unregister()
		_, err = e.q.EnqueueRaw(ctx, s)
		close(enqueued)
		if err != nil {
			r.Complete(nil, err)
			return
		}
		var j *Job
		select {
		case j = <-done:
		case <-wctx.Done():
			r.Complete(nil, wctx.Err())
			return
		}
		if j == nil {
			r.Complete(nil, fmt.Errorf("%w: %s (expired)", ErrJobNotFound, id))
			return
		}
		if err := e.q.loadResult(wctx, j); err != nil {
			r.Complete(nil, err)
			return
		}
		if j.State == JobFailed && j.Error != nil {
			r.Complete(nil, j.Error.Err(j.Func))
			return
		}
		if err := j.Outcome(); err != nil {
			r.Complete(nil, err)
			return
		}
		r.Complete(j.Result, nil)
	}()
	return r
}

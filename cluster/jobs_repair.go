package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Repair of jobs whose record was written but whose queue message was
// not: a process killed between the two writes of EnqueueBatch (or of
// Requeue) leaves a job queued that no worker will ever see.
//
// Every record write that a queue message follows is marked (hdrJobPub,
// the message's ID). RepairQueued reads the bucket's writes incrementally,
// headers only, from the revision it had decided up to (kept in the bucket
// under r.swept, so another process resumes there), and remembers the
// marked writes not yet older than the grace period. A marked write that
// nothing has overwritten after the grace period is a job no worker has
// started: its queue message is published again. Under its original ID
// while the stream's duplicate window still holds it (a message that was
// published is then dropped by the server), or with ID.rq<revision> after;
// a second message of a job is harmless (the worker's compare-and-set on
// the record and Job.QueueSeq run the job once).

// enqueueCrashHook, when set (tests), runs between the record writes and
// the queue publishes of EnqueueBatch; an error ends EnqueueBatch there,
// as if its process had died.
var enqueueCrashHook func() error

// DefaultRepairGrace is how long a job worker's repair sweeper (see
// JobWorkerOptions.RepairGrace) lets a marked record wait for its queue
// message before publishing it again.
const DefaultRepairGrace = 10 * time.Second

// repairLockTTL: a sweeper that stops sweeping loses the lock after this.
const repairLockTTL = 30 * time.Second

// repairDedupMargin: a message is republished under its original ID only
// this long before the stream's duplicate window ends.
const repairDedupMargin = 20 * time.Second

type repairState struct {
	mu      sync.Mutex
	owner   string
	lockRev uint64
	next    uint64                   // first bucket revision not yet read
	pending map[string]repairPending // key -> the latest marked write, undecided
}

type repairPending struct {
	rev   uint64
	at    time.Time
	msgID string
}

// RepairQueued publishes again the queue messages of jobs whose record
// was written (enqueued or requeued) at least grace ago but whose message
// was lost, and returns how many it published. One call is one
// incremental pass: it reads only the bucket's writes since the previous
// pass. One process sweeps at a time (a lock in the bucket); a call while
// another process holds the lock returns 0 and no error. Job workers run
// it (JobWorkerOptions.RepairGrace); there is no RQ counterpart (RQ
// writes a job and its queue entry in one Redis transaction).
func (q *Jobs) RepairQueued(ctx context.Context, grace time.Duration) (int, error) {
	if grace < 0 {
		return 0, fmt.Errorf("cluster: RepairQueued: negative grace %v", grace)
	}
	r := &q.repair
	r.mu.Lock()
	defer r.mu.Unlock()
	held, err := q.repairLock(ctx)
	if err != nil || !held {
		return 0, err
	}
	if r.pending == nil {
		r.pending = map[string]repairPending{}
		r.next = 1
		if e, err := q.kv.Get(ctx, repairSweptKey); err == nil {
			if v, perr := strconv.ParseUint(string(e.Value()), 10, 64); perr == nil && v > 0 {
				r.next = v
			}
		}
	}
	if err := q.repairRead(ctx); err != nil {
		return 0, err
	}
	window := 2 * time.Minute
	if info, err := q.conn.js.Stream(ctx, JobStream); err == nil {
		window = info.CachedInfo().Config.Duplicates
	}
	now := time.Now()
	n := 0
	for key, p := range r.pending {
		if now.Sub(p.at) < grace {
			continue
		}
		published, err := q.republish(ctx, key, p, now.Sub(p.at) < window-repairDedupMargin)
		if err != nil {
			return n, err
		}
		if published {
			n++
		}
		delete(r.pending, key)
	}
	swept := r.next
	for _, p := range r.pending {
		swept = min(swept, p.rev)
	}
	_, _ = q.kv.Put(ctx, repairSweptKey, []byte(strconv.FormatUint(swept, 10)))
	return n, nil
}

// repairHeld reports whether this handle held the sweeper's lock at its
// last pass.
func (q *Jobs) repairHeld() bool {
	q.repair.mu.Lock()
	defer q.repair.mu.Unlock()
	return q.repair.lockRev != 0
}

// repairLock takes or keeps the sweeper's lock, a bucket key with a TTL
// refreshed at each pass.
func (q *Jobs) repairLock(ctx context.Context) (bool, error) {
	r := &q.repair
	if r.owner == "" {
		r.owner = nuid.Next()
	}
	m := nats.NewMsg(q.kvPre + repairLockKey)
	m.Data = []byte(r.owner)
	if r.lockRev != 0 {
		pa, err := q.conn.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(r.lockRev), jetstream.WithMsgTTL(repairLockTTL))
		if err == nil {
			r.lockRev = pa.Sequence
			return true, nil
		}
		if !isWrongLastSeqErr(err) {
			return false, fmt.Errorf("cluster: repair sweeper lock: %w", err)
		}
		// Lost (expired, taken over): forget what this process had read;
		// the holder resumes from r.swept.
		r.lockRev, r.pending = 0, nil
	}
	e, err := q.kv.Get(ctx, repairLockKey)
	var expect uint64
	switch {
	case err == nil && string(e.Value()) != r.owner:
		return false, nil // another process sweeps
	case err == nil:
		expect = e.Revision()
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		if lm, lerr := q.conn.js.Stream(ctx, "KV_"+JobBucket); lerr == nil {
			if rm, gerr := lm.GetLastMsgForSubject(ctx, q.kvPre+repairLockKey); gerr == nil {
				expect = rm.Sequence // the delete/expiry marker
			}
		}
	default:
		return false, fmt.Errorf("cluster: repair sweeper lock: %w", err)
	}
	pa, err := q.conn.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(expect), jetstream.WithMsgTTL(repairLockTTL))
	if err != nil {
		if isWrongLastSeqErr(err) {
			return false, nil // taken by another process meanwhile
		}
		return false, fmt.Errorf("cluster: repair sweeper lock: %w", err)
	}
	r.lockRev = pa.Sequence
	return true, nil
}

// repairRead reads the job records' writes from r.next on, headers only,
// keeping the marked ones and forgetting those overwritten since.
func (q *Jobs) repairRead(ctx context.Context) error {
	r := &q.repair
	cons, err := q.conn.js.OrderedConsumer(ctx, "KV_"+JobBucket, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{q.kvPre + jobKeyPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    r.next,
		HeadersOnly:    true,
	})
	if err != nil {
		return fmt.Errorf("cluster: repair sweeper: reading the job bucket: %w", err)
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	for {
		batch, err := cons.Fetch(4096, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("cluster: repair sweeper: reading the job bucket: %w", err)
		}
		got, last := 0, false
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			key := m.Subject()[len(q.kvPre):]
			if pub := m.Headers().Get(hdrJobPub); pub != "" && m.Headers().Get("KV-Operation") == "" {
				r.pending[key] = repairPending{rev: md.Sequence.Stream, at: md.Timestamp, msgID: pub}
			} else {
				delete(r.pending, key)
			}
			r.next = md.Sequence.Stream + 1
			last = md.NumPending == 0
		}
		if batch.Error() != nil && !errors.Is(batch.Error(), nats.ErrTimeout) {
			return fmt.Errorf("cluster: repair sweeper: reading the job bucket: %w", batch.Error())
		}
		if got == 0 || last || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// republish publishes the queue message of the record written at p.rev
// under key, if it is still the current one.
func (q *Jobs) republish(ctx context.Context, key string, p repairPending, inWindow bool) (bool, error) {
	e, err := q.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: repair sweeper: reading %s: %w", key, err)
	}
	if e.Revision() != p.rev {
		return false, nil // moved on meanwhile
	}
	j, err := decodeJob(e)
	if err != nil {
		return false, nil
	}
	id := p.msgID
	if !inWindow {
		id = requeueMsgID(j.ID, j.Revision)
	}
	pa, err := q.conn.js.PublishMsg(ctx, q.queueMsg(j, id))
	if err != nil {
		return false, fmt.Errorf("cluster: repair sweeper: queueing job %s: %w", j.ID, err)
	}
	return !pa.Duplicate, nil
}

// requeueMsgID is the queue message ID of a job published again after
// revision rev of its record.
func requeueMsgID(id string, rev uint64) string {
	return id + ".rq" + strconv.FormatUint(rev, 10)
}

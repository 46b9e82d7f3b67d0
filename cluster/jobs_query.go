package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// What an operator's view (`trident job list`, a dashboard) reads: jobs by
// state, queue and ID prefix, one job with its timeline (Jobs.Job), queue
// depths and counters (Jobs.Queues), the live workers with their slots and
// current jobs (Jobs.Workers), and the actions Cancel, Requeue and
// RequeueFailed.

// JobFilter selects jobs in ListJobs. Zero fields select everything.
type JobFilter struct {
	State    JobState
	Queue    string
	IDPrefix string
	// Limit bounds the number returned (newest enqueued first); 0 means 100.
	Limit int
}

func (f JobFilter) match(j *Job) bool {
	return (f.State == "" || j.State == f.State) && (f.Queue == "" || j.Queue == f.Queue) &&
		strings.HasPrefix(j.ID, f.IDPrefix)
}

// ListJobs returns the jobs matching f, newest enqueued first (RQ's
// registries: queue.failed_job_registry.get_job_ids() and the like). It
// reads every record once (a scan of the bucket); a view that refreshes
// often should keep a JobIndex instead.
func (q *Jobs) ListJobs(ctx context.Context, f JobFilter) ([]*Job, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []*Job
	err := q.scan(ctx, func(j *Job) {
		if f.match(j) {
			out = append(out, j)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, newestFirst)
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func newestFirst(a, b *Job) int {
	if c := b.EnqueuedAt.Compare(a.EnqueuedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// scan calls fn with the current record of every job.
func (q *Jobs) scan(ctx context.Context, fn func(*Job)) error {
	w, err := q.kv.Watch(ctx, jobKeyPrefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("cluster: listing jobs: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("cluster: listing jobs: watcher stopped")
			}
			if e == nil {
				return nil
			}
			if j, err := decodeJob(e); err == nil {
				fn(j)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RequeueFailed requeues every failed job of queue ("" for all queues)
// and returns how many (`trident job requeue --all-failed`).
func (q *Jobs) RequeueFailed(ctx context.Context, queue string) (int, error) {
	jobs, err := q.ListJobs(ctx, JobFilter{State: JobFailed, Queue: queue, Limit: 1 << 30})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if err := q.Requeue(ctx, j.ID); err != nil {
			if errors.Is(err, ErrJobFinal) || errors.Is(err, ErrJobNotFound) {
				continue // changed meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// QueueInfo is one job queue's counters, read from JetStream.
type QueueInfo struct {
	Queue string `json:"queue"`
	// Waiting counts the queue's messages not delivered to a worker now:
	// queued jobs, and scheduled or deferred ones between two looks.
	Waiting uint64 `json:"waiting"`
	// InFlight counts the messages delivered and not yet settled: running
	// jobs, and scheduled, deferred or backing-off ones held by a delay.
	InFlight uint64 `json:"in_flight"`
}

// Queues returns the counters of every queue with messages or a consumer
// (rates and counts by state: JobIndex).
func (q *Jobs) Queues(ctx context.Context) ([]QueueInfo, error) {
	s, err := q.conn.js.Stream(ctx, JobStream)
	if err != nil {
		return nil, fmt.Errorf("cluster: job queues: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subjectJobPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("cluster: job queues: %w", err)
	}
	by := map[string]*QueueInfo{}
	get := func(name string) *QueueInfo {
		qi := by[name]
		if qi == nil {
			qi = &QueueInfo{Queue: name}
			by[name] = qi
		}
		return qi
	}
	for subj, n := range info.State.Subjects {
		rest, _ := strings.CutPrefix(subj, subjectJobPrefix)
		name, _, _ := strings.Cut(rest, ".")
		get(name).Waiting += n
	}
	lister := s.ListConsumers(ctx)
	for ci := range lister.Info() {
		subj := ci.Config.FilterSubject
		rest, ok := strings.CutPrefix(subj, subjectJobPrefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		qi := get(name)
		qi.InFlight += uint64(ci.NumAckPending)
	}
	out := make([]QueueInfo, 0, len(by))
	for _, qi := range by {
		qi.Waiting -= min(qi.Waiting, qi.InFlight)
		out = append(out, *qi)
	}
	slices.SortFunc(out, func(a, b QueueInfo) int { return strings.Compare(a.Queue, b.Queue) })
	return out, nil
}

// Revision returns the job bucket's last sequence: it changes whenever any
// job, lock or schedule changes (a cheap "did anything change?" for a view
// that polls).
func (q *Jobs) Revision(ctx context.Context) (uint64, error) {
	s, err := q.conn.js.Stream(ctx, "KV_"+JobBucket)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}

// Workers asks the live job workers for their state, collecting answers for
// wait (0 means 300ms), sorted by name.
func (q *Jobs) Workers(ctx context.Context, wait time.Duration) ([]JobWorkerInfo, error) {
	if wait <= 0 {
		wait = 300 * time.Millisecond
	}
	inbox := q.conn.nc.NewRespInbox()
	replies := make(chan []byte, 1024)
	sub, err := q.conn.nc.Subscribe(inbox, func(m *nats.Msg) {
		select {
		case replies <- m.Data:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: job workers: %w", err)
	}
	defer sub.Unsubscribe()
	if err := q.conn.nc.PublishRequest(subjectJobPing, inbox, nil); err != nil {
		return nil, fmt.Errorf("cluster: job workers: %w", err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	out := []JobWorkerInfo{}
	for {
		select {
		case b := <-replies:
			var wi JobWorkerInfo
			if json.Unmarshal(b, &wi) == nil {
				out = append(out, wi)
			}
		case <-t.C:
			slices.SortFunc(out, func(a, b JobWorkerInfo) int { return strings.Compare(a.Name, b.Name) })
			return out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

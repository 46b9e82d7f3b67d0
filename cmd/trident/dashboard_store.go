package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/cluster/dashboard"
)

// newDashboardStore returns the dashboard's view of queue (all queues when
// "") on the cluster behind conn: the durable job queue (cluster.Jobs)
// read through an in-memory index that a watch of the job bucket keeps
// current (cluster.JobIndex), so pages and counts never scan the bucket.
func newDashboardStore(ctx context.Context, conn *cluster.Conn, queue string) (dashboard.Store, error) {
	q, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("trident cluster dashboard: open the job store: %w", err)
	}
	x, err := cluster.NewJobIndex(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("trident cluster dashboard: index the job store: %w", err)
	}
	context.AfterFunc(ctx, x.Close)
	s := &jobStore{q: q, x: x, queue: queue, firstWorkers: make(chan struct{})}
	go s.watchWorkers(ctx)
	return s, nil
}

// workerPingWait is how long a ping of the job workers waits for answers.
const workerPingWait = 200 * time.Millisecond

// watchWorkers asks the job workers for their state every second until
// ctx ends, so that Overview answers from the last answers at once
// instead of waiting workerPingWait for each page.
func (s *jobStore) watchWorkers(ctx context.Context) {
	first := true
	for {
		ws, err := s.q.Workers(ctx, workerPingWait)
		now := time.Now()
		s.mu.Lock()
		if err == nil {
			s.workers, s.workersErr = nil, nil
			for _, w := range ws {
				s.workers = append(s.workers, dashboard.Worker{ID: w.ID, Host: w.Name, Queues: w.Queues,
					Slots: w.Concurrency, Busy: len(w.Running), Current: w.Running, LastSeen: now})
			}
		} else if ctx.Err() == nil {
			s.workersErr = err
		}
		s.mu.Unlock()
		if first {
			first = false
			close(s.firstWorkers)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// jobStore adapts cluster.Jobs and its JobIndex to dashboard.Store.
type jobStore struct {
	q     *cluster.Jobs
	x     *cluster.JobIndex
	queue string // "" means every queue

	firstWorkers chan struct{} // closed once the workers answered once
	mu           sync.Mutex
	workers      []dashboard.Worker // from the last ping (watchWorkers)
	workersErr   error
}

func (s *jobStore) Overview(ctx context.Context) (dashboard.Overview, error) {
	if err := s.x.Err(); err != nil {
		return dashboard.Overview{}, err
	}
	var o dashboard.Overview
	o.Revision = s.x.Revision()
	for _, qc := range s.x.Queues() {
		if s.queue != "" && qc.Queue != s.queue {
			continue
		}
		d := map[dashboard.State]int{}
		for st, n := range qc.States {
			d[dashboard.State(st)] = n
		}
		o.Queues = append(o.Queues, dashboard.Queue{Name: qc.Queue, Depth: d,
			EnqueuedPerSec: qc.EnqueuedPerSec, FinishedPerSec: qc.EndedPerSec})
	}
	select {
	case <-s.firstWorkers:
	case <-ctx.Done():
		return o, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workersErr != nil {
		return o, s.workersErr
	}
	o.Workers = append(o.Workers, s.workers...)
	return o, nil
}

func (s *jobStore) Jobs(ctx context.Context, f dashboard.Filter) (dashboard.Page, error) {
	queue := f.Queue
	if queue == "" {
		queue = s.queue
	}
	js, next, total, err := s.x.List(cluster.JobFilter{State: cluster.JobState(f.State), Queue: queue,
		IDPrefix: f.IDPrefix, Limit: f.Limit}, f.Cursor)
	if err != nil {
		return dashboard.Page{}, err
	}
	p := dashboard.Page{Next: next, Total: total, Jobs: make([]dashboard.Job, 0, len(js))}
	for _, j := range js {
		p.Jobs = append(p.Jobs, viewJob(j))
	}
	return p, nil
}

func (s *jobStore) Job(ctx context.Context, id string) (dashboard.Job, error) {
	j, err := s.q.Job(ctx, id)
	if err != nil {
		return dashboard.Job{}, mapJobErr(err)
	}
	return viewJob(j), nil
}

func (s *jobStore) Cancel(ctx context.Context, id string) error {
	return mapJobErr(s.q.Cancel(ctx, id))
}

func (s *jobStore) Requeue(ctx context.Context, id string) error {
	return mapJobErr(s.q.Requeue(ctx, id))
}

// mapJobErr makes the job queue's errors match the dashboard's, which the
// page answers with 404 and 409.
func mapJobErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrJobNotFound):
		return fmt.Errorf("%w: %w", dashboard.ErrNotFound, err)
	case errors.Is(err, cluster.ErrJobFinal):
		return fmt.Errorf("%w: %w", dashboard.ErrConflict, err)
	}
	return err
}

// viewJob is the dashboard's view of j.
func viewJob(j *cluster.Job) dashboard.Job {
	v := dashboard.Job{ID: j.ID, Queue: j.Queue, Function: j.Func, State: dashboard.State(j.State),
		Worker: j.Worker, Attempts: j.Attempts, EnqueuedAt: j.EnqueuedAt, ScheduledAt: j.RunAt,
		StartedAt: j.StartedAt, EndedAt: j.EndedAt, DependsOn: j.DependsOn,
		Args: readable(j.Codec, j.Arg), Result: readable(j.Codec, j.Result)}
	if j.Func == cluster.CommandFunc {
		var cj cluster.CommandJob
		if json.Unmarshal(j.Arg, &cj) == nil {
			v.Function, v.Command = "", []string{cj.Command}
		}
		v.Result = readable("json", j.Result)
	}
	if j.Error != nil {
		v.Error, v.Stack = j.Error.Message, j.Error.Stack
	}
	for _, e := range j.Timeline {
		note := e.Note
		if e.Worker != "" {
			note = fmt.Sprintf("%s (worker %s)", note, e.Worker)
		}
		v.Timeline = append(v.Timeline, dashboard.Event{At: e.At, State: dashboard.State(e.State), Note: note})
	}
	return v
}

// readable renders an encoded value for the page: JSON as it is, other
// codecs' bytes as text when they are text, else by their size.
func readable(codec string, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if codec == "json" || json.Valid(b) || utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("(%d bytes, codec %s)", len(b), codec)
}

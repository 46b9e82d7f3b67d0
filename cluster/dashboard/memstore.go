package dashboard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory Store for tests, examples and demos: jobs are
// added and moved through their states by calling its methods, as a queue's
// workers would. It keeps every job in enqueue order and counts by queue and
// state, so Overview costs nothing and a page of Jobs scans back from its
// cursor only until the page is full. It is safe for concurrent use.
type MemStore struct {
	mu      sync.RWMutex
	now     func() time.Time
	seq     int
	jobs    []*Job         // in enqueue order
	byID    map[string]int // index in jobs
	depth   map[string]map[State]int
	rates   map[string]*rateWindow
	workers map[string]*Worker
	rev     uint64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{
		now:     time.Now,
		byID:    map[string]int{},
		depth:   map[string]map[State]int{},
		rates:   map[string]*rateWindow{},
		workers: map[string]*Worker{},
	}
}

// rateWindow counts events per second over the last rateSeconds seconds.
type rateWindow struct {
	enq, fin [rateSeconds]int
	sec      [rateSeconds]int64
}

const rateSeconds = 10

func (r *rateWindow) add(now time.Time, finished bool) {
	s := now.Unix()
	i := int(s % rateSeconds)
	if r.sec[i] > s {
		return // older than the window
	}
	if r.sec[i] != s {
		r.sec[i], r.enq[i], r.fin[i] = s, 0, 0
	}
	if finished {
		r.fin[i]++
	} else {
		r.enq[i]++
	}
}

func (r *rateWindow) perSec(now time.Time) (enq, fin float64) {
	s := now.Unix()
	for i := range rateSeconds {
		if r.sec[i] > s-rateSeconds && r.sec[i] <= s {
			enq += float64(r.enq[i])
			fin += float64(r.fin[i])
		}
	}
	return enq / rateSeconds, fin / rateSeconds
}

// Enqueue adds a queued job for function with args (JSON text) to queue and
// returns its ID.
func (m *MemStore) Enqueue(queue, function, args string) string {
	return m.Add(Job{Queue: queue, Function: function, Args: args, State: Queued})
}

// Add adds j as it is (a job in any state, for fixtures); an empty ID gets
// a fresh one, an empty State means queued, a zero EnqueuedAt means now. It
// returns the ID. Adding an ID that exists replaces nothing: Add panics, as
// that is a bug in the caller.
func (m *MemStore) Add(j Job) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	if j.ID == "" {
		j.ID = fmt.Sprintf("j%07d", m.seq)
	}
	if _, dup := m.byID[j.ID]; dup {
		panic("dashboard: MemStore.Add of an existing job ID " + j.ID)
	}
	if j.Queue == "" {
		j.Queue = "default"
	}
	if j.State == "" {
		j.State = Queued
	}
	now := m.now()
	if j.EnqueuedAt.IsZero() {
		j.EnqueuedAt = now
	}
	if len(j.Timeline) == 0 {
		j.Timeline = []Event{{At: j.EnqueuedAt, State: j.State, Note: "enqueued"}}
	}
	m.byID[j.ID] = len(m.jobs)
	m.jobs = append(m.jobs, &j)
	m.count(j.Queue, j.State, 1)
	m.rate(j.Queue).add(j.EnqueuedAt, false)
	if j.State.Ended() {
		end := j.EndedAt
		if end.IsZero() {
			end = now
		}
		m.rate(j.Queue).add(end, true)
	}
	m.rev++
	return j.ID
}

func (m *MemStore) count(queue string, s State, d int) {
	q := m.depth[queue]
	if q == nil {
		q = map[State]int{}
		m.depth[queue] = q
	}
	q[s] += d
}

func (m *MemStore) rate(queue string) *rateWindow {
	r := m.rates[queue]
	if r == nil {
		r = &rateWindow{}
		m.rates[queue] = r
	}
	return r
}

// move changes a job's state under m.mu, keeping the counts, the timeline
// and the workers' current jobs right.
func (m *MemStore) move(j *Job, to State, note string) {
	now := m.now()
	if j.State == Started && j.Worker != "" {
		if w := m.workers[j.Worker]; w != nil {
			if i := slices.Index(w.Current, j.ID); i >= 0 {
				w.Current = slices.Delete(w.Current, i, i+1)
				w.Busy = len(w.Current)
			}
		}
	}
	m.count(j.Queue, j.State, -1)
	m.count(j.Queue, to, 1)
	j.State = to
	j.Timeline = append(j.Timeline, Event{At: now, State: to, Note: note})
	if to.Ended() {
		j.EndedAt = now
		m.rate(j.Queue).add(now, true)
	}
	m.rev++
}

func (m *MemStore) get(id string) (*Job, error) {
	i, ok := m.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return m.jobs[i], nil
}

// Start marks a queued job as started on worker (which need not be known
// to SetWorker).
func (m *MemStore) Start(id, worker string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.get(id)
	if err != nil {
		return err
	}
	if j.State != Queued {
		return fmt.Errorf("%w: job %s is %s, not queued", ErrConflict, id, j.State)
	}
	m.move(j, Started, "worker "+worker)
	j.Worker = worker
	j.Attempts++
	j.StartedAt = j.Timeline[len(j.Timeline)-1].At
	if w := m.workers[worker]; w != nil {
		w.Current = append(w.Current, id)
		w.Busy = len(w.Current)
		w.LastSeen = j.StartedAt
	}
	return nil
}

// Finish marks a started job as finished with result (JSON text).
func (m *MemStore) Finish(id, result string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.get(id)
	if err != nil {
		return err
	}
	if j.State != Started {
		return fmt.Errorf("%w: job %s is %s, not started", ErrConflict, id, j.State)
	}
	j.Result, j.Error, j.Stack = result, "", ""
	m.move(j, Finished, "")
	return nil
}

// Fail marks a started job as failed with an error message and a stack.
func (m *MemStore) Fail(id, msg, stack string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.get(id)
	if err != nil {
		return err
	}
	if j.State != Started {
		return fmt.Errorf("%w: job %s is %s, not started", ErrConflict, id, j.State)
	}
	j.Error, j.Stack = msg, stack
	m.move(j, Failed, msg)
	return nil
}

// SetWorker adds or replaces a live worker. Its Current and Busy are kept
// up to date by Start, Finish, Fail and Cancel from then on.
func (m *MemStore) SetWorker(w Worker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Current = slices.Clone(w.Current)
	w.Busy = len(w.Current)
	if w.LastSeen.IsZero() {
		w.LastSeen = m.now()
	}
	m.workers[w.ID] = &w
	m.rev++
}

// RemoveWorker forgets a worker (it stopped).
func (m *MemStore) RemoveWorker(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.workers, id)
	m.rev++
}

// Overview implements Store.
func (m *MemStore) Overview(ctx context.Context) (Overview, error) {
	if err := ctx.Err(); err != nil {
		return Overview{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	var o Overview
	for name, d := range m.depth {
		q := Queue{Name: name, Depth: map[State]int{}}
		for s, n := range d {
			if n != 0 {
				q.Depth[s] = n
			}
		}
		q.EnqueuedPerSec, q.FinishedPerSec = m.rate(name).perSec(now)
		o.Queues = append(o.Queues, q)
	}
	slices.SortFunc(o.Queues, func(a, b Queue) int { return strings.Compare(a.Name, b.Name) })
	for _, w := range m.workers {
		c := *w
		c.Current = slices.Clone(w.Current)
		c.Queues = slices.Clone(w.Queues)
		o.Workers = append(o.Workers, c)
	}
	slices.SortFunc(o.Workers, func(a, b Worker) int { return strings.Compare(a.ID, b.ID) })
	o.Revision = m.rev
	return o, nil
}

// Jobs implements Store. The cursor is the enqueue position to continue
// below.
func (m *MemStore) Jobs(ctx context.Context, f Filter) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	if f.State != "" && !f.State.Valid() {
		return Page{}, fmt.Errorf("dashboard: unknown job state %q", f.State)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	start := len(m.jobs)
	if f.Cursor != "" {
		n, err := strconv.Atoi(f.Cursor)
		if err != nil || n < 0 || n > len(m.jobs) {
			return Page{}, fmt.Errorf("dashboard: bad cursor %q", f.Cursor)
		}
		start = n
	}
	match := func(j *Job) bool {
		return (f.State == "" || j.State == f.State) && (f.Queue == "" || j.Queue == f.Queue) &&
			(f.IDPrefix == "" || strings.HasPrefix(j.ID, f.IDPrefix))
	}
	p := Page{Jobs: []Job{}}
	i := start - 1
	for ; i >= 0 && len(p.Jobs) < limit; i-- {
		if j := m.jobs[i]; match(j) {
			s := *j
			s.Args, s.Result, s.Stack, s.Timeline, s.DependsOn = "", "", "", nil, nil
			p.Jobs = append(p.Jobs, s)
		}
	}
	// More to come only if a later scan would find one.
	for k := i; k >= 0; k-- {
		if match(m.jobs[k]) {
			p.Next = strconv.Itoa(i + 1)
			break
		}
	}
	p.Total = m.total(f, match)
	return p, nil
}

// total counts the matching jobs: from the counts when only the state and
// queue filter, else by a scan.
func (m *MemStore) total(f Filter, match func(*Job) bool) int {
	if f.IDPrefix == "" {
		n := 0
		for q, d := range m.depth {
			if f.Queue != "" && q != f.Queue {
				continue
			}
			for s, c := range d {
				if f.State == "" || s == f.State {
					n += c
				}
			}
		}
		return n
	}
	n := 0
	for _, j := range m.jobs {
		if match(j) {
			n++
		}
	}
	return n
}

// Job implements Store.
func (m *MemStore) Job(ctx context.Context, id string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	j, err := m.get(id)
	if err != nil {
		return Job{}, err
	}
	c := *j
	c.Command = slices.Clone(j.Command)
	c.DependsOn = slices.Clone(j.DependsOn)
	c.Timeline = slices.Clone(j.Timeline)
	return c, nil
}

// Cancel implements Store.
func (m *MemStore) Cancel(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.get(id)
	if err != nil {
		return err
	}
	if j.State.Ended() {
		return fmt.Errorf("%w: job %s has already %s", ErrConflict, id, j.State)
	}
	m.move(j, Cancelled, "cancelled from the dashboard")
	return nil
}

// Requeue implements Store.
func (m *MemStore) Requeue(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.get(id)
	if err != nil {
		return err
	}
	if j.State != Failed && j.State != Cancelled {
		return fmt.Errorf("%w: job %s is %s; only failed or cancelled jobs are requeued", ErrConflict, id, j.State)
	}
	m.move(j, Queued, "requeued from the dashboard")
	j.EndedAt, j.StartedAt = time.Time{}, time.Time{}
	return nil
}

var _ Store = (*MemStore)(nil)

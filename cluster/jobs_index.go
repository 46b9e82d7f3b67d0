package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go/jetstream"
)

// JobIndex keeps, in memory, a summary of every job of the bucket, counts
// by queue and state, and recent rates, up to date by watching the bucket:
// what a dashboard that refreshes every second reads without scanning the
// store each time (RQ's registries and rq-dashboard's counters). The
// summaries leave out a job's argument, result and timeline; Jobs.Job
// returns the full record.
type JobIndex struct {
	q      *Jobs
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.RWMutex
	jobs map[string]*Job
	// The summaries ordered newest enqueued first, one tree per filter
	// (all of them, by state, by queue, by queue and state), and ordered
	// by ID for the search by prefix. A page is a walk of one tree from
	// the cursor, not a sort.
	trees  map[indexKey]*btree.BTreeG[*Job]
	byID   *btree.BTreeG[*Job]
	counts map[string]map[JobState]int
	rev    uint64
	// Per queue, per second (unix): jobs enqueued and jobs ended.
	enq, end map[string]*rateRing
	err      error
}

// indexKey names a tree of a JobIndex: one queue ("" for any) and one
// state ("" for any).
type indexKey struct {
	queue string
	state JobState
}

func newestLess(a, b *Job) bool { return newestFirst(a, b) < 0 }

func idLess(a, b *Job) bool { return a.ID < b.ID }

const btreeDegree = 32

// tree returns the tree of k, creating it when create is set.
func (x *JobIndex) tree(k indexKey, create bool) *btree.BTreeG[*Job] {
	t := x.trees[k]
	if t == nil && create {
		t = btree.NewG(btreeDegree, newestLess)
		x.trees[k] = t
	}
	return t
}

// index adds (or, with del, removes) j in every tree.
func (x *JobIndex) index(j *Job, del bool) {
	keys := [...]indexKey{{}, {state: j.State}, {queue: j.Queue}, {queue: j.Queue, state: j.State}}
	for _, k := range keys {
		t := x.tree(k, !del)
		if t == nil {
			continue
		}
		if del {
			t.Delete(j)
			if t.Len() == 0 && k != (indexKey{}) {
				delete(x.trees, k)
			}
		} else {
			t.ReplaceOrInsert(j)
		}
	}
	if del {
		x.byID.Delete(j)
	} else {
		x.byID.ReplaceOrInsert(j)
	}
}

const rateWindow = 10 // seconds

type rateRing struct {
	sec   [rateWindow]int64
	count [rateWindow]int
}

func (r *rateRing) add(now int64) {
	i := now % rateWindow
	if r.sec[i] != now {
		r.sec[i], r.count[i] = now, 0
	}
	r.count[i]++
}

// perSec is the mean over the last full rateWindow seconds.
func (r *rateRing) perSec(now int64) float64 {
	if r == nil {
		return 0
	}
	n := 0
	for i := range rateWindow {
		if s := r.sec[i]; s < now && s >= now-rateWindow {
			n += r.count[i]
		}
	}
	return float64(n) / rateWindow
}

// NewJobIndex loads every job record of q and keeps following changes until
// Close. It returns once the initial load is done.
func NewJobIndex(ctx context.Context, q *Jobs) (*JobIndex, error) {
	wctx, cancel := context.WithCancel(context.Background())
	w, err := q.kv.Watch(wctx, jobKeyPrefix+">")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("cluster: job index: %w", err)
	}
	x := &JobIndex{q: q, cancel: cancel, done: make(chan struct{}), jobs: map[string]*Job{},
		trees: map[indexKey]*btree.BTreeG[*Job]{}, byID: btree.NewG(btreeDegree, idLess),
		counts: map[string]map[JobState]int{}, enq: map[string]*rateRing{}, end: map[string]*rateRing{}}
	loaded := make(chan struct{})
	go x.follow(wctx, w, loaded)
	select {
	case <-loaded:
		return x, nil
	case <-ctx.Done():
		x.Close()
		return nil, ctx.Err()
	}
}

func (x *JobIndex) follow(ctx context.Context, w jetstream.KeyWatcher, loaded chan struct{}) {
	defer close(x.done)
	defer w.Stop()
	initial := true
	for {
		select {
		case <-ctx.Done():
			if initial {
				close(loaded)
			}
			return
		case e, ok := <-w.Updates():
			if !ok {
				x.mu.Lock()
				x.err = errors.New("cluster: job index: watcher stopped")
				x.mu.Unlock()
				if initial {
					close(loaded)
				}
				return
			}
			if e == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			x.apply(e, !initial)
		}
	}
}

func (x *JobIndex) apply(e jetstream.KeyValueEntry, live bool) {
	id := strings.TrimPrefix(e.Key(), jobKeyPrefix)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rev = max(x.rev, e.Revision())
	old := x.jobs[id]
	if old != nil {
		x.counts[old.Queue][old.State]--
		x.index(old, true)
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(x.jobs, id)
		return
	}
	j, err := decodeJob(e)
	if err != nil {
		delete(x.jobs, id)
		return
	}
	j.Arg, j.Result, j.Timeline = nil, nil, nil
	if j.Error != nil {
		j.Error = &JobError{Message: j.Error.Message}
	}
	x.jobs[id] = j
	x.index(j, false)
	c := x.counts[j.Queue]
	if c == nil {
		c = map[JobState]int{}
		x.counts[j.Queue] = c
	}
	c[j.State]++
	if !live {
		return
	}
	now := time.Now().Unix()
	ring := func(m map[string]*rateRing) *rateRing {
		r := m[j.Queue]
		if r == nil {
			r = &rateRing{}
			m[j.Queue] = r
		}
		return r
	}
	if old == nil && j.Attempts == 0 {
		ring(x.enq).add(now)
	}
	if j.State.Final() && (old == nil || !old.State.Final()) {
		ring(x.end).add(now)
	}
}

// Close stops following the bucket.
func (x *JobIndex) Close() {
	x.cancel()
	<-x.done
}

// Err returns why the index stopped following the bucket, or nil.
func (x *JobIndex) Err() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.err
}

// Revision is the bucket revision the index has caught up with; it changes
// whenever a job changes.
func (x *JobIndex) Revision() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.rev
}

// QueueCounts is one queue's jobs by state and its recent rates.
type QueueCounts struct {
	Queue  string           `json:"queue"`
	States map[JobState]int `json:"states"`
	// EnqueuedPerSec and EndedPerSec are the mean rates of the last ten
	// full seconds seen by this index (jobs enqueued; jobs reaching a
	// final state).
	EnqueuedPerSec float64 `json:"enqueued_per_sec"`
	EndedPerSec    float64 `json:"ended_per_sec"`
}

// Queues returns the counts and rates of every queue with jobs, sorted by
// name.
func (x *JobIndex) Queues() []QueueCounts {
	x.mu.RLock()
	defer x.mu.RUnlock()
	now := time.Now().Unix()
	out := []QueueCounts{}
	for _, q := range slices.Sorted(maps.Keys(x.counts)) {
		st := map[JobState]int{}
		total := 0
		for s, n := range x.counts[q] {
			if n > 0 {
				st[s] = n
				total += n
			}
		}
		if total == 0 {
			continue
		}
		out = append(out, QueueCounts{Queue: q, States: st, EnqueuedPerSec: x.enq[q].perSec(now), EndedPerSec: x.end[q].perSec(now)})
	}
	return out
}

// List returns one page of the summaries matching f (f.Limit per page,
// newest enqueued first), the cursor of the next page ("" on the last) and
// the number of matching jobs. cursor is "" or a next cursor from an
// earlier call with the same filter.
func (x *JobIndex) List(f JobFilter, cursor string) ([]*Job, string, int, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var after *Job
	if cursor != "" {
		ns, id, ok := strings.Cut(cursor, "/")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return nil, "", 0, fmt.Errorf("cluster: bad job list cursor %q", cursor)
		}
		after = &Job{ID: id, EnqueuedAt: time.Unix(0, n).UTC()}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if f.IDPrefix != "" {
		// The jobs whose ID starts with the prefix, a range of byID,
		// then ordered newest first.
		var match []*Job
		x.byID.AscendGreaterOrEqual(&Job{ID: f.IDPrefix}, func(j *Job) bool {
			if !strings.HasPrefix(j.ID, f.IDPrefix) {
				return false
			}
			if f.match(j) {
				match = append(match, j)
			}
			return true
		})
		slices.SortFunc(match, newestFirst)
		start := 0
		if after != nil {
			start, _ = slices.BinarySearchFunc(match, after, newestFirst)
			if start < len(match) && match[start].ID == after.ID {
				start++
			}
		}
		end := min(start+f.Limit, len(match))
		return pageOf(match[start:end]), nextCursor(match[start:end], end < len(match)), len(match), nil
	}
	t := x.tree(indexKey{queue: f.Queue, state: f.State}, false)
	if t == nil {
		return []*Job{}, "", 0, nil
	}
	page := make([]*Job, 0, min(f.Limit, t.Len()))
	more := false
	visit := func(j *Job) bool {
		if after != nil && j.ID == after.ID && j.EnqueuedAt.Equal(after.EnqueuedAt) {
			return true // the cursor's own job
		}
		if len(page) == f.Limit {
			more = true
			return false
		}
		page = append(page, j)
		return true
	}
	if after != nil {
		t.AscendGreaterOrEqual(after, visit)
	} else {
		t.Ascend(visit)
	}
	return pageOf(page), nextCursor(page, more), t.Len(), nil
}

// pageOf copies the summaries of a page (the index's own change).
func pageOf(js []*Job) []*Job {
	out := make([]*Job, len(js))
	for i, j := range js {
		c := *j
		out[i] = &c
	}
	return out
}

// nextCursor is the cursor of the page after js, "" when there is none.
func nextCursor(js []*Job, more bool) string {
	if !more || len(js) == 0 {
		return ""
	}
	last := js[len(js)-1]
	return strconv.FormatInt(last.EnqueuedAt.UnixNano(), 10) + "/" + last.ID
}

package cluster

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go/jetstream"
)

func TestJobIndex(t *testing.T) {
	e := newJobEnv(t)
	ctx := testCtx(t, 30*time.Second)
	before, _ := Enqueue(ctx, e.q, counted, 0, JobOptions{Queue: "a"})
	x, err := NewJobIndex(ctx, e.q)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if qs := x.Queues(); len(qs) != 1 || qs[0].Queue != "a" || qs[0].States[JobQueued] != 1 {
		t.Fatalf("initial load: %+v", qs)
	}
	for i := range 25 {
		if _, err := Enqueue(ctx, e.q, counted, i, JobOptions{Queue: "b", ResultTTL: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "the index to see 25 queued jobs of b", func() bool {
		qs := x.Queues()
		return len(qs) == 2 && qs[1].States[JobQueued] == 25
	})
	// Paging: every job once, newest first.
	seen := map[string]bool{}
	cursor := ""
	var prev *Job
	for pages := 0; ; pages++ {
		page, next, total, err := x.List(JobFilter{Queue: "b", Limit: 10}, cursor)
		if err != nil || total != 25 {
			t.Fatalf("List: total %d, %v", total, err)
		}
		for _, j := range page {
			if seen[j.ID] {
				t.Errorf("%s listed twice", j.ID)
			}
			seen[j.ID] = true
			if prev != nil && newestFirst(prev, j) > 0 {
				t.Errorf("not newest first: %s after %s", j.ID, prev.ID)
			}
			prev = j
		}
		if next == "" {
			break
		}
		cursor = next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 25 {
		t.Errorf("paged %d jobs, want 25", len(seen))
	}
	if _, _, _, err := x.List(JobFilter{}, "garbage"); err == nil {
		t.Error("a bad cursor was accepted")
	}
	if page, _, total, _ := x.List(JobFilter{IDPrefix: before}, ""); total != 1 || page[0].ID != before {
		t.Errorf("List by ID prefix: %d", total)
	}
	rev := x.Revision()
	time.Sleep(1100 * time.Millisecond)
	if qs := x.Queues(); qs[1].EnqueuedPerSec <= 0 {
		t.Errorf("no enqueue rate: %+v", qs[1])
	}
	e.serve(t, JobWorkerOptions{Queues: []string{"b"}})
	waitFor(t, ctx, "the index to see 25 finished jobs of b", func() bool {
		qs := x.Queues()
		return len(qs) == 2 && qs[1].States[JobFinished] == 25
	})
	if x.Revision() <= rev {
		t.Error("revision did not move")
	}
	// The records expire after their 1s TTL, and leave the index.
	waitFor(t, ctx, "expired jobs to leave the index", func() bool {
		qs := x.Queues()
		return len(qs) == 1 && qs[0].Queue == "a"
	})
	if x.Err() != nil {
		t.Error(x.Err())
	}
}

// fakeEntry is a bucket entry fed to JobIndex.apply.
type fakeEntry struct {
	key string
	val []byte
	rev uint64
	op  jetstream.KeyValueOp
}

func (e fakeEntry) Bucket() string                  { return JobBucket }
func (e fakeEntry) Key() string                     { return e.key }
func (e fakeEntry) Value() []byte                   { return e.val }
func (e fakeEntry) Revision() uint64                { return e.rev }
func (e fakeEntry) Created() time.Time              { return time.Time{} }
func (e fakeEntry) Delta() uint64                   { return 0 }
func (e fakeEntry) Operation() jetstream.KeyValueOp { return e.op }

// The index's trees give, for every filter and page, what a scan and a
// sort of all summaries gives, after jobs change state, queue and leave.
func TestJobIndexTreesMatchAScan(t *testing.T) {
	x := &JobIndex{jobs: map[string]*Job{}, trees: map[indexKey]*btree.BTreeG[*Job]{}, byID: btree.NewG(btreeDegree, idLess),
		counts: map[string]map[JobState]int{}, enq: map[string]*rateRing{}, end: map[string]*rateRing{}}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-time.Hour).UTC()
	rev := uint64(0)
	queues := []string{"a", "b", "c"}
	put := func(j *Job) {
		b, _ := json.Marshal(j)
		rev++
		x.apply(fakeEntry{key: jobKey(j.ID), val: b, rev: rev, op: jetstream.KeyValuePut}, true)
	}
	for i := range 3000 {
		// Some jobs share an enqueue time: the ID breaks the tie.
		put(&Job{ID: fmt.Sprintf("j%04d", i), Queue: queues[i%3], State: JobQueued, EnqueuedAt: base.Add(time.Duration(i/2) * time.Millisecond)})
	}
	for range 4000 {
		id := fmt.Sprintf("j%04d", rng.IntN(3000))
		j, ok := x.jobs[id]
		if !ok {
			continue
		}
		c := *j
		if rng.IntN(10) == 0 {
			rev++
			x.apply(fakeEntry{key: jobKey(id), rev: rev, op: jetstream.KeyValueDelete}, true)
			continue
		}
		c.State = JobStates[rng.IntN(len(JobStates))]
		if rng.IntN(5) == 0 {
			c.Queue = queues[rng.IntN(3)]
		}
		put(&c)
	}
	scan := func(f JobFilter) []*Job {
		var out []*Job
		for _, j := range x.jobs {
			if f.match(j) {
				out = append(out, j)
			}
		}
		slices.SortFunc(out, newestFirst)
		return out
	}
	var filters []JobFilter
	for _, q := range append([]string{""}, queues...) {
		for _, st := range append([]JobState{""}, JobStates...) {
			filters = append(filters, JobFilter{Queue: q, State: st, Limit: 97})
		}
	}
	filters = append(filters, JobFilter{IDPrefix: "j1", Limit: 50}, JobFilter{IDPrefix: "j12", State: JobFinished, Limit: 7}, JobFilter{IDPrefix: "zz"})
	for _, f := range filters {
		want := scan(f)
		var got []*Job
		cursor := ""
		for {
			page, next, total, err := x.List(f, cursor)
			if err != nil || total != len(want) {
				t.Fatalf("%+v: total %d, want %d (%v)", f, total, len(want), err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(got) != len(want) {
			t.Fatalf("%+v: paged %d jobs, want %d", f, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].State != want[i].State {
				t.Fatalf("%+v: job %d is %s %s, want %s %s", f, i, got[i].ID, got[i].State, want[i].ID, want[i].State)
			}
		}
	}
	for k, tr := range x.trees {
		n := 0
		for _, j := range x.jobs {
			if (k.queue == "" || j.Queue == k.queue) && (k.state == "" || j.State == k.state) {
				n++
			}
		}
		if tr.Len() != n {
			t.Errorf("tree %+v holds %d jobs, want %d", k, tr.Len(), n)
		}
	}
}

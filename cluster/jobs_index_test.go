package cluster

import (
	"testing"
	"time"
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

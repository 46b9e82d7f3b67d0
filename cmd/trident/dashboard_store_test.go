package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/cluster/dashboard"
)

// TestDashboardStoreOverJobQueue runs the dashboard's store adapter against
// the real durable job queue: a finished and a failed command job show up
// in the overview, the pages and a job's detail; the failed one is
// requeued through the store; the errors the page turns into 404 and 409
// match.
func TestDashboardStoreOverJobQueue(t *testing.T) {
	url := startJobWorkerProc(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := cluster.Connect(ctx, cluster.ConnectOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	okID, err := q.EnqueueCommand(ctx, cluster.CommandJob{Command: "echo fine"}, cluster.JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	badID, err := q.EnqueueCommand(ctx, cluster.CommandJob{Command: "echo broken >&2; exit 4"}, cluster.JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{okID, badID} {
		if _, err := q.Wait(ctx, id); err != nil {
			t.Fatalf("wait %s: %v", id, err)
		}
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	s, err := newDashboardStore(sctx, conn, "")
	if err != nil {
		t.Fatal(err)
	}
	var o dashboard.Overview
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err = s.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, qu := range o.Queues {
			n += qu.Depth[dashboard.Finished] + qu.Depth[dashboard.Failed]
		}
		if n == 2 && len(o.Workers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("overview never showed 2 ended jobs and 1 worker: %+v", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if w := o.Workers[0]; w.Slots != 2 || w.Host != "jw" {
		t.Errorf("worker = %+v, want jw with 2 slots", w)
	}
	// The overview answers from the last ping of the workers (refreshed in
	// the background), not by waiting workerPingWait for their answers:
	// the page, which inlines it, is not held up.
	fastest := time.Hour
	for range 5 {
		t0 := time.Now()
		if _, err := s.Overview(ctx); err != nil {
			t.Fatal(err)
		}
		fastest = min(fastest, time.Since(t0))
	}
	if fastest >= workerPingWait/2 {
		t.Errorf("Overview takes %v at best; it waits for the workers' answers (%v)", fastest, workerPingWait)
	}
	p, err := s.Jobs(ctx, dashboard.Filter{State: dashboard.Failed, Limit: 10})
	if err != nil || len(p.Jobs) != 1 || p.Jobs[0].ID != badID {
		t.Fatalf("failed jobs page = %+v, %v; want only %s", p, err, badID)
	}
	j, err := s.Job(ctx, badID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != dashboard.Failed || len(j.Command) != 1 || !strings.Contains(j.Command[0], "exit 4") ||
		!strings.Contains(j.Error+j.Result, "4") || len(j.Timeline) < 3 {
		t.Errorf("failed job detail = %+v", j)
	}
	if err := s.Cancel(ctx, okID); !errors.Is(err, dashboard.ErrConflict) {
		t.Errorf("cancel of a finished job: %v, want ErrConflict", err)
	}
	if _, err := s.Job(ctx, "no-such-job"); !errors.Is(err, dashboard.ErrNotFound) {
		t.Errorf("unknown job: %v, want ErrNotFound", err)
	}
	if err := s.Requeue(ctx, badID); err != nil {
		t.Fatalf("requeue: %v", err)
	}
	rj, err := q.Wait(ctx, badID)
	runs := 0
	if err == nil {
		for _, e := range rj.Timeline {
			if e.State == cluster.JobStarted {
				runs++
			}
		}
	}
	if err != nil || rj.State != cluster.JobFailed || runs != 2 {
		t.Errorf("requeued job ended %+v, %v after %d runs; want failed again after a second run", rj, err, runs)
	}
}

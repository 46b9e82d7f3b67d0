package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/trident-go/trident/cluster"
)

// Enqueue a durable job, let a worker run it, and read its result by ID, as
// any other process could (RQ's q.enqueue and job.return_value()).
func ExampleEnqueue() {
	ctx := context.Background()
	srv, _ := cluster.StartServer(ctx, cluster.ServerOptions{})
	defer srv.Shutdown()
	conn, _ := cluster.Connect(ctx, srv.ConnectOptions())
	defer conn.Close()
	jobs, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}

	id, err := cluster.Enqueue(ctx, jobs, double, 21, cluster.JobOptions{
		Retry: &cluster.RetryPolicy{Max: 3, Base: time.Second, Jitter: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	j, _ := jobs.Job(ctx, id)
	fmt.Println("enqueued:", j.State)

	wctx, stopWorker := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- cluster.ServeJobs(wctx, jobs, cluster.JobWorkerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()

	v, err := cluster.JobResult[int](ctx, jobs, id)
	fmt.Println(v, err)
	j, _ = jobs.Job(ctx, id)
	fmt.Println(j.State, "after", j.Attempts, "attempt")

	stopWorker()
	<-served
	// Output:
	// enqueued: queued
	// 42 <nil>
	// finished after 1 attempt
}

// Enqueue many jobs in one request, run them, and read every record back
// in batches (RQ's q.enqueue_many and Job.fetch_many).
func ExampleJobs_FetchMany() {
	ctx := context.Background()
	srv, _ := cluster.StartServer(ctx, cluster.ServerOptions{})
	defer srv.Shutdown()
	conn, _ := cluster.Connect(ctx, srv.ConnectOptions())
	defer conn.Close()
	jobs, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	specs := make([]cluster.JobSpec, 1000)
	for i := range specs {
		specs[i] = cluster.JobSpec{Func: double.Name(), Arg: []byte(fmt.Sprint(i))}
	}
	ids, err := jobs.EnqueueBatch(ctx, specs)
	if err != nil {
		fmt.Println(err)
		return
	}

	wctx, stopWorker := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- cluster.ServeJobs(wctx, jobs, cluster.JobWorkerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() { stopWorker(); <-served }()
	if _, err := jobs.Wait(ctx, ids[len(ids)-1]); err != nil {
		fmt.Println(err)
		return
	}
	for {
		recs, err := jobs.FetchMany(ctx, append(ids, "never-enqueued"))
		if err != nil {
			fmt.Println(err)
			return
		}
		finished := 0
		for _, j := range recs[:len(ids)] {
			if j.State == cluster.JobFinished {
				finished++
			}
		}
		if finished == len(ids) {
			fmt.Println(finished, "finished; job 999's result:", string(recs[999].Result), "; unknown ID:", recs[len(ids)])
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output:
	// 1000 finished; job 999's result: 1998 ; unknown ID: <nil>
}

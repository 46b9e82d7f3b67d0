package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/runner"
)

func init() { runClusterHook = openClusterBackend }

// clusterBackend is the runner.Backend of trident run --cluster: each job
// is a cluster command job (cluster.Executor.SubmitCommand), run by a trident worker
// with cluster.RunCommand; the runner does everything else, as for a local
// run.
type clusterBackend struct {
	ex *cluster.Executor
}

// RunJob submits job as a command job and waits for its result. Ending ctx
// cancels the job: the workers stop it (or drop it if it has not started);
// a deadline on ctx travels with the job and the worker enforces it.
func (b *clusterBackend) RunJob(ctx context.Context, job runner.JobSpec) runner.JobEnd {
	fut := b.ex.SubmitCommand(ctx, cluster.CommandJob{Command: job.Command, Shell: job.Shell, Stdin: job.Stdin, Seq: job.Seq})
	r, err := fut.Result(context.Background())
	end := runner.JobEnd{Exitval: r.ExitCode, Signal: r.Signal, Stdout: r.Stdout, Stderr: r.Stderr, Host: r.Worker, Start: r.Start, Err: err}
	if !r.Start.IsZero() && r.End.After(r.Start) {
		end.Runtime = r.End.Sub(r.Start)
	}
	return end
}

// openClusterBackend connects to the cluster at url and returns its backend
// and the function that closes it, which says on stderr how many jobs were
// redelivered after a worker failure. When no job makes progress (no worker
// runs command jobs, the server is gone), it says so on stderr after
// $TRIDENT_CLUSTER_STALL_WARN (10s by default) and keeps waiting.
func openClusterBackend(ctx context.Context, url string, stderr io.Writer) (runner.Backend, func(), error) {
	stallAfter, stallOff, err := cluster.ParseStallAfter(os.Getenv("TRIDENT_CLUSTER_STALL_WARN"))
	if err != nil {
		return nil, nil, fmt.Errorf("$TRIDENT_CLUSTER_STALL_WARN: %w", err)
	}
	f := clusterFlags{url: url, timeout: 5 * time.Second}
	co, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	conn, err := cluster.Connect(ctx, co)
	if err != nil {
		return nil, nil, err
	}
	ex, err := cluster.NewExecutor(ctx, conn, cluster.WithQueue(f.queueName()))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	stopWatch := func() {}
	if !stallOff {
		stopWatch = ex.WatchStalls(ctx, cluster.StallOptions{After: stallAfter, Function: cluster.CommandFunc,
			Report: func(msg string) { fmt.Fprintf(stderr, "trident run: %s\n", msg) }})
	}
	closeFn := func() {
		stopWatch()
		st := ex.Stats()
		if st.Duplicates > 0 || st.Redelivered > 0 {
			fmt.Fprintf(stderr, "trident run: %d job(s) redelivered after a worker failure, %d duplicate result(s) ignored\n", st.Redelivered, st.Duplicates)
		}
		ex.Close()
		conn.Close()
	}
	return &clusterBackend{ex: ex}, closeFn, nil
}

// lockedWriter serializes writes to w: the stall watcher writes to stderr
// from its own goroutine, beside the runner.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

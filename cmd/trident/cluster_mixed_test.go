package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// triple is a Go function only the in-process worker of the test runs; the
// trident binary does not have it.
var triple = registry.Register("clitest.triple", func(ctx context.Context, n int) (int, error) { return 3 * n, nil })

// A `trident worker` (command jobs) and a Go worker (cluster.Serve with its
// registered functions) on one server and the default queue, as the README
// shows: each takes only the tasks it can run. Every command job and every
// Go call succeeds, and nothing is dead-lettered.
func TestClusterCommandAndGoWorkersShareQueue(t *testing.T) {
	url, _ := startClusterWorkers(t, 1, "-j", "2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := cluster.Connect(ctx, cluster.ConnectOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wctx, stopWorker := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- cluster.Serve(wctx, conn, cluster.WithConcurrency(2)) }()
	defer func() {
		stopWorker()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	ex, err := cluster.NewExecutor(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	var fs []*future.Future[int]
	for i := range 20 {
		fs = append(fs, triple.Submit(ex, ctx, i))
	}
	var args []string
	for i := range 12 {
		args = append(args, strconv.Itoa(i))
	}
	out, errOut, code := runTrident(t, "", append([]string{"run", "--cluster", url, "-k", "echo {}", ":::"}, args...)...)
	if code != 0 || out != strings.Join(args, "\n")+"\n" {
		t.Errorf("run --cluster beside a Go worker: exit %d, out %q, err %q", code, out, errOut)
	}
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || v != 3*i {
			t.Errorf("triple(%d) beside a command worker = %d, %v", i, v, err)
		}
	}
	st, err := cluster.GetStatus(ctx, conn, "", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadLetters != 0 {
		t.Errorf("%d task(s) dead-lettered", st.DeadLetters)
	}
}

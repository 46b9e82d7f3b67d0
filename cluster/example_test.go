package cluster_test

import (
	"context"
	"fmt"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/registry"
)

// Registered at package level, so that every worker binary knows it.
var double = registry.Register("example.double", func(ctx context.Context, n int) (int, error) {
	return 2 * n, nil
})

// One process plays all parts here: an embedded server, a worker and a
// submitter. In real use the worker runs on other machines.
func Example() {
	ctx := context.Background()
	srv, err := cluster.StartServer(ctx, cluster.ServerOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	conn, err := cluster.Connect(ctx, srv.ConnectOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	ex, err := cluster.NewExecutor(ctx, conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	wctx, stopWorker := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- cluster.Serve(wctx, conn, cluster.WithConcurrency(2)) }()

	f := double.Submit(ex, ctx, 21)
	v, err := f.Result(ctx)
	fmt.Println(v, err)

	ex.Shutdown(ctx)
	stopWorker()
	<-served
	// Output: 42 <nil>
}

// A command job, as `trident run --cluster` sends it to `trident worker`.
func ExampleExecutor_SubmitCommand() {
	ctx := context.Background()
	srv, _ := cluster.StartServer(ctx, cluster.ServerOptions{})
	defer srv.Shutdown()
	conn, _ := cluster.Connect(ctx, srv.ConnectOptions())
	defer conn.Close()

	wctx, stopWorker := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- cluster.Serve(wctx, conn, cluster.WithQueue("cmds"), cluster.WithHandler(cluster.CommandHandler(nil, "worker-1", nil)), cluster.WithFunctions(cluster.CommandFunc))
	}()

	ex, _ := cluster.NewExecutor(ctx, conn, cluster.WithQueue("cmds"))
	r, err := ex.SubmitCommand(ctx, cluster.CommandJob{Command: "echo hello; exit 3"}).Result(ctx)
	fmt.Printf("%q exit=%d worker=%s err=%v\n", r.Stdout, r.ExitCode, r.Worker, err)

	ex.Shutdown(ctx)
	stopWorker()
	<-served
	// Output: "hello\n" exit=3 worker=worker-1 err=<nil>
}

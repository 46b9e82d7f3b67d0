package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

func init() {
	register(Suite{
		Name:  "cluster",
		About: "NATS JetStream cluster executor: tiny-task throughput and latency vs procpool; scale-out over 1, 2, 4 worker processes",
		Run:   runClusterSuite,
	})
}

const envClusterWorker = "TRIDENT_BENCH_CLUSTER_WORKER"

var (
	clTiny = registry.Register("bench.cluster.tiny", func(ctx context.Context, n int) (int, error) {
		return n*2 + 1, nil
	})
	// clSpin burns CPU for about n microseconds' worth of arithmetic.
	clSpin = registry.Register("bench.cluster.spin", func(ctx context.Context, n int) (uint64, error) {
		return clSpinWork(n), nil
	})
)

func clSpinWork(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n*200; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// clusterWorkerMain turns the bench binary into a cluster worker when the
// suite started it (one hook line in main).
func clusterWorkerMain() {
	url := os.Getenv(envClusterWorker)
	if url == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	conc, _ := strconv.Atoi(os.Getenv(envClusterWorker + "_SLOTS"))
	code := 0
	conn, err := cluster.Connect(ctx, cluster.ConnectOptions{URL: url})
	if err == nil {
		opts := []cluster.Option{cluster.WithQueue(os.Getenv(envClusterWorker + "_QUEUE"))}
		if conc > 0 {
			opts = append(opts, cluster.WithConcurrency(conc))
		}
		err = cluster.Serve(ctx, conn, opts...)
		conn.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench cluster worker:", err)
		code = 1
	}
	stop()
	os.Exit(code)
}

type clWorkers []*exec.Cmd

func startClusterWorkers(url, queue string, procs, slots int) (clWorkers, error) {
	var ws clWorkers
	for range procs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envClusterWorker+"="+url, envClusterWorker+"_SLOTS="+strconv.Itoa(slots),
			envClusterWorker+"_QUEUE="+queue)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			ws.stop()
			return nil, err
		}
		ws = append(ws, cmd)
	}
	return ws, nil
}

func (ws clWorkers) stop() {
	for _, c := range ws {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range ws {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
}

func runClusterSuite(cfg Config) (*Report, error) {
	n, rounds, latN := 20_000, 5, 2000
	spinUnits, spinTasks := 125_000, 48 // ~10 ms of CPU per task
	if cfg.Quick {
		n, rounds, latN = 2000, 2, 200
		spinUnits, spinTasks = 25_000, 16 // ~2 ms
	}
	ctx := context.Background()
	rep := &Report{Ratios: map[string]float64{}}

	srv, err := cluster.StartServer(ctx, cluster.ServerOptions{})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	conn, err := cluster.Connect(ctx, srv.ConnectOptions())
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	// Tiny tasks: one worker process with one slot per core, against a
	// process pool with one worker per core.
	cores := runtime.NumCPU()
	ws, err := startClusterWorkers(srv.URL(), "tiny", 1, 4*cores)
	if err != nil {
		return nil, err
	}
	defer ws.stop()
	ex, err := cluster.NewExecutor(ctx, conn, cluster.WithQueue("tiny"))
	if err != nil {
		return nil, err
	}
	defer ex.Close()
	pool, err := procpool.New(procpool.WithWorkers(cores))
	if err != nil {
		return nil, err
	}
	defer pool.Shutdown(ctx)

	var runErr error
	batch := func(submit func(int) *future.Future[int]) func(int) {
		return func(n int) {
			fs := make([]*future.Future[int], n)
			for i := range n {
				fs[i] = submit(i)
			}
			if _, err := future.Results(ctx, fs); err != nil && runErr == nil {
				runErr = err
			}
		}
	}
	mapBatch := func(ex registry.Executor) func(int) {
		return func(n int) {
			in := make([]int, n)
			for i := range in {
				in[i] = i
			}
			if _, err := future.Results(ctx, clTiny.Map(ex, ctx, in)); err != nil && runErr == nil {
				runErr = err
			}
		}
	}
	res := interleaved(rounds, n, []string{"cluster-submit", "procpool-submit", "cluster-map", "procpool-map"}, map[string]func(int){
		"cluster-submit":  batch(func(i int) *future.Future[int] { return clTiny.Submit(ex, ctx, i) }),
		"procpool-submit": batch(func(i int) *future.Future[int] { return clTiny.Submit(pool, ctx, i) }),
		"cluster-map":     mapBatch(ex),
		"procpool-map":    mapBatch(pool),
	})
	if runErr != nil {
		return nil, runErr
	}
	c, p := res["cluster-submit"], res["procpool-submit"]
	rep.Rows = append(rep.Rows,
		Row{Name: "cluster-submit", NsPerTask: c.NsPerTask, AllocsPerTask: c.AllocsPerTask,
			Extra: map[string]float64{"tasks_per_s": 1e9 / c.NsPerTask}, Note: fmt.Sprintf("embedded server, 1 worker process x %d slots", 4*cores)},
		Row{Name: "procpool-submit", NsPerTask: p.NsPerTask, AllocsPerTask: p.AllocsPerTask,
			Extra: map[string]float64{"tasks_per_s": 1e9 / p.NsPerTask}, Note: fmt.Sprintf("%d worker processes, pipes", cores)})
	rep.Ratios["procpool-submit"] = p.NsPerTask / c.NsPerTask
	cm, pm := res["cluster-map"], res["procpool-map"]
	rep.Rows = append(rep.Rows,
		Row{Name: "cluster-map", NsPerTask: cm.NsPerTask, AllocsPerTask: cm.AllocsPerTask,
			Extra: map[string]float64{"tasks_per_s": 1e9 / cm.NsPerTask}, Note: "Map with automatic chunks: one message per chunk"},
		Row{Name: "procpool-map", NsPerTask: pm.NsPerTask, AllocsPerTask: pm.AllocsPerTask,
			Extra: map[string]float64{"tasks_per_s": 1e9 / pm.NsPerTask}, Note: "Map with automatic chunks"})
	rep.Ratios["procpool-map"] = pm.NsPerTask / cm.NsPerTask

	// Latency: one call at a time, submit to result.
	lat := func(submit func(int) *future.Future[int]) (p50, p99 float64, err error) {
		ds := make([]float64, 0, latN)
		for i := range latN {
			t0 := time.Now()
			if _, err := submit(i).Result(ctx); err != nil {
				return 0, 0, err
			}
			ds = append(ds, float64(time.Since(t0).Nanoseconds()))
		}
		sort.Float64s(ds)
		return ds[len(ds)/2], ds[len(ds)*99/100], nil
	}
	cl50, cl99, err := lat(func(i int) *future.Future[int] { return clTiny.Submit(ex, ctx, i) })
	if err != nil {
		return nil, err
	}
	pp50, pp99, err := lat(func(i int) *future.Future[int] { return clTiny.Submit(pool, ctx, i) })
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows,
		Row{Name: "cluster-latency", NsPerTask: cl50, AllocsPerTask: -1, Extra: map[string]float64{"p99_ns": cl99}, Note: "median round trip of one call"},
		Row{Name: "procpool-latency", NsPerTask: pp50, AllocsPerTask: -1, Extra: map[string]float64{"p99_ns": pp99}, Note: "median round trip of one call"})
	rep.Ratios["procpool-latency"] = pp50 / cl50
	ws.stop()

	// Scale-out: CPU-bound tasks over 1, 2 and 4 worker processes of one
	// slot each. Ideal speed-up is the process count; this machine has
	// `cores` cores shared with everything else, which caps it.
	// The same tasks run one after another in this process: the no-overhead
	// single-core reference under the machine's current load.
	localBest := 0.0
	var acc uint64
	for range rounds {
		t0 := time.Now()
		for range spinTasks {
			acc ^= clSpinWork(spinUnits)
		}
		ns := float64(time.Since(t0).Nanoseconds()) / float64(spinTasks)
		if localBest == 0 || ns < localBest {
			localBest = ns
		}
	}
	rep.Rows = append(rep.Rows, Row{Name: "scale-out-local-sequential", NsPerTask: localBest, AllocsPerTask: -1,
		Note: "the same CPU-bound tasks in one goroutine of this process, for reference"})
	var base float64
	for _, procs := range []int{1, 2, 4} {
		q := "spin" + strconv.Itoa(procs)
		sw, err := startClusterWorkers(srv.URL(), q, procs, 1)
		if err != nil {
			return nil, err
		}
		sex, err := cluster.NewExecutor(ctx, conn, cluster.WithQueue(q))
		if err != nil {
			sw.stop()
			return nil, err
		}
		run := func(k int) error {
			fs := make([]*future.Future[uint64], k)
			for i := range k {
				fs[i] = clSpin.Submit(sex, ctx, spinUnits)
			}
			_, err := future.Results(ctx, fs)
			return err
		}
		// Warm up: every worker connected and has its consumer.
		if err := run(2 * procs); err != nil {
			sw.stop()
			return nil, err
		}
		best := 0.0
		for range rounds {
			t0 := time.Now()
			if err := run(spinTasks); err != nil {
				sw.stop()
				return nil, err
			}
			ns := float64(time.Since(t0).Nanoseconds()) / float64(spinTasks)
			if best == 0 || ns < best {
				best = ns
			}
		}
		_ = sex.Close()
		sw.stop()
		if procs == 1 {
			base = best
		}
		speed := base / best
		ideal := float64(min(procs, cores))
		rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("scale-out-%dproc", procs), NsPerTask: best, AllocsPerTask: -1,
			Extra: map[string]float64{"speedup": speed, "ideal": float64(procs), "cap_cores": ideal, "of_cap": speed / ideal,
				"speedup_vs_local": localBest / best},
			Note: fmt.Sprintf("CPU-bound tasks, %d worker process(es) x 1 slot", procs)})
	}
	// One local task's CPU time, for scale.
	t0 := time.Now()
	acc ^= clSpinWork(spinUnits)
	runtime.KeepAlive(acc)
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("one spin task took %v of wall time here just now (run alone in this process); %d cores on this machine cap the scale-out at %dx whatever the process count", time.Since(t0).Round(10*time.Microsecond), cores, cores),
		"ratios: procpool cost / cluster cost; below 1 means the local process pool is faster, as it should be: the cluster adds a JetStream write, an ack and two network hops per task",
		"cluster tasks are JetStream messages in a file-backed work-queue stream; results travel on core NATS",
		"speedup is against 1 worker process; speedup_vs_local against the same tasks run sequentially in this process; the machine is shared, so a busy neighbour lowers both")
	return rep, nil
}

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

// The functions the procpool suite runs in worker processes. They are
// registered at package level and main calls procpool.Main first, so the
// bench binary, re-executed, serves as its own worker.
var (
	ppTiny = procpool.Register("bench.procpool.tiny", func(ctx context.Context, n int) (int, error) {
		return n*2 + 1, nil
	})
	ppCPU = procpool.Register("bench.procpool.cpu", func(ctx context.Context, iters int) (uint64, error) {
		x := uint64(iters)
		for i := 0; i < iters; i++ {
			x = x*6364136223846793005 + 1442695040888963407
			x ^= x >> 29
		}
		return x, nil
	})
)

func init() {
	register(Suite{
		Name:  "procpool",
		About: "worker processes: tiny-task round trip, auto-chunked map, start to first result, CPU scaling; vs CPython ProcessPoolExecutor / multiprocessing.Pool",
		Run:   runProcpoolSuite,
	})
}

// ppCPython is what bench/python/procpool_cpython.py prints.
type ppCPython struct {
	NsPerTask float64 `json:"ns_per_task"`
	Python    string  `json:"python"`
}

func minDur(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[0]
}

// bestOf is measure with the best round instead of the median: on a
// shared, loaded machine the fastest round is the one least disturbed, and
// the CPython script reports its best round too (timeit's convention).
func bestOf(rounds, n int, batch func(n int)) Measurement {
	batch(n / 10) // warm up
	best := Measurement{NsPerTask: math.Inf(1)}
	for i := 0; i < rounds; i++ {
		m := measure(1, n, batch)
		if m.NsPerTask < best.NsPerTask {
			best = m
		}
	}
	return best
}

func runProcpoolSuite(cfg Config) (*Report, error) {
	nRT, nAuto, rounds, starts, cpuTasks := 20_000, 400_000, 7, 7, 8
	cpuTask := 40 * time.Millisecond
	if cfg.Quick {
		nRT, nAuto, rounds, starts, cpuTasks = 3_000, 200_000, 5, 5, 4
		cpuTask = 15 * time.Millisecond
	}
	const workers = 2
	ctx := context.Background()
	rep := &Report{Ratios: map[string]float64{}}

	pool, err := procpool.New(procpool.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	defer pool.Shutdown(ctx)

	inRT := make([]int, nRT)
	inAuto := make([]int, nAuto)
	for i := range inAuto {
		inAuto[i] = i
	}
	var sink int
	var runErr error
	check := func(err error) {
		if err != nil && runErr == nil {
			runErr = err
		}
	}

	// 1. Round trip of a tiny call, no chunking: one frame each way per call.
	rt := bestOf(rounds, nRT, func(n int) {
		vs, err := future.Results(ctx, ppTiny.Map(pool, ctx, inRT[:n], registry.ChunkSize(1)))
		check(err)
		sink += len(vs)
	})
	// The same, one call at a time: latency rather than throughput.
	nSeq := nRT / 10
	seq := bestOf(rounds, nSeq, func(n int) {
		for i := 0; i < n; i++ {
			v, err := ppTiny.Submit(pool, ctx, i).Result(ctx)
			check(err)
			sink += v
		}
	})
	// 2. Tiny calls with automatic chunking: MapAll (Python's Pool.map) and
	// Map (one future per call).
	auto := bestOf(rounds, nAuto, func(n int) {
		vs, err := ppTiny.MapAll(pool, ctx, inAuto[:n])
		check(err)
		sink += len(vs)
	})
	autoF := bestOf(rounds, nAuto/4, func(n int) {
		vs, err := future.Results(ctx, ppTiny.Map(pool, ctx, inAuto[:n]))
		check(err)
		sink += len(vs)
	})
	// 3. Pool start to first result (one worker process started).
	var startDs []time.Duration
	for i := 0; i < starts; i++ {
		t0 := time.Now()
		p, err := procpool.New(procpool.WithWorkers(1))
		if err != nil {
			return nil, err
		}
		_, err = ppTiny.Submit(p, ctx, 1).Result(ctx)
		startDs = append(startDs, time.Since(t0))
		check(err)
		p.Shutdown(ctx)
	}
	start := minDur(startDs)
	// The same with a small worker binary (WorkerCommand): the bench binary
	// links every suite's dependencies and spends ~2ms in their init alone.
	// Full mode only: it needs the go tool to build the example program.
	var startSmall time.Duration
	if !cfg.Quick {
		startSmall = startSmallWorker(ctx, starts)
	}
	// 4. CPU-bound scaling: the same calls on 1 and on 2 workers.
	iters := calibrateCPU(cpuTask)
	cpuIn := make([]int, cpuTasks)
	for i := range cpuIn {
		cpuIn[i] = iters
	}
	p1, err := procpool.New(procpool.WithWorkers(1), procpool.WithInFlight(1))
	if err != nil {
		return nil, err
	}
	defer p1.Shutdown(ctx)
	p2, err := procpool.New(procpool.WithWorkers(2), procpool.WithInFlight(1))
	if err != nil {
		return nil, err
	}
	defer p2.Shutdown(ctx)
	cpuRun := func(p *procpool.Pool) func(int) {
		return func(n int) {
			_, err := ppCPU.MapAll(p, ctx, cpuIn[:max(n, 2)], registry.ChunkSize(1))
			check(err)
		}
	}
	// The machine's own parallelism, measured the same way: the same calls
	// on 1 and on 2 goroutines of this process, no pool involved.
	goRun := func(par int) {
		done := make(chan struct{}, par)
		for g := 0; g < par; g++ {
			go func() {
				for i := g; i < cpuTasks; i += par {
					ppCPU.Call(ctx, iters)
				}
				done <- struct{}{}
			}()
		}
		for g := 0; g < par; g++ {
			<-done
		}
	}
	// Interleaved rounds (1 worker, then 2), best round of each.
	cpu := map[string]Measurement{}
	runs := map[string]func(){
		"1": func() { cpuRun(p1)(cpuTasks) }, "2": func() { cpuRun(p2)(cpuTasks) },
		"g1": func() { goRun(1) }, "g2": func() { goRun(2) },
	}
	order := []string{"1", "2", "g1", "g2"}
	for _, k := range order {
		cpu[k] = Measurement{NsPerTask: math.Inf(1)}
	}
	cpuRun(p1)(2)
	cpuRun(p2)(2)
	for r := 0; r < rounds; r++ {
		for _, k := range order {
			t0 := time.Now()
			runs[k]()
			if ns := float64(time.Since(t0).Nanoseconds()) / float64(cpuTasks); ns < cpu[k].NsPerTask {
				cpu[k] = Measurement{NsPerTask: ns}
			}
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	_ = sink

	speedup := cpu["1"].NsPerTask / cpu["2"].NsPerTask
	machine := cpu["g1"].NsPerTask / cpu["g2"].NsPerTask
	rep.Rows = append(rep.Rows,
		Row{Name: "trident-roundtrip-map-chunk1", NsPerTask: rt.NsPerTask, AllocsPerTask: rt.AllocsPerTask, Note: fmt.Sprintf("%d workers, %d tiny calls, ChunkSize(1)", workers, nRT)},
		Row{Name: "trident-roundtrip-sequential", NsPerTask: seq.NsPerTask, AllocsPerTask: seq.AllocsPerTask, Note: "Submit then Result, one call at a time (latency)"},
		Row{Name: "trident-mapall-autochunk", NsPerTask: auto.NsPerTask, AllocsPerTask: auto.AllocsPerTask, Note: fmt.Sprintf("%d tiny calls, MapAll, chunks sized from measured call time", nAuto)},
		Row{Name: "trident-map-autochunk-futures", NsPerTask: autoF.NsPerTask, AllocsPerTask: autoF.AllocsPerTask, Note: "Map with a future per call"},
		Row{Name: "trident-start-to-first-result", NsPerTask: float64(start.Nanoseconds()), AllocsPerTask: -1, Note: "New + Submit + Result, one worker process (the bench binary re-executed)"},
		Row{Name: "trident-start-to-first-result-small-worker", NsPerTask: float64(startSmall.Nanoseconds()), AllocsPerTask: -1, Note: "as above, worker = procpool/internal/examplemain (4MB) via WorkerCommand; 0 = not run (quick mode or no go tool)"},
		Row{Name: "trident-cpu-1-worker", NsPerTask: cpu["1"].NsPerTask, AllocsPerTask: -1, Note: fmt.Sprintf("%d calls of ~%v CPU", cpuTasks, cpuTask)},
		Row{Name: "trident-cpu-2-workers", NsPerTask: cpu["2"].NsPerTask, AllocsPerTask: -1, Extra: map[string]float64{"speedup": speedup}, Note: "speedup = 1-worker time / 2-worker time (target 1.85 on 2 idle cores)"},
		Row{Name: "machine-2-goroutines", NsPerTask: cpu["g2"].NsPerTask, AllocsPerTask: -1, Extra: map[string]float64{"speedup": machine}, Note: "the same calls on 2 goroutines vs 1, no pool: the parallelism the machine gave this run"},
	)

	if cfg.Python == "" {
		rep.Notes = append(rep.Notes, "python3 not found: CPython rows and ratios skipped")
		return rep, nil
	}
	py := func(mode string, n, workers, rounds int) (ppCPython, error) {
		var out ppCPython
		err := runPython(cfg, "procpool_cpython.py", &out, mode, fmt.Sprint(n), fmt.Sprint(workers), fmt.Sprint(rounds))
		return out, err
	}
	pyRounds := rounds
	ppe, err := py("ppe", nRT, workers, pyRounds)
	if err != nil {
		return nil, err
	}
	pm, err := py("pool", nAuto, workers, pyRounds)
	if err != nil {
		return nil, err
	}
	sp, err := py("spawn", 0, 1, starts)
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows,
		Row{Name: "python-ProcessPoolExecutor", NsPerTask: ppe.NsPerTask, AllocsPerTask: -1, Note: "CPython " + ppe.Python + " ProcessPoolExecutor(2).map(chunksize=1)"},
		Row{Name: "python-Pool.map", NsPerTask: pm.NsPerTask, AllocsPerTask: -1, Note: "multiprocessing.Pool(2).map, default chunks"},
		Row{Name: "python-spawn-start", NsPerTask: sp.NsPerTask, AllocsPerTask: -1, Note: "spawn-context ProcessPoolExecutor(1): create to first result"},
	)
	rep.Ratios["python-ProcessPoolExecutor"] = ppe.NsPerTask / rt.NsPerTask
	rep.Ratios["python-Pool.map"] = pm.NsPerTask / auto.NsPerTask
	rep.Ratios["python-spawn-start"] = sp.NsPerTask / float64(start.Nanoseconds())
	if startSmall > 0 {
		rep.Ratios["python-spawn-start-small-worker"] = sp.NsPerTask / float64(startSmall.Nanoseconds())
	}
	rep.Notes = append(rep.Notes,
		"targets: python-ProcessPoolExecutor >= 10, python-Pool.map >= 2, python-spawn-start >= 20, speedup >= 1.85",
		"every row is the best of its rounds, on both sides (timeit's convention), because the machine is shared (CPU scaling: interleaved rounds, best of each)",
		"CPU scaling needs two idle cores; on a shared machine the speedup shows the load, not the pool")
	return rep, nil
}

// calibrateCPU returns the iterations of bench.procpool.cpu that take
// about d in this process.
func calibrateCPU(d time.Duration) int {
	iters := 1 << 16
	for {
		t0 := time.Now()
		ppCPU.Call(context.Background(), iters)
		el := time.Since(t0)
		if el > 5*time.Millisecond || iters > 1<<30 {
			return int(float64(iters) * float64(d) / float64(el))
		}
		iters *= 2
	}
}

// startSmallWorker builds the example program and measures pool start to
// first result with it as the worker binary; 0 if it cannot be built.
func startSmallWorker(ctx context.Context, starts int) time.Duration {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return 0
	}
	dir, err := os.MkdirTemp("", "trident-bench-pp")
	if err != nil {
		return 0
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "examplemain")
	if err := exec.Command(gobin, "build", "-o", bin, "github.com/trident-go/trident/procpool/internal/examplemain").Run(); err != nil {
		return 0
	}
	arg, _ := registry.Gob.Marshal(1)
	var ds []time.Duration
	for i := 0; i < starts; i++ {
		t0 := time.Now()
		p, err := procpool.New(procpool.WithWorkers(1), procpool.WithWorkerCommand(bin))
		if err != nil {
			return 0
		}
		_, err = p.Backend().SubmitRaw(ctx, "examplemain.fib", arg).Future().Result(ctx)
		ds = append(ds, time.Since(t0))
		p.Shutdown(ctx)
		if err != nil {
			return 0
		}
	}
	return minDur(ds)
}

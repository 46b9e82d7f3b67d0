package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/gammazero/workerpool"
	"github.com/panjf2000/ants/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/threadpool"
)

func init() {
	register(Suite{
		Name:  "threadpool",
		About: "many tiny tasks on a bounded pool: trident vs pond, ants, conc, errgroup, workerpool, goroutines, CPython ThreadPoolExecutor; CPU scaling",
		Run:   runThreadpoolSuite,
	})
}

// tpWorkers is the worker bound every contender gets.
const tpWorkers = 4

// tinyWork is the task body: a few nanoseconds of arithmetic, so that the
// measurement is the pool's overhead.
func tinyWork(i int) int { return i*2 + 1 }

// tpSink keeps results alive so the work is not optimised away.
var tpSink int

func runThreadpoolSuite(cfg Config) (*Report, error) {
	n, rounds := 200_000, 7
	if cfg.Quick {
		n, rounds = 20_000, 3
	}
	ctx := context.Background()
	rep := &Report{Ratios: map[string]float64{}}

	tp, err := threadpool.New(threadpool.WithWorkers(tpWorkers))
	if err != nil {
		return nil, err
	}
	defer tp.Shutdown(ctx)
	pondRes := pond.NewResultPool[int](tpWorkers)
	defer pondRes.StopAndWait()
	pondPlain := pond.NewPool(tpWorkers)
	defer pondPlain.StopAndWait()
	antsPool, err := ants.NewPool(tpWorkers)
	if err != nil {
		return nil, err
	}
	defer antsPool.Release()
	wp := workerpool.New(tpWorkers)
	defer wp.StopWait()

	out := make([]int, n)
	collect := func() {
		s := 0
		for _, v := range out[:] {
			s += v
		}
		tpSink = s
	}

	batches := map[string]func(n int){
		"trident-submit": func(n int) {
			fs := make([]*future.Future[int], n)
			for i := range n {
				fs[i] = threadpool.Submit(tp, ctx, func(context.Context) (int, error) { return tinyWork(i), nil })
			}
			for i, f := range fs {
				out[i], _ = f.Result(ctx)
			}
			collect()
		},
		"trident-go": func(n int) {
			var wg sync.WaitGroup
			wg.Add(n)
			for i := range n {
				_ = tp.Go(ctx, func(context.Context) error { out[i] = tinyWork(i); wg.Done(); return nil })
			}
			wg.Wait()
			collect()
		},
		"pond-submit-future": func(n int) {
			ts := make([]pond.ResultTask[int], n)
			for i := range n {
				ts[i] = pondRes.Submit(func() int { return tinyWork(i) })
			}
			for i, t := range ts {
				out[i], _ = t.Wait()
			}
			collect()
		},
		"pond-go": func(n int) {
			var wg sync.WaitGroup
			wg.Add(n)
			for i := range n {
				_ = pondPlain.Go(func() { out[i] = tinyWork(i); wg.Done() })
			}
			wg.Wait()
			collect()
		},
		"ants": func(n int) {
			var wg sync.WaitGroup
			wg.Add(n)
			for i := range n {
				_ = antsPool.Submit(func() { out[i] = tinyWork(i); wg.Done() })
			}
			wg.Wait()
			collect()
		},
		"conc-pool": func(n int) {
			p := pool.New().WithMaxGoroutines(tpWorkers)
			for i := range n {
				p.Go(func() { out[i] = tinyWork(i) })
			}
			p.Wait()
			collect()
		},
		"errgroup": func(n int) {
			var g errgroup.Group
			g.SetLimit(tpWorkers)
			for i := range n {
				g.Go(func() error { out[i] = tinyWork(i); return nil })
			}
			_ = g.Wait()
			collect()
		},
		"workerpool": func(n int) {
			var wg sync.WaitGroup
			wg.Add(n)
			for i := range n {
				wp.Submit(func() { out[i] = tinyWork(i); wg.Done() })
			}
			wg.Wait()
			collect()
		},
		"goroutines": func(n int) {
			var wg sync.WaitGroup
			sem := make(chan struct{}, tpWorkers)
			wg.Add(n)
			for i := range n {
				sem <- struct{}{}
				go func() { out[i] = tinyWork(i); <-sem; wg.Done() }()
			}
			wg.Wait()
			collect()
		},
	}
	order := []string{"trident-submit", "trident-go", "pond-submit-future", "pond-go", "ants", "conc-pool", "errgroup", "workerpool", "goroutines"}
	ms := interleaved(rounds, n, order, batches)

	notes := map[string]string{
		"trident-submit":     "threadpool.Submit + Future.Result",
		"trident-go":         "Pool.Go + WaitGroup",
		"pond-submit-future": "pond v2 ResultPool.Submit + Wait",
		"pond-go":            "pond v2 Pool.Go + WaitGroup",
		"ants":               "ants v2 Pool.Submit + WaitGroup",
		"conc-pool":          "conc pool.New().WithMaxGoroutines",
		"errgroup":           "errgroup.Group with SetLimit",
		"workerpool":         "gammazero workerpool.Submit + WaitGroup",
		"goroutines":         "go + WaitGroup + semaphore (floor)",
	}
	for _, name := range order {
		m := ms[name]
		rep.Rows = append(rep.Rows, Row{Name: name, NsPerTask: m.NsPerTask, AllocsPerTask: m.AllocsPerTask,
			Extra: map[string]float64{"workers": tpWorkers}, Note: notes[name]})
	}
	best := min(ms["trident-submit"].NsPerTask, ms["trident-go"].NsPerTask)
	for _, name := range order[2:] {
		rep.Ratios[name] = ms[name].NsPerTask / best
	}

	// CPython's ThreadPoolExecutor on the same shape of work.
	if cfg.Python == "" {
		rep.Notes = append(rep.Notes, "python3 not found: CPython row skipped")
	} else {
		pyN := 20_000
		if cfg.Quick {
			pyN = 4_000
		}
		var py struct {
			NsPerTask float64 `json:"ns_per_task"`
			Version   string  `json:"version"`
		}
		if err := runPython(cfg, "threadpool_tpe.py", &py, fmt.Sprint(pyN), fmt.Sprint(tpWorkers), fmt.Sprint(max(1, rounds/2))); err != nil {
			rep.Notes = append(rep.Notes, "CPython row failed: "+err.Error())
		} else {
			rep.Rows = append(rep.Rows, Row{Name: "python-ThreadPoolExecutor", NsPerTask: py.NsPerTask, AllocsPerTask: -1,
				Extra: map[string]float64{"workers": tpWorkers}, Note: "CPython " + py.Version + " submit + result"})
			rep.Ratios["python-ThreadPoolExecutor"] = py.NsPerTask / best
		}
	}

	// CPU-bound scaling: the same pure-CPU tasks on 1 worker and on NumCPU.
	rep.Rows = append(rep.Rows, cpuScaling(cfg))
	runtime.KeepAlive(tpSink)
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("every pool bounded to %d workers; %d tiny tasks per batch, %d interleaved rounds, median", tpWorkers, n, rounds),
		"ratios: peer ns/task / best of trident-submit and trident-go",
		"cpu-scaling: speedup of NumCPU workers over 1 on a pure CPU loop (median of paired alternating rounds); the machine is shared, other load (load1) lowers it")
	return rep, nil
}

// spin is a pure CPU loop of about a few hundred microseconds.
func spin(iters int) int {
	x := 1
	for i := 0; i < iters; i++ {
		x = x*1664525 + 1013904223
	}
	return x
}

// cpuScaling measures the speedup of NumCPU workers over one on the same
// pure-CPU tasks. The 1-worker and N-worker runs alternate (1,N then N,1 in
// the next round, so a drift in the machine's load favours neither), each
// pair gives one speedup, and the row reports the median of those paired
// speedups: on a shared machine a pair sees about the same background load,
// which a ratio of separately chosen best or median times does not
// guarantee. Those two are reported too, with the 1-minute load average.
func cpuScaling(cfg Config) Row {
	tasks, iters, rounds := 64, 400_000, 9
	if cfg.Quick {
		tasks, iters, rounds = 16, 300_000, 3
	}
	ncpu := runtime.NumCPU()
	newPool := func(workers int) *threadpool.Pool {
		p, err := threadpool.New(threadpool.WithWorkers(workers), threadpool.WithIdleTimeout(0))
		if err != nil {
			panic(err)
		}
		return p
	}
	p1, pn := newPool(1), newPool(ncpu)
	defer p1.Shutdown(context.Background())
	defer pn.Shutdown(context.Background())
	run := func(p *threadpool.Pool, n int) float64 {
		t0 := time.Now()
		g := p.NewGroup(context.Background())
		var mu sync.Mutex
		s := 0
		for range n {
			g.Go(func(context.Context) error {
				v := spin(iters)
				mu.Lock()
				s += v
				mu.Unlock()
				return nil
			})
		}
		_ = g.Wait()
		tpSink = s
		return float64(time.Since(t0).Nanoseconds()) / float64(n)
	}
	run(p1, ncpu) // warm up: start the workers
	run(pn, ncpu)
	var one, many, pairs []float64
	for r := range rounds {
		var t1, tn float64
		if r%2 == 0 {
			t1 = run(p1, tasks)
			tn = run(pn, tasks)
		} else {
			tn = run(pn, tasks)
			t1 = run(p1, tasks)
		}
		one = append(one, t1)
		many = append(many, tn)
		pairs = append(pairs, t1/tn)
	}
	med := func(xs []float64) float64 {
		ys := slices.Clone(xs)
		sort.Float64s(ys)
		return ys[len(ys)/2]
	}
	extra := map[string]float64{
		"speedup":              med(pairs),
		"speedup_min":          slices.Min(pairs),
		"speedup_max":          slices.Max(pairs),
		"speedup_of_medians":   med(one) / med(many),
		"speedup_of_best":      slices.Min(one) / slices.Min(many),
		"workers":              float64(ncpu),
		"ns_per_task_1_worker": med(one),
	}
	if l, ok := tpLoadAverage(); ok {
		extra["load1"] = l
	}
	return Row{Name: "cpu-scaling", NsPerTask: med(many), AllocsPerTask: -1, Extra: extra,
		Note: fmt.Sprintf("pure CPU loop, %d workers vs 1: median of %d paired, alternating rounds", ncpu, rounds)}
}

// tpLoadAverage returns the 1-minute load average on Linux.
func tpLoadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

package lab

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/trident-go/trident/internal/gil"
)

// Model families, the articles' three models plus the baseline.
const (
	FamilySequential = "sequential"
	FamilyThreads    = "threads"
	FamilyProcesses  = "processes"
	FamilyEventLoop  = "event-loop"
)

// env is what a runner gets for one row.
type env struct {
	w        Workload
	numbers  int // numbers per task for the CPU part (Go calibration)
	srv      *server
	fetch    *fetcher
	rec      *recorder
	interval int64 // GIL switch interval, ns
	workers  int   // chosen worker count, filled in by the runner
	gilStats *gil.Stats
	childRSS map[int]int64 // worker pid -> its peak RSS (KiB)
	mu       sync.Mutex
	perMS    float64 // Go calibration: numbers tested per ms
	// forceParts, when set, replaces the workload's parts (the overhead
	// probe dispatches an empty CPU part).
	forceParts int
}

// parts says which parts of a task this row runs.
func (e *env) parts() int {
	if e.forceParts != 0 {
		return e.forceParts
	}
	return partsOf(e.w)
}

func (e *env) spec(task, parts int) taskSpec {
	return taskSpec{Task: task, Numbers: e.numbers, Reads: e.w.Reads, URL: e.srv.URL, Sleep: e.w.Sleep, Epoch: e.rec.epoch, Parts: parts}
}

// noteChild records a worker process's peak RSS.
func (e *env) noteChild(pid int, kb int64) {
	if pid == 0 || pid == os.Getpid() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.childRSS == nil {
		e.childRSS = map[int]int64{}
	}
	e.childRSS[pid] = max(e.childRSS[pid], kb)
}

// goRunner is one Go model: it runs every task of e.w and records spans.
type goRunner struct {
	name   string
	family string
	about  string
	run    func(ctx context.Context, e *env) error
}

// defaultThreadWorkers is Python's ThreadPoolExecutor default,
// min(32, os.cpu_count() + 4).
func defaultThreadWorkers() int { return min(32, runtime.NumCPU()+4) }

// goRunners lists the Go models that are available in this build, in the
// order the lab runs them. Models whose executor is missing are reported by
// unavailableModels instead.
func goRunners() []goRunner {
	rs := []goRunner{
		{name: "sequential", family: FamilySequential, about: "one task after another on one goroutine", run: runSequential},
		{name: "threads-gil", family: FamilyThreads, about: "one thread per task under the emulated GIL (package gil): CPU in slices holding the lock, I/O and sleeps release it", run: runThreadsGIL},
		{name: "goroutines", family: FamilyThreads, about: "one plain goroutine per task: Go's free-threaded threads", run: runGoroutines},
	}
	rs = append(rs, extraRunners...)
	sort.SliceStable(rs, func(i, j int) bool { return modelOrder(rs[i].name) < modelOrder(rs[j].name) })
	return rs
}

// extraRunners are added by the files that wire in the executors.
var extraRunners []goRunner

var goModelOrder = []string{"sequential", "threads-gil", "goroutines", "threadpool", "procpool", "aio", "aio-tothread", "aio-procpool"}

// goModelsPlanned are all Go models the lab knows, available or not.
var goModelsPlanned = goModelOrder

func modelOrder(name string) int {
	for i, n := range goModelOrder {
		if n == name {
			return i
		}
	}
	return len(goModelOrder)
}

func runSequential(ctx context.Context, e *env) error {
	e.workers = 1
	for i := range e.w.Tasks {
		res, err := runPlain(ctx, e.spec(i, e.parts()), e.fetch)
		for j := range res.Spans {
			res.Spans[j].Lane = 0
		}
		e.rec.add(res.Spans...)
		if err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
	}
	return nil
}

func runGoroutines(ctx context.Context, e *env) error {
	e.workers = e.w.Tasks
	errs := make([]error, e.w.Tasks)
	var wg sync.WaitGroup
	for i := range e.w.Tasks {
		wg.Go(func() {
			res, err := runPlain(ctx, e.spec(i, e.parts()), e.fetch)
			for j := range res.Spans {
				res.Spans[j].Lane = i
			}
			e.rec.add(res.Spans...)
			errs[i] = err
		})
	}
	wg.Wait()
	return firstErr(errs)
}

func firstErr(errs []error) error {
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
	}
	return nil
}

// sliceNumbers is how many numbers one "bytecode" slice tests under the
// emulated GIL: about 50 µs of work, far below the 5 ms switch interval.
func sliceNumbers(numbersPerMS float64) int { return max(1, int(numbersPerMS/20)) }

// runThreadsGIL runs one emulated-CPython thread per task, as
// threading.Thread per task would: prime counting is "bytecode" done in
// slices while holding the lock; requests and sleeps are blocking calls that
// release it. The HTTP client's own parsing runs with the lock released (in
// CPython it would hold it), so the emulation is, if anything, kind to
// threads on fast I/O.
func runThreadsGIL(ctx context.Context, e *env) error {
	g, err := gil.New(gil.WithSwitchInterval(durationNS(e.interval)))
	if err != nil {
		return err
	}
	e.workers = e.w.Tasks
	slice := sliceNumbers(e.perMS)
	errs := make([]error, e.w.Tasks)
	var wg sync.WaitGroup
	threads := make([]*gil.Thread, e.w.Tasks)
	for i := range threads {
		threads[i] = g.NewThread(fmt.Sprintf("Thread-%d", i+1))
	}
	for i, th := range threads {
		wg.Go(func() {
			defer th.Release()
			errs[i] = gilTask(ctx, e, th, slice)
		})
	}
	wg.Wait()
	st := g.Stats()
	e.gilStats = &st
	off := float64(g.Epoch().UnixNano()-e.rec.epoch) / 1e3
	for _, s := range g.Trace() {
		kind := KindWait
		switch s.Kind {
		case gil.Held:
			kind = KindGILHeld
		case gil.Wait:
			kind = KindGILWait
		}
		e.rec.add(Span{Lane: s.Thread - 1, Task: s.Thread - 1, Kind: kind, StartUS: off + float64(s.Start)/1e3, EndUS: off + float64(s.End)/1e3})
	}
	return firstErr(errs)
}

func gilTask(ctx context.Context, e *env, th *gil.Thread, slice int) error {
	if err := th.Acquire(ctx); err != nil { // a new thread needs the GIL to start
		return err
	}
	if e.numbers > 0 {
		lo, hi := primeBase, primeBase+e.numbers
		err := th.Run(ctx, func(int) bool {
			end := min(lo+slice, hi)
			primeSink.Add(int64(countPrimes(lo, end)))
			lo = end
			return lo < hi
		})
		if err != nil {
			return err
		}
	}
	if e.w.Reads > 0 {
		var c *conn
		err := th.Blocking(ctx, func(ctx context.Context) (err error) { c, err = e.fetch.dial(ctx); return err })
		if err != nil {
			return err
		}
		defer c.close()
		for range e.w.Reads {
			if err := th.Blocking(ctx, c.get); err != nil {
				return err
			}
		}
	}
	if e.w.Sleep > 0 {
		if err := th.Sleep(ctx, e.w.Sleep); err != nil {
			return err
		}
	}
	return nil
}

package lab

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// labTask runs one task (or the parts of it a spec selects) in a worker
// process. It is registered at package level so that the re-executed binary
// (a procpool worker) knows it too; the binary's main must call
// procpool.Main first.
var labTask = procpool.Register("trident.lab.task", func(ctx context.Context, s taskSpec) (taskResult, error) {
	res, err := runPlain(ctx, s, workerFetcher(s.URL))
	res.Pid = os.Getpid()
	res.MaxRSSKB = selfMaxRSSKB()
	return res, err
})

// Worker processes keep one HTTP client per server for their lifetime.
var (
	workerFetchMu sync.Mutex
	workerFetch   = map[string]*fetcher{}
)

func workerFetcher(url string) *fetcher {
	if url == "" {
		return nil
	}
	workerFetchMu.Lock()
	defer workerFetchMu.Unlock()
	f, ok := workerFetch[url]
	if !ok {
		f = newFetcher(url)
		workerFetch[url] = f
	}
	return f
}

func init() {
	extraRunners = append(extraRunners,
		goRunner{name: "procpool", family: FamilyProcesses,
			about: "trident's procpool, one worker process per core, one call in flight per worker (like multiprocessing.Pool().map with chunksize=1); start-up and shut-down included",
			run:   runProcpool},
		goRunner{name: "aio-procpool", family: FamilyEventLoop,
			about: "aio, with the CPU part sent to a procpool (run_in_executor with a ProcessPoolExecutor); requests and sleeps awaited on the loop",
			run:   runAioProcpool},
	)
}

// newProcPool starts one worker per core with one call in flight per worker,
// so calls are handed out as multiprocessing.Pool.map(chunksize=1) does. (With
// procpool's default pipelining, a burst submitted while the workers start
// all goes to the first worker that is ready, which serialises a short run.)
func newProcPool() (*procpool.Pool, int, error) {
	n := runtime.NumCPU()
	p, err := procpool.New(procpool.WithWorkers(n), procpool.WithInFlight(1))
	return p, n, err
}

// pidLanes gives each worker process a lane, in pid order.
func (e *env) addProcSpans(results []taskResult) {
	var pids []int
	for _, r := range results {
		if r.Pid != 0 && !slices.Contains(pids, r.Pid) {
			pids = append(pids, r.Pid)
		}
	}
	slices.Sort(pids)
	for _, r := range results {
		lane := slices.Index(pids, r.Pid)
		for j := range r.Spans {
			r.Spans[j].Lane = max(lane, 0)
		}
		e.rec.add(r.Spans...)
		e.noteChild(r.Pid, r.MaxRSSKB)
	}
}

func runProcpool(ctx context.Context, e *env) error {
	p, n, err := newProcPool()
	if err != nil {
		return err
	}
	e.workers = n
	fs := make([]*future.Future[taskResult], e.w.Tasks)
	for i := range fs {
		fs[i] = labTask.Submit(p, ctx, e.spec(i, e.parts()))
	}
	results, rerr := future.Results(ctx, fs)
	serr := p.Shutdown(context.WithoutCancel(ctx))
	e.addProcSpans(results)
	if rerr != nil {
		return rerr
	}
	return serr
}

func runAioProcpool(ctx context.Context, e *env) error {
	if e.parts()&partCPU == 0 {
		// Nothing to offload: no pool is started (as asyncio's
		// ProcessPoolExecutor starts no worker before the first submit).
		e.workers = e.w.Tasks
		return runAioWith(ctx, e, aioProcesses, nil)
	}
	p, n, err := newProcPool()
	if err != nil {
		return err
	}
	e.workers = n
	var mu sync.Mutex
	var results []taskResult
	offload := func(t *aio.T, s taskSpec) (taskResult, error) {
		s.URL = e.srv.URL
		r, err := aio.Await(t, labTask.Submit(p, t.Context(), s))
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
		return taskResult{}, err // spans are added below, with process lanes
	}
	rerr := runAioWith(ctx, e, aioProcesses, offload)
	serr := p.Shutdown(context.WithoutCancel(ctx))
	e.addProcSpans(results)
	if rerr != nil {
		return rerr
	}
	return serr
}

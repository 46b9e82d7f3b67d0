package procpool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// Func is a typed handle to a registered function; see registry.Func.
type Func[A, R any] = registry.Func[A, R]

// Register records fn under name and returns a typed handle to submit it
// with; it is registry.Register. Call it at package level, so that worker
// processes (fresh runs of the same binary) register the same functions.
// Python pickles a reference to a module-level function instead.
func Register[A, R any](name string, fn func(context.Context, A) (R, error)) *Func[A, R] {
	return registry.Register(name, fn)
}

// Pool is a pool of worker processes running registered functions: Python's
// concurrent.futures.ProcessPoolExecutor. Submit work with a handle:
// fib.Submit(pool, ctx, 30) or fib.Map(pool, ctx, inputs). A Pool is safe
// for concurrent use. It implements registry.Executor (see Backend).
type Pool struct {
	cfg   config
	path  string
	codec registry.Codec

	mu          sync.Mutex
	queue       []*unit // waiting for a worker; front first
	queuedCalls int
	workers     []*worker // starting, ready or draining
	nextWorker  int
	nextUnit    uint64
	closing     bool                             // Shutdown or Close called: no more submits
	killed      bool                             // Close called: in-flight calls fail
	broken      error                            // set by BreakOnCrash
	started     bool                             // a worker has completed its start once
	failedStart int                              // consecutive failed starts since the last good one
	backoff     *time.Timer                      // set while waiting to start a worker again
	est         map[string]float64               // ns per call, for chunk sizing
	frameNs     map[string]float64               // ns per call frame, for capFor
	running     map[*future.Future[[]byte]]*unit // single calls in workers
	spawnQ      []*worker
	spawnWake   chan struct{}
	idle        chan struct{} // closed when closing and nothing queued or in flight
	gone        chan struct{} // closed when closing and no worker left
	idleOnce    sync.Once
	goneOnce    sync.Once
	stopSpawner bool
	stopOnce    sync.Once
	st          counters
	outMu       sync.Mutex // serialises prefixed output lines

	spawnerDone chan struct{}
	monitorStop chan struct{}
	monitorDone chan struct{}
	wg          sync.WaitGroup // worker goroutines
}

type counters struct {
	spawned, crashed, killed, timedOut, recycled, idleRetired, retried uint64
	submitted, completed, failed, failedStarts                         uint64
}

// New starts a pool. No worker process starts until there is work.
// It fails if an option is invalid (every invalid option is reported, joined
// with errors.Join, each naming the option and its value; a nil Option is
// skipped), or if the program is itself running as a worker without having
// called Main (a program that forgot Main would otherwise re-execute itself
// without end).
func New(opts ...Option) (*Pool, error) {
	cfg := defaults()
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if os.Getenv(envWorker) != "" && !inWorker {
		return nil, fmt.Errorf("procpool: this process was started as a pool worker but main did not call procpool.Main first")
	}
	path := cfg.path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("procpool: finding the program to re-execute: %w", err)
		}
		path = exe
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("procpool: worker binary: %w", err)
	}
	if cfg.initName != "" {
		if _, err := cfg.codec.Marshal(cfg.initArg); err != nil {
			return nil, fmt.Errorf("procpool: initializer %q argument: %w: %v", cfg.initName, registry.ErrEncode, err)
		}
	}
	p := &Pool{
		cfg:         cfg,
		path:        path,
		codec:       cfg.codec,
		est:         map[string]float64{},
		frameNs:     map[string]float64{},
		running:     map[*future.Future[[]byte]]*unit{},
		idle:        make(chan struct{}),
		gone:        make(chan struct{}),
		spawnWake:   make(chan struct{}, 1),
		spawnerDone: make(chan struct{}),
		monitorStop: make(chan struct{}),
		monitorDone: make(chan struct{}),
	}
	go p.spawner()
	go p.monitor()
	return p, nil
}

// Backend returns the pool's side of the contract with typed handles
// (registry.Executor): Submit, Map and MapAll of a registered function call
// it for you. Use it directly only to call a function the parent does not
// know by type (Backend().SubmitRaw with an encoded argument). It allocates
// nothing.
func (p *Pool) Backend() registry.Backend { return backend{p} }

// backend is the registry.Backend of a Pool.
type backend struct{ p *Pool }

// Codec implements registry.Backend: the pool's codec.
func (b backend) Codec() registry.Codec { return b.p.codec }

// SubmitRaw implements registry.Backend: it sends one call of the function
// registered under name with an already encoded argument.
func (b backend) SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	return b.p.submitRaw(ctx, name, payload)
}

// SubmitChunks implements registry.Backend: it queues a Map whose chunks
// travel as one encoded value each; chunk is the calls per chunk, 0 for
// sizes chosen from measured call times.
func (b backend) SubmitChunks(ctx context.Context, job registry.Chunks, chunk int) {
	b.p.submitChunks(ctx, job, chunk)
}

// ReportsDeadlines implements registry.Backend and reports true: the pool
// fails a call that is running when its context's deadline passes with a
// *DeadlineError, and cancels the queued calls of a Map whose context
// ends. Typed handles then leave that outcome to the pool.
func (backend) ReportsDeadlines() bool { return true }

// CancelRaw implements registry.Backend: it passes the cancellation of f,
// a running call from SubmitRaw, on to its worker, which cancels the call's
// context there.
func (b backend) CancelRaw(f *future.Future[[]byte]) { b.p.cancelRaw(f) }

func (p *Pool) submitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	if ctx == nil {
		ctx = context.Background()
	}
	f, r := future.New[[]byte](ctx)
	if f.Finished() {
		return r
	}
	p.mu.Lock()
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		r.Complete(nil, err)
		return r
	}
	p.st.submitted++
	p.queue = append(p.queue, newCall(ctx, name, payload, r))
	p.queuedCalls++
	p.dispatchLocked()
	p.mu.Unlock()
	return r
}

func (p *Pool) submitChunks(ctx context.Context, job registry.Chunks, chunk int) {
	if ctx == nil {
		ctx = context.Background()
	}
	n := job.Len()
	if n == 0 {
		return
	}
	p.mu.Lock()
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		job.Deliver(0, n, nil, err)
		return
	}
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		job.Deliver(0, n, nil, future.CancelledError(err))
		return
	}
	p.st.submitted += uint64(n)
	j := &mapJob{name: job.Name(), ctx: ctx, chunks: job, n: n, chunk: chunk, probe: 1}
	p.queue = append(p.queue, &unit{job: j})
	p.queuedCalls += n
	p.dispatchLocked()
	if j.next < j.n && ctx.Done() != nil {
		// The typed futures do not watch ctx (see ReportsDeadlines): the
		// calls still queued when it ends are cancelled here.
		j.stop = context.AfterFunc(ctx, func() { p.onJobCtxDone(j) })
	}
	p.mu.Unlock()
}

// cancelRaw sends the cancellation of f, a running single call, to its
// worker.
func (p *Pool) cancelRaw(f *future.Future[[]byte]) {
	p.mu.Lock()
	if u := p.running[f]; u != nil && u.w != nil && u.w.state != wDead {
		u.w.fw.send(encodeCancel(u.id))
	}
	p.mu.Unlock()
}

func (p *Pool) refuseLocked() error {
	if p.broken != nil {
		return p.broken
	}
	if p.closing {
		return ErrShutdown
	}
	return nil
}

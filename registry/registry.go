package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/trident-go/trident/future"
)

// Executor is what a typed handle (Func.Submit, Map, MapAll) submits to:
// procpool.Pool, cluster.Executor, or Local. Its one method hands over the
// executor's raw side, the Backend, so that the executor's own public type
// does not show that plumbing. Python's concurrent.futures.Executor is the
// counterpart; there submit takes the function itself.
type Executor interface {
	// Backend returns the executor's raw side. Typed handles call it; users
	// do not need to.
	Backend() Backend
}

// Backend is the contract between typed handles and an executor that runs
// registered functions on encoded bytes, usually in another process. It is
// the one interface an executor implements (no optional interfaces are
// looked for): a single call goes through SubmitRaw, the calls of a Map
// through SubmitChunks.
type Backend interface {
	// Codec returns the codec the executor's workers use.
	Codec() Codec
	// SubmitRaw runs the function registered under name on payload (the
	// argument encoded with Codec) and returns the Resolver of a future of
	// the encoded result: the typed handle that called it may cancel the
	// queued call with a cause (Resolver.CancelCause) and reads the result
	// through Resolver.Future. A failure of the function arrives as a
	// *RemoteError; failures of the executor itself (a crashed worker, a
	// shutdown) as the executor's own errors.
	SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte]
	// SubmitChunks queues the calls of job in chunks, each chunk's inputs
	// encoded as one value, which is what makes tiny calls cheap: one
	// frame, one encoder and one round trip per chunk instead of per call.
	// chunk is the number of calls per chunk; 0 lets the executor size
	// chunks (from measured call times, or a fixed size). It does not
	// block.
	SubmitChunks(ctx context.Context, job Chunks, chunk int)
	// CancelRaw stops raw, a running call from SubmitRaw, where it runs:
	// it cancels the call's context in the worker. Future.Cancel alone
	// cannot, since it refuses once a call runs, as in Python. An executor
	// that cannot reach a running call does nothing.
	CancelRaw(raw *future.Future[[]byte])
	// ReportsDeadlines reports whether the executor ends a running call
	// itself, with an error of its own, when its context's deadline passes
	// (procpool fails it with a *procpool.DeadlineError), and cancels the
	// queued calls of SubmitChunks when their context ends. For such an
	// executor the typed futures of Submit and Map leave a running call's
	// deadline to it, so that its documented error is the one the caller
	// sees, every time: otherwise the typed future's own context watcher
	// races the executor's report and may end the future Cancelled instead.
	ReportsDeadlines() bool
}

// Invoker is the untyped side of a registered function, used by workers.
type Invoker interface {
	// Name is the registered name.
	Name() string
	// Invoke decodes payload with c, calls the function, and encodes its
	// result with c. A panic is recovered into a *future.PanicError.
	Invoke(ctx context.Context, c Codec, payload []byte) ([]byte, error)
}

var funcs = struct {
	sync.RWMutex
	m map[string]Invoker
}{m: map[string]Invoker{}}

// Func is a typed handle to a function registered by name: the value you
// submit with. It is Python's "a module-level function that can be pickled
// by reference", made explicit.
type Func[A, R any] struct {
	name string
	fn   func(context.Context, A) (R, error)
}

// Register records fn under name in this process's registry and returns a
// typed handle to it. Call it at package level so that a worker process,
// which is a fresh run of the same binary, registers the same functions. It
// panics if name is empty or already registered, or fn is nil.
func Register[A, R any](name string, fn func(context.Context, A) (R, error)) *Func[A, R] {
	if name == "" || fn == nil {
		panic("registry: Register needs a name and a non-nil function")
	}
	f := &Func[A, R]{name: name, fn: fn}
	funcs.Lock()
	defer funcs.Unlock()
	if _, dup := funcs.m[name]; dup {
		panic(fmt.Sprintf("registry: function name %q registered twice", name))
	}
	funcs.m[name] = f
	return f
}

// Lookup returns the function registered under name.
func Lookup(name string) (Invoker, bool) {
	funcs.RLock()
	defer funcs.RUnlock()
	f, ok := funcs.m[name]
	return f, ok
}

// Names returns the registered function names, sorted.
func Names() []string {
	funcs.RLock()
	defer funcs.RUnlock()
	out := make([]string, 0, len(funcs.m))
	for n := range funcs.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Invoke runs the function registered under name on payload, the worker's
// half of a call: an unknown name gives ErrUnknownFunction, an argument that
// cannot be decoded ErrDecode, a result that cannot be encoded ErrEncode,
// and a panic a *future.PanicError. It never panics.
func Invoke(ctx context.Context, c Codec, name string, payload []byte) ([]byte, error) {
	f, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, describe(name))
	}
	return f.Invoke(ctx, c, payload)
}

// Name returns the name the function was registered under.
func (f *Func[A, R]) Name() string { return f.name }

// Call runs the function in this process, without encoding: handy in tests
// and for the serial baseline of a benchmark.
func (f *Func[A, R]) Call(ctx context.Context, arg A) (R, error) { return f.fn(ctx, arg) }

// Invoke implements Invoker.
func (f *Func[A, R]) Invoke(ctx context.Context, c Codec, payload []byte) (out []byte, err error) {
	var arg A
	if err := c.Unmarshal(payload, &arg); err != nil {
		return nil, fmt.Errorf("%w: argument of %q as %T: %v", ErrDecode, f.name, arg, err)
	}
	var res R
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = future.NewPanicError(r)
			}
		}()
		res, err = f.fn(ctx, arg)
	}()
	if err != nil {
		return nil, err
	}
	out, err = encode(c, res)
	if err != nil {
		return nil, fmt.Errorf("%w: result of %q (%T): %v", ErrEncode, f.name, res, err)
	}
	return out, nil
}

// encode calls c.Marshal, turning a panic of the codec into an error.
func encode(c Codec, v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("codec %s panicked: %v", c.Name(), r)
		}
	}()
	return c.Marshal(v)
}

// Encode encodes arg with the executor's codec; an error matches ErrEncode.
func (f *Func[A, R]) Encode(c Codec, arg A) ([]byte, error) {
	b, err := encode(c, arg)
	if err != nil {
		return nil, fmt.Errorf("%w: argument of %q (%T): %v", ErrEncode, f.name, arg, err)
	}
	return b, nil
}

// Submit calls the function with arg on ex and returns a future of its
// result (Python's executor.submit(fn, arg)). It does not block. An argument
// that cannot be encoded gives a future that has already failed with an
// error matching ErrEncode.
//
// The returned future stays Pending until the result arrives. Cancel on it
// reports true and ends it at once, and the cancellation is passed on to the
// executor: a queued call is dropped, a running one has its context
// cancelled in the worker. (Python's Future.cancel refuses once the call
// runs.)
func (f *Func[A, R]) Submit(ex Executor, ctx context.Context, arg A) *future.Future[R] {
	return f.submit(ex.Backend(), ctx, arg)
}

func (f *Func[A, R]) submit(be Backend, ctx context.Context, arg A) *future.Future[R] {
	b, err := f.Encode(be.Codec(), arg)
	if err != nil {
		var zero R
		return future.Resolved(zero, err)
	}
	out, r := newOut[R](ctx, be)
	if out.Finished() {
		return out
	}
	bridge(ctx, r, be.SubmitRaw(ctx, f.name, b), be, f.name)
	return out
}

// MapOption configures Map.
type MapOption func(*mapConfig)

type mapConfig struct{ chunk int }

// ChunkSize sets how many calls travel together: 1 sends each call on its
// own, n > 1 sends chunks of n, 0 (the default) lets the executor size
// chunks from the measured time of the calls. Python's
// ProcessPoolExecutor.map defaults to chunks of 1, multiprocessing.Pool.map
// to len(inputs)/(4*workers); executors without chunking ignore it.
func ChunkSize(n int) MapOption {
	return func(c *mapConfig) {
		if n < 0 {
			n = 0
		}
		c.chunk = n
	}
}

// Map calls the function once per input on ex and returns one future per
// input, in input order (Python's executor.map, which returns an iterator
// of results instead; future.Results turns these into a slice and
// future.AsCompleted yields them as they finish; MapAll skips the futures).
// With chunks, the inputs of a chunk are encoded as one value: if they
// cannot be encoded, every call of that chunk fails with ErrEncode; without
// chunks (ChunkSize(1)) only the bad input's future fails. Cancelling one
// future of a chunk that is already running does not stop the chunk.
func (f *Func[A, R]) Map(ex Executor, ctx context.Context, inputs []A, opts ...MapOption) []*future.Future[R] {
	var cfg mapConfig
	for _, o := range opts {
		o(&cfg)
	}
	be := ex.Backend()
	if cfg.chunk != 1 {
		return f.mapViaChunks(be, ctx, inputs, cfg.chunk)
	}
	outs := make([]*future.Future[R], len(inputs))
	for i, a := range inputs {
		outs[i] = f.submit(be, ctx, a)
	}
	return outs
}

// newOut returns the typed future of a call submitted with ctx to ex. For a
// Backend that reports deadlines it does not watch ctx itself: bridge does, or the
// executor for SubmitChunks.
func newOut[R any](ctx context.Context, be Backend) (*future.Future[R], future.Resolver[R]) {
	if ctx != nil && ctx.Done() != nil && ctx.Err() == nil && be.ReportsDeadlines() {
		return future.New[R](unwatched{ctx})
	}
	return future.New[R](ctx)
}

// unwatched is a context with the values and deadline of its parent but no
// Done channel, so that a future made with it does not watch the parent.
type unwatched struct{ context.Context }

func (unwatched) Done() <-chan struct{} { return nil }
func (unwatched) Err() error            { return nil }

// bridge completes the typed future of outR from the raw future of rawR,
// decoding the result, and passes a cancellation of out on to raw.
func bridge[R any](ctx context.Context, outR future.Resolver[R], rawR future.Resolver[[]byte], be Backend, name string) {
	c := be.Codec()
	out, raw := outR.Future(), rawR.Future()
	out.OnDone(func() {
		if out.Cancelled() && !raw.Cancel() {
			be.CancelRaw(raw)
		}
	})
	reporter := ctx != nil && ctx.Done() != nil && be.ReportsDeadlines()
	stop := func() bool { return false }
	if reporter {
		// out does not watch ctx (newOut): a queued call is cancelled here,
		// through raw; a running call's deadline is the executor's to
		// report; any other end of ctx cancels out at once, as out's own
		// watcher would.
		stop = context.AfterFunc(ctx, func() {
			err := ctx.Err()
			if rawR.CancelCause(err) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			outR.CancelCause(err)
		})
	}
	raw.OnDone(func() {
		stop()
		if raw.Cancelled() {
			switch {
			case reporter:
				outR.CompleteCancelled(raw.Err())
			case ctx == nil || ctx.Err() == nil:
				out.Cancel()
			default:
				// The shared context ended: out's own watcher cancels it
				// with the cause (say, DeadlineExceeded).
			}
			return
		}
		b, err, _ := raw.Value()
		var v R
		if err == nil {
			if derr := c.Unmarshal(b, &v); derr != nil {
				err = fmt.Errorf("%w: result of %q as %T: %v", ErrDecode, name, v, derr)
			}
		}
		if outR.Start() {
			outR.Complete(v, err)
		}
	})
}

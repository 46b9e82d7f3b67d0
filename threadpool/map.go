package threadpool

import (
	"context"
	"errors"
	"iter"

	"github.com/trident-go/trident/future"
)

// Map runs fn on every input on the pool and yields the results in input
// order (Python's executor.map). Unlike Python, which submits every input at
// once, Map reads inputs lazily and keeps at most a window of them in flight
// (WithWindow; twice the worker count by default), so an endless or
// million-long input costs bounded memory.
//
// A task's error is yielded with the zero Out in its place, and the loop may
// go on or stop. Stopping early (break) cancels the inputs still in flight:
// queued ones never run, running ones see their context cancelled. When ctx
// ends, Map yields ctx's error once and stops. When the pool is shut down or
// broken, Map yields that error once and stops. A nil fn or bad option is
// yielded as an error once.
func Map[In, Out any](p *Pool, ctx context.Context, inputs iter.Seq[In], fn func(context.Context, In) (Out, error), opts ...MapOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		var zero Out
		var cfg mapConfig
		var errs []error
		for _, o := range opts {
			if o != nil {
				if err := o(&cfg); err != nil {
					errs = append(errs, err)
				}
			}
		}
		switch {
		case p == nil:
			yield(zero, errNilPool)
			return
		case fn == nil:
			yield(zero, nilFuncError("Map"))
			return
		case len(errs) > 0:
			yield(zero, errors.Join(errs...))
			return
		case inputs == nil:
			return
		}
		if ctx == nil {
			ctx = context.Background()
		}
		window := cfg.window
		if window == 0 {
			window = 2 * p.cfg.workers
		}
		mctx, cancel := context.WithCancel(ctx)
		// fifo of in-flight futures, a ring of the window size
		fifo := make([]*future.Future[Out], window)
		head, n := 0, 0
		defer func() {
			// Early stop: cancel what is still in flight, newest first, so
			// that a worker cannot pick up a queued task between two
			// cancellations (the queue is FIFO).
			for i := n - 1; i >= 0; i-- {
				fifo[(head+i)%window].Cancel()
			}
			cancel()
		}()
		stop := false
		// next yields the oldest in-flight result; it reports false when
		// the iteration must end.
		next := func() bool {
			f := fifo[head]
			fifo[head] = nil
			head = (head + 1) % window
			n--
			v, err := f.Result(ctx)
			if err != nil && ctx.Err() != nil {
				yield(zero, ctx.Err())
				return false
			}
			if !yield(v, err) {
				return false
			}
			if errors.Is(err, ErrShutdown) || errors.Is(err, ErrBrokenPool) {
				return false
			}
			return true
		}
		for in := range inputs {
			if ctx.Err() != nil {
				break
			}
			if n == window && !next() {
				stop = true
				break
			}
			f := Submit(p, mctx, func(c context.Context) (Out, error) { return fn(c, in) })
			fifo[(head+n)%window] = f
			n++
		}
		if stop {
			return
		}
		for n > 0 {
			if !next() {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(zero, err)
		}
	}
}

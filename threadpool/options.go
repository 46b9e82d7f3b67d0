package threadpool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// DefaultIdleTimeout is how long a worker waits for work before it retires
// when WithIdleTimeout is not given.
const DefaultIdleTimeout = 10 * time.Second

// Option configures a Pool in New (Python's ThreadPoolExecutor keyword
// arguments max_workers, initializer, ...).
type Option func(*config) error

type config struct {
	workers     int
	queueSize   int
	idleTimeout time.Duration
	lockThread  bool
	init        func(ctx context.Context) error
	onError     func(error)
}

func defaultConfig() config {
	return config{
		workers:     min(32, runtime.NumCPU()+4),
		idleTimeout: DefaultIdleTimeout,
	}
}

// WithWorkers sets the most workers the pool runs at once (Python's
// max_workers). The default is min(32, NumCPU+4), as in Python. Workers are
// started lazily, one per submit that finds no idle worker, as Python does.
// n must be at least 1.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("threadpool: WithWorkers(%d): need at least 1 worker", n)
		}
		c.workers = n
		return nil
	}
}

// WithQueueSize bounds the number of tasks waiting for a worker (not
// counting running ones). 0, the default, means unbounded, as in Python.
// With a bound, Submit, Go and Group.Go block while the queue is full until
// there is room or their context ends, and TrySubmit fails at once with
// ErrQueueFull. n must not be negative.
func WithQueueSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("threadpool: WithQueueSize(%d): queue size must not be negative (0 means unbounded)", n)
		}
		c.queueSize = n
		return nil
	}
}

// WithIdleTimeout sets how long an idle worker waits for work before it
// exits (DefaultIdleTimeout when not given). 0 means workers never retire,
// which is what Python's ThreadPoolExecutor does. d must not be negative.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("threadpool: WithIdleTimeout(%v): must not be negative (0 means never retire)", d)
		}
		c.idleTimeout = d
		return nil
	}
}

// WithLockOSThread locks every worker goroutine to its own OS thread for its
// whole life (runtime.LockOSThread), so that thread-affine C libraries and
// thread-local state set up by the initializer see the same thread for
// every task the worker runs. When such a worker retires its thread exits
// with it. Python threads are always OS threads; Go needs this option.
func WithLockOSThread() Option {
	return func(c *config) error { c.lockThread = true; return nil }
}

// WithInitializer runs fn in each worker before its first task (Python's
// initializer). If fn returns an error or panics, the pool is broken: every
// queued task and every later submit fails with an error that matches
// ErrBrokenPool and wraps fn's error. Tasks already running finish.
// fn's context is cancelled by ShutdownNow.
func WithInitializer(fn func(ctx context.Context) error) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("threadpool: WithInitializer(nil): initializer function is nil")
		}
		c.init = fn
		return nil
	}
}

// WithErrorHandler sets a function that receives the errors of tasks started
// with Pool.Go, which have no future to carry them, including panics as
// *future.PanicError. It is called in the worker goroutine and must be
// quick and safe for concurrent use. Without a handler such errors are only
// counted in Stats.Failed, and panics are also logged with the standard log
// package so that none goes unseen. Python has no fire-and-forget submit.
func WithErrorHandler(fn func(error)) Option {
	return func(c *config) error { c.onError = fn; return nil }
}

// MapOption configures one Map call.
type MapOption func(*mapConfig) error

type mapConfig struct {
	window int
}

// WithWindow sets how many inputs Map keeps in flight (submitted but not yet
// yielded). The default is twice the pool's worker count. Python's
// Executor.map submits every input at once; a window keeps memory bounded
// for long or endless inputs. n must be at least 1.
func WithWindow(n int) MapOption {
	return func(c *mapConfig) error {
		if n < 1 {
			return fmt.Errorf("threadpool: WithWindow(%d): window must be at least 1", n)
		}
		c.window = n
		return nil
	}
}

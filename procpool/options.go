package procpool

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/trident-go/trident/registry"
)

// Option configures a Pool.
type Option func(*config) error

type config struct {
	workers      int
	inflight     int
	path         string
	args         []string
	env          []string
	codec        registry.Codec
	initName     string
	initArg      any
	prefix       bool
	stdout       io.Writer
	stderr       io.Writer
	retries      int
	breakOnCrash bool
	maxTasks     int
	idle         time.Duration
	maxRSS       int64
	grace        time.Duration
	startTimeout time.Duration
	chunkTarget  time.Duration

	maxStartFailures int
}

func defaults() config {
	return config{
		workers:      runtime.NumCPU(),
		inflight:     8,
		codec:        registry.Gob,
		grace:        100 * time.Millisecond,
		startTimeout: 30 * time.Second,
		chunkTarget:  2 * time.Millisecond,

		maxStartFailures: 10,
	}
}

// WithWorkers sets the maximum number of worker processes (Python's
// max_workers). The default is runtime.NumCPU(). Workers are started on
// demand, as in Python 3.9+.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procpool: WithWorkers(%d): need at least 1", n)
		}
		c.workers = n
		return nil
	}
}

// WithInFlight sets how many calls (or chunks) the pool may keep sent to each
// worker at once (default 8). A worker runs them one at a time, in order;
// the others wait in its pipe so that round trips overlap. The pool uses the
// full depth only for calls measured under a millisecond; slower calls, and
// calls not measured yet, get at most 2 per worker so the load stays
// balanced. 1 gives Python's behaviour of one call per worker at a time.
func WithInFlight(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procpool: WithInFlight(%d): need at least 1", n)
		}
		c.inflight = n
		return nil
	}
}

// WithWorkerCommand runs path with args as the worker instead of re-executing
// the current program. The binary must register the same functions and call
// Main at the top of its main. Python's counterpart is
// multiprocessing.set_executable.
func WithWorkerCommand(path string, args ...string) Option {
	return func(c *config) error {
		if path == "" {
			return fmt.Errorf("procpool: WithWorkerCommand(%q): empty path", path)
		}
		c.path, c.args = path, args
		return nil
	}
}

// WithWorkerEnv adds KEY=VALUE entries to the workers' environment (which is
// otherwise the parent's).
func WithWorkerEnv(kv ...string) Option {
	return func(c *config) error { c.env = append(c.env, kv...); return nil }
}

// WithCodec sets the codec for arguments and results (default registry.Gob).
// A custom codec must be registered with registry.RegisterCodec in the
// worker binary too.
func WithCodec(codec registry.Codec) Option {
	return func(c *config) error {
		if codec == nil {
			return fmt.Errorf("procpool: WithCodec(nil): need a codec (registry.Gob is the default)")
		}
		c.codec = codec
		return nil
	}
}

// WithInitializer runs fn with arg once in every worker before it takes any
// call (Python's initializer and initargs). If it fails, the worker does not
// start and the calls waiting for it fail with an error matching
// ErrWorkerStart that wraps the initializer's remote error.
func WithInitializer[A, R any](fn *registry.Func[A, R], arg A) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("procpool: WithInitializer(nil): need a registered function")
		}
		c.initName, c.initArg = fn.Name(), arg
		return nil
	}
}

// WithPrefixOutput makes the pool copy each worker's stdout and stderr line by
// line to the given writers (nil means the parent's os.Stdout / os.Stderr),
// each line prefixed with "[worker N] ". Without it, workers write straight
// to the parent's stdout and stderr, untouched.
func WithPrefixOutput(stdout, stderr io.Writer) Option {
	return func(c *config) error {
		c.prefix, c.stdout, c.stderr = true, stdout, stderr
		return nil
	}
}

// WithRetries makes the pool send a call again, up to n more times, when the
// worker running it crashes. Calls that timed out are not retried. Python
// has no counterpart.
func WithRetries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("procpool: WithRetries(%d): negative", n)
		}
		c.retries = n
		return nil
	}
}

// WithBreakOnCrash restores Python's policy: the first worker crash breaks the
// pool, every pending and running call fails with ErrBrokenPool (wrapping
// the crash), and later submits fail the same way.
func WithBreakOnCrash() Option {
	return func(c *config) error { c.breakOnCrash = true; return nil }
}

// WithMaxTasksPerWorker retires a worker after it has been sent n calls, and
// starts a fresh one when there is work (Python's max_tasks_per_child). The
// count is checked between chunks.
func WithMaxTasksPerWorker(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procpool: WithMaxTasksPerWorker(%d): need at least 1", n)
		}
		c.maxTasks = n
		return nil
	}
}

// WithIdleTimeout retires a worker that has had no call for d. Python has no
// counterpart for ProcessPoolExecutor.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("procpool: WithIdleTimeout(%v): need a positive duration", d)
		}
		c.idle = d
		return nil
	}
}

// WithMaxMemory retires a worker whose resident set (read from /proc) exceeds
// bytes, once its current calls are done. It is checked a few times a
// second, so it bounds leaks, not spikes. Python has no counterpart (the
// closest is max_tasks_per_child, which counts calls, not memory).
func WithMaxMemory(bytes int64) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return fmt.Errorf("procpool: WithMaxMemory(%d): need a positive size", bytes)
		}
		c.maxRSS = bytes
		return nil
	}
}

// WithKillGrace sets how long a timed-out call gets to return after its
// cancellation is sent, and then how long a terminated worker gets before it
// is killed (default 100ms each).
func WithKillGrace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("procpool: WithKillGrace(%v): negative", d)
		}
		c.grace = d
		return nil
	}
}

// WithStartTimeout bounds the handshake of a new worker (default 30s).
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("procpool: WithStartTimeout(%v): need a positive duration", d)
		}
		c.startTimeout = d
		return nil
	}
}

// WithMaxStartFailures sets how many worker starts in a row may fail, with no
// successful start in between, before the pool gives up on its queued calls
// (default 10). Once a worker has started, a start that fails (a worker
// killed or crashing before it is ready, an initializer that fails, a start
// that passes WithStartTimeout) is a crash like any other: the queue is
// kept and another worker starts after a pause of 10ms, doubling with each
// consecutive failure up to 1s (about 3.3s in all before the tenth). When
// the limit is reached and no worker is alive, the queued calls fail with a
// *StartError naming the limit; a later submit tries to start a worker
// again, and one successful start resets the count. While no worker has
// ever started (a binary that does not call Main), the first failed start
// fails the queued calls at once. Python has no counterpart: its
// ProcessPoolExecutor breaks for good (BrokenProcessPool) when any worker
// dies, starting or not.
func WithMaxStartFailures(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("procpool: WithMaxStartFailures(%d): need at least 1", n)
		}
		c.maxStartFailures = n
		return nil
	}
}

// WithChunkTarget sets how long an automatically sized chunk should take to run
// (default 2ms): long enough to pay for its round trip many times over,
// short enough to balance the load.
func WithChunkTarget(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("procpool: WithChunkTarget(%v): need a positive duration", d)
		}
		c.chunkTarget = d
		return nil
	}
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/trident-go/trident/registry"
)

// Option configures NewExecutor (the submitting side) or Serve (a worker).
// WithQueue and WithCodec apply to both; the others configure a worker only,
// and NewExecutor refuses them. A bad value is reported by NewExecutor or
// Serve as an error naming the option and the value; all the bad options
// are reported at once (errors.Join). A nil Option is skipped.
//
// Python's RQ takes the same settings as keyword arguments of Queue and
// Worker.
type Option func(*config) error

// config is what the options set; zero values mean the defaults, filled in
// by NewExecutor and Serve.
type config struct {
	executor bool // being applied by NewExecutor: worker options are refused

	queue       string
	codec       registry.Codec
	concurrency int
	ackWait     time.Duration
	maxDeliver  int
	handler     Handler
	functions   []string
	grace       time.Duration
	name        string
	info        map[string]string
}

// newConfig applies opts; forExecutor tells NewExecutor from Serve.
func newConfig(forExecutor bool, opts []Option) (config, error) {
	c := config{executor: forExecutor}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if c.queue == "" {
		c.queue = DefaultQueue
	}
	if c.codec == nil {
		c.codec = registry.Gob
	}
	if forExecutor {
		return c, nil
	}
	if c.concurrency == 0 {
		c.concurrency = runtime.GOMAXPROCS(0)
	}
	if c.ackWait == 0 {
		c.ackWait = 30 * time.Second
	}
	if c.maxDeliver == 0 {
		c.maxDeliver = 5
	}
	if c.handler == nil {
		codec := c.codec
		c.handler = func(ctx context.Context, name string, payload []byte) ([]byte, error) {
			return registry.Invoke(ctx, codec, name, payload)
		}
	}
	if c.name == "" {
		host, _ := os.Hostname()
		c.name = host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.functions == nil {
		c.functions = registry.Names()
	}
	return c, nil
}

// workerOnly returns the error of a worker option given to NewExecutor, or
// nil.
func (c *config) workerOnly(option string) error {
	if c.executor {
		return fmt.Errorf("cluster: %s applies to Serve (a worker), not to NewExecutor", option)
	}
	return nil
}

// WithQueue names the work queue: the queue an executor submits to, or the
// one a worker serves (RQ's Queue name). The default, and the queue of
// WithQueue(""), is DefaultQueue, so a name read from a flag or the
// environment can be passed as it is. A name is letters, digits, '-' and '_'.
func WithQueue(name string) Option {
	return func(c *config) error {
		if name == "" {
			name = DefaultQueue
		}
		if validQueue(name) != nil {
			return fmt.Errorf("cluster: WithQueue(%q): a queue name is one or more letters, digits, '-' and '_'", name)
		}
		c.queue = name
		return nil
	}
}

// WithCodec sets how arguments and results are encoded; the default is
// registry.Gob. Submitters and workers of one queue must use the same codec.
// Python's RQ has the same choice (its serializer argument).
func WithCodec(codec registry.Codec) Option {
	return func(c *config) error {
		if codec == nil {
			return errors.New("cluster: WithCodec(nil): need a codec (registry.Gob is the default)")
		}
		c.codec = codec
		return nil
	}
}

// WithConcurrency sets how many tasks a worker runs at once; the default is
// GOMAXPROCS. n must be at least 1. Worker only.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		name := fmt.Sprintf("WithConcurrency(%d)", n)
		if err := c.workerOnly(name); err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("cluster: %s: need at least 1 task at once", name)
		}
		c.concurrency = n
		return nil
	}
}

// WithAckWait sets how long JetStream waits for a sign of life from a
// worker before giving its task to another worker; the default is 30s. A
// running task sends an in-progress heartbeat every d/3, so long tasks are
// not redelivered while their worker lives. d must be positive. Worker
// only; Python's RQ has job timeouts but no counterpart of this.
func WithAckWait(d time.Duration) Option {
	return func(c *config) error {
		name := fmt.Sprintf("WithAckWait(%v)", d)
		if err := c.workerOnly(name); err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("cluster: %s: the wait must be positive", name)
		}
		c.ackWait = d
		return nil
	}
}

// WithMaxDeliver sets how many times a task may be delivered before it
// fails with ErrMaxDeliveries and is dead-lettered; the default is 5. n must
// be at least 1. Worker only (RQ's Retry(max=...) counts retries the same
// way).
func WithMaxDeliver(n int) Option {
	return func(c *config) error {
		name := fmt.Sprintf("WithMaxDeliver(%d)", n)
		if err := c.workerOnly(name); err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("cluster: %s: need at least 1 delivery", name)
		}
		c.maxDeliver = n
		return nil
	}
}

// WithHandler overrides how a worker runs a task; the default is
// registry.Invoke (the functions registered in the worker's binary). A
// worker whose handler runs other names (command jobs, see CommandHandler)
// lists them with WithFunctions. Worker only; Python has no counterpart.
func WithHandler(h Handler) Option {
	return func(c *config) error {
		if err := c.workerOnly("WithHandler"); err != nil {
			return err
		}
		if h == nil {
			return errors.New("cluster: WithHandler(nil): need a handler (registry.Invoke is the default)")
		}
		c.handler = h
		return nil
	}
}

// WithFunctions names the functions a worker runs: it takes tasks of these
// functions only, so tasks of other functions wait for a worker that runs
// them instead of failing here (RQ workers listen on named queues the same
// way). Without it a worker runs every function registered in its binary
// (registry.Names) when Serve starts. Names must not be empty, and at least
// one is needed. Worker only.
func WithFunctions(names ...string) Option {
	return func(c *config) error {
		name := fmt.Sprintf("WithFunctions(%q)", names)
		if err := c.workerOnly(name); err != nil {
			return err
		}
		if len(names) == 0 {
			return errors.New("cluster: WithFunctions(): need at least one function name")
		}
		if slices.Contains(names, "") {
			return fmt.Errorf("cluster: %s: a function name is empty", name)
		}
		c.functions = slices.Clone(names)
		return nil
	}
}

// WithGrace sets how long a worker's running tasks may go on once its ctx
// ends (it stops taking new ones at once); then they are cancelled and
// handed back to the queue for another worker. The default, 0, hands them
// back at once. d must not be negative. Worker only (RQ's warm shutdown
// waits without a bound).
func WithGrace(d time.Duration) Option {
	return func(c *config) error {
		name := fmt.Sprintf("WithGrace(%v)", d)
		if err := c.workerOnly(name); err != nil {
			return err
		}
		if d < 0 {
			return fmt.Errorf("cluster: %s: the grace period must not be negative", name)
		}
		c.grace = d
		return nil
	}
}

// WithName names a worker in `trident cluster status` (RQ's worker name);
// the default is host:pid. Worker only.
func WithName(name string) Option {
	return func(c *config) error {
		opt := fmt.Sprintf("WithName(%q)", name)
		if err := c.workerOnly(opt); err != nil {
			return err
		}
		if name == "" {
			return fmt.Errorf("cluster: %s: the name is empty (host:pid is the default)", opt)
		}
		c.name = name
		return nil
	}
}

// WithInfo adds fields to a worker's status reply (WorkerInfo.Info). The
// map is copied. Worker only; Python has no counterpart.
func WithInfo(info map[string]string) Option {
	return func(c *config) error {
		if err := c.workerOnly("WithInfo"); err != nil {
			return err
		}
		c.info = make(map[string]string, len(info))
		for k, v := range info {
			c.info[k] = v
		}
		return nil
	}
}

// Package threadpool runs Go functions on a bounded set of worker
// goroutines: Python's concurrent.futures.ThreadPoolExecutor for Go.
//
// Why a pool when goroutines are cheap? For the same reasons Python has one:
// to bound how many tasks hit a database, an API or a thread-affine C
// library at once, to get a future per task with Python's cancel semantics,
// to run an initializer once per worker, and to shut everything down in one
// call. Unlike Python's threads, Go's workers run Go code in parallel on all
// cores: there is no GIL, so CPU-bound tasks scale with the worker count.
//
// The pieces:
//
//   - New(opts...) makes a pool: WithWorkers (default min(32, NumCPU+4) as in
//     Python), WithQueueSize, WithIdleTimeout, WithLockOSThread,
//     WithInitializer, WithErrorHandler. Workers start lazily and retire
//     when idle.
//   - Submit(p, ctx, fn) returns a *future.Future[T] (Python's submit).
//     Cancel on a queued future returns true and the task never runs;
//     on a running one it returns false and cancels the task's context.
//     A task whose ctx ends while it is queued resolves as cancelled at
//     once and is skipped by the workers: it never blocks one.
//   - TrySubmit fails at once with ErrQueueFull when a bounded queue is full.
//   - Pool.Go runs a function with no future and no allocation by the pool;
//     a Group (Pool.NewGroup) waits for many of them and keeps the first
//     error, like errgroup.
//   - Map(p, ctx, inputs, fn) yields results in input order, reading the
//     inputs lazily with a bounded window (Python's map submits all at
//     once).
//   - Shutdown(ctx) finishes queued work and waits (Python's
//     shutdown(wait=True)); ShutdownNow cancels every queued task at once
//     (cancel_futures=True). Later submits fail with ErrShutdown.
//   - If an initializer fails, the pool is broken: queued and later submits
//     fail with ErrBrokenPool (Python's BrokenThreadPool), wrapping the cause.
//   - Stats returns cheap counters: submitted, queued, running, completed,
//     failed, cancelled, workers.
//
// A panic in a task is recovered and fails only that task's future with a
// *future.PanicError.
//
// Tasks start in the order they were queued, as in Python, with one
// departure that keeps tiny tasks cheap: when the queue holds at least two
// tasks per worker, a worker takes up to four at once. The ones it has not
// started yet stay available to the other workers: a worker that is woken,
// or finds the queue empty, takes them over first. So a task never waits
// behind a slow one while a worker is idle (Python's idle thread takes the
// next queued task), and ShutdownNow cancels them at once with the rest of
// the queue.
//
// The hot path is a mutex-guarded queue of fixed-size chunks (recycled, so
// memory follows the backlog) with parked workers woken one
// at a time, and no goroutine or closure per task: Submit costs one
// allocation (the future) plus its done channel when a caller has to block
// on it; Go costs none.
package threadpool

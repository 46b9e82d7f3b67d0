// Package procpool runs registered Go functions in a pool of worker
// processes: trident's counterpart of Python's
// concurrent.futures.ProcessPoolExecutor and multiprocessing.Pool.
//
// # Why processes, in Go
//
// Goroutines already run in parallel, so Go does not need processes to get
// around a GIL. It needs them for what goroutines cannot give: a call that
// runs away can be killed; a crash (a cgo segfault, os.Exit, the OOM killer)
// takes down one worker instead of the program; memory that leaks is given
// back when a worker is recycled. The price is the one the Python articles
// describe: starting processes, and encoding every argument and result.
//
// # How it works
//
// Workers are the program itself, re-executed (Go cannot fork safely): put
// Main at the very top of main, and register functions at package level.
//
//	var fib = procpool.Register("fib", func(ctx context.Context, n int) (int, error) {
//		return slowFib(n), nil
//	})
//
//	func main() {
//		procpool.Main() // in a worker, serves calls and never returns
//		pool, err := procpool.New(procpool.WithWorkers(4))
//		...
//		v, err := fib.Submit(pool, ctx, 30).Result(ctx)
//		all, err := future.Results(ctx, fib.Map(pool, ctx, inputs))
//		pool.Shutdown(ctx)
//	}
//
// Main is Python's `if __name__ == "__main__"` guard turned around: Python's
// spawn re-imports the main module and the guard stops the child from
// running the program; here the child re-executes the binary and Main turns
// it into a worker before the program starts. WithWorkerCommand uses another
// binary instead (it must register the same names). In tests, call Main in
// TestMain.
//
// The pool and each worker talk over a dedicated pipe pair (fd 3 and 4), in
// length-prefixed frames, after a version handshake; stdin, stdout and
// stderr stay the task's own, so a call's prints reach the parent's
// terminal untouched (or line-prefixed with WithPrefixOutput). Arguments and
// results are encoded with gob by default (any registry.Codec works). Each
// worker holds several calls at once (WithInFlight) and runs them one after the
// other, so round trips overlap while one worker still uses one core.
//
// # Differences from Python, on purpose
//
//   - Map chunks automatically: the pool measures how long calls of a
//     function take and sizes chunks to a few milliseconds of work
//     (ChunkSize(1) or ChunkSize(n) to choose). ProcessPoolExecutor.map
//     defaults to chunks of 1, which is why it is slow on small calls.
//   - A crash fails only the call that was running on the dead worker, with
//     a *CrashError (ErrWorkerCrashed) naming the call and the exit status
//     or signal; calls queued behind it are sent again, a replacement worker
//     starts, and WithRetries re-runs the crashed call. WithBreakOnCrash restores
//     Python's BrokenProcessPool. Once a worker has started, a replacement
//     that fails to start is a crash too: the queue is kept and the pool
//     starts another after a growing pause, until WithMaxStartFailures starts
//     in a row have failed (the queued calls then fail with a *StartError).
//   - A call's context deadline is a hard timeout: when it passes while
//     the call is in a worker, the future (typed or raw) fails with a
//     *DeadlineError (context.DeadlineExceeded), every time, and a call that
//     does not return within WithKillGrace has its worker terminated, then
//     killed, and replaced. A call still queued for its first worker is
//     cancelled instead (its error matches context.DeadlineExceeded too). Cancelling a running call's context sends a
//     cancel to the worker, which cancels the call's context there.
//   - Errors cross the boundary typed: a function's error arrives as a
//     *registry.RemoteError that errors.Is matches against registered
//     sentinels; a panic arrives as a *future.PanicError with the worker's
//     stack, and the worker lives on.
//   - Workers die with the parent, even when it is killed with SIGKILL
//     (a parent-death signal set from one locked OS thread, and a worker
//     that exits as soon as its pipe closes). They run in their own process
//     group, so a Ctrl-C reaches the parent only, which then decides.
//   - Many tiny calls are cheap: a chunk's inputs travel as one encoded
//     value, and MapAll (Python's Pool.map) returns a slice without a
//     future per call.
//   - Workers are recycled after WithMaxTasksPerWorker calls, after WithIdleTimeout,
//     or when their memory passes WithMaxMemory.
//
// Shutdown waits for queued work, CancelPending drops it, Close kills now;
// Stats reports per-worker counts, busy time and memory.
package procpool

// Package syncx provides the threading primitives that Python's threading and
// queue modules have and Go's sync package lacks: Event, a reusable Barrier,
// a joinable Queue (FIFO, LIFO and priority), Semaphore and BoundedSemaphore,
// a cancellable Timer, and a Condition whose Wait honours a context.
//
// # Why these, when Go has channels?
//
// Channels cover one-shot signals and simple hand-offs well, but a handful of
// patterns keep being re-written by hand, often with subtle bugs:
//
//   - an Event that can be set, cleared and waited for again (a closed channel
//     cannot be "re-opened");
//   - a Barrier that is reused phase after phase and breaks cleanly when one
//     party gives up;
//   - a Queue whose consumers acknowledge work (TaskDone) so that a producer
//     can Join until everything put has been processed, and which can be shut
//     down so that blocked producers and consumers wake up with an error;
//   - a Condition whose Wait can time out (sync.Condition's cannot);
//   - a Timer whose Cancel says for certain whether the function ran.
//
// # Contexts instead of timeouts
//
// Every call that can block takes a context.Context first, where Python takes
// a timeout. When the context ends the call returns ctx.Err() and leaves the
// primitive consistent: a cancelled Queue.Get takes no item, a cancelled
// Queue.Put inserts none, a cancelled Semaphore.Acquire holds no permit. Use
// context.WithTimeout to get Python's timeout behaviour. Calls that succeed
// without blocking may succeed even when the context is already done, as
// golang.org/x/sync/semaphore does.
//
// # Python's Lock and RLock
//
// threading.Lock is sync.Mutex (TryLock is acquire(blocking=False)). There is
// deliberately no RLock. Go's authors hold that a re-entrant (recursive) lock
// is a design smell: a mutex protects an invariant, and code that runs while
// holding it may assume the invariant is true and then temporarily break it.
// If the same goroutine could lock again, an inner call would run while the
// outer caller has the invariant half-broken. The Go way is to split a
// function into an exported method that locks and an unexported one that
// expects the lock to be held (by convention named fooLocked), so that the
// locking structure is visible in the code. Go also has no goroutine
// identity that a re-entrant lock could key on, on purpose.
//
// # Daemon threads
//
// A Python program waits at exit for every non-daemon thread; daemon threads
// are killed. In Go, every goroutine is a daemon: when main returns the
// process exits, whatever the other goroutines are doing. To get Python's
// non-daemon behaviour, wait explicitly before main returns: a
// sync.WaitGroup, Queue.Join, Timer.Wait, or an errgroup. To get daemon
// behaviour, do nothing, but remember that a goroutine killed at exit runs no
// deferred calls.
//
// # Differences from Python, in short
//
// Constructors validate their input and return an error (Python raises
// ValueError). Errors are sentinel values that work with errors.Is:
// ErrBrokenBarrier, ErrQueueShutdown, ErrQueueEmpty, ErrQueueFull,
// ErrTaskDoneTooMany and ErrReleasedTooMany. Each type's documentation names
// its Python counterpart and says how it differs.
package syncx

import "errors"

var (
	// ErrBrokenBarrier is returned by Barrier.Wait when the barrier is, or
	// becomes, broken: Abort or Reset was called, the action failed, or a
	// waiting party's context ended. Python: threading.BrokenBarrierError.
	ErrBrokenBarrier = errors.New("syncx: barrier is broken")

	// ErrQueueShutdown is returned by Queue operations after Shutdown: by Put
	// always, and by Get once the queue is empty (at once after an immediate
	// shutdown). Python 3.13: queue.ShutDown.
	ErrQueueShutdown = errors.New("syncx: queue is shut down")

	// ErrQueueEmpty is returned by Queue.GetNowait when no item is available.
	// Python: queue.Empty.
	ErrQueueEmpty = errors.New("syncx: queue is empty")

	// ErrQueueFull is returned by Queue.PutNowait when a bounded queue is full.
	// Python: queue.Full.
	ErrQueueFull = errors.New("syncx: queue is full")

	// ErrTaskDoneTooMany is returned by Queue.TaskDone when it is called more
	// times than items were put. Python raises ValueError("task_done() called
	// too many times").
	ErrTaskDoneTooMany = errors.New("syncx: TaskDone called more times than items were put")

	// ErrReleasedTooMany is returned by BoundedSemaphore.Release when the
	// release would raise the value above its initial value. Python raises
	// ValueError("Semaphore released too many times").
	ErrReleasedTooMany = errors.New("syncx: semaphore released too many times")
)

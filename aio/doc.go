// Package aio is an asyncio-style event loop for Go: one coroutine runs at a
// time, tasks are cancelled in a structured way, and time can be virtual.
//
// Go's goroutines already overlap slow waits, so the loop earns its place
// with three things goroutines do not give:
//
//   - One coroutine runs at a time. State shared between the coroutines of a
//     loop needs no mutex and has no data race: control passes from one to
//     the next only at an await, and each hand-off is a happens-before edge,
//     so the race detector agrees.
//   - Cancellation and deadlines are structured. Task.Cancel delivers
//     ErrCancelled at the task's next await, where defer does the cleanup;
//     Timeout cancels exactly what it wraps; a TaskGroup cannot leak a child.
//   - Time can be virtual. Under WithVirtualTime the clock jumps to the next
//     timer whenever every coroutine waits, so a test full of hour-long sleeps
//     and timeouts runs in microseconds, deterministically.
//
// # Coroutines
//
// A coroutine is a Go function that receives a *T, the handle through which
// it awaits. Python's
//
//	async def fetch_data():
//	    await asyncio.sleep(1)
//	    return "data"
//
// is
//
//	func fetchData(t *aio.T) (string, error) {
//	    if err := aio.Sleep(t, time.Second); err != nil {
//	        return "", err // cancelled
//	    }
//	    return "data", nil
//	}
//
// The articles' two ways of writing async code map as follows. Awaiting a
// coroutine directly is a plain call, fetchData(t): the caller pauses until
// it returns, while other tasks keep running. Python's create_task is Go: the
// coroutine is scheduled to run concurrently, the caller continues at once
// and collects the result later with Await.
//
// aio.Run(ctx, main) runs main on a new loop and returns its result.
//
// # Cost
//
// A task takes about 3 KB while it waits (mostly its goroutine's stack;
// CPython needs about 1.5 KB per sleeping task), Sleep allocates nothing,
// and handing control from one coroutine to the next costs about half a
// ping-pong between two goroutines over channels (bench suite aio). How the
// loop runs and why it is built so: DESIGN.md beside this file.
//
// # Leaving the loop
//
// A coroutine must not block: a time.Sleep or a blocking read stops every
// other coroutine of the loop (debug mode, WithDebug, reports it). Blocking
// calls go through ToThread (a goroutine) or RunInExecutor (a thread pool);
// CPU-bound work goes to a process pool, whose *future.Future is awaited
// with Await like any other.
//
// # Streams
//
// TCP streams (OpenConnection, StartServer, NewStream) work as asyncio's
// selector loop does: on Linux, on the real clock, the loop takes each
// socket over and reads, accepts and writes it itself from its own epoll
// instance, with the system calls asyncio makes; elsewhere, on the virtual
// clock, for connections that are not sockets (net.Pipe), and with
// WithoutPoller, each stream reads on a goroutine of its own. What a user
// sees of the difference:
//
//   - A connection handed to NewStream belongs to the stream: on Linux its
//     net.Conn is closed and StreamWriter.Conn returns a stand-in, like
//     asyncio's TransportSocket, that gives addresses and socket options
//     but refuses I/O (ErrOwnedByStream).
//   - Read-ahead stops above twice the reader's Limit and resumes as the
//     coroutine consumes; Drain waits while more than HighWater bytes are
//     unsent.
//   - Use WithoutPoller inside a testing/synctest bubble: a loop waiting in
//     epoll_wait is in a system call, not durably blocked.
//
// # Which Python
//
// aio follows the asyncio of CPython 3.13, where versions differ:
//
//   - Task.Uncancel (Python's uncancel) drops a cancellation not yet
//     delivered when the count reaches zero, so a task whose cancellation
//     was withdrawn before it started runs (3.13; 3.11 and 3.12 only
//     lower the count and still deliver it).
//   - TaskGroup: when children fail while the task is also being cancelled
//     from outside, the errors are returned and the outside cancellation
//     stays pending, delivered at the next await (3.13 uncancels and
//     re-cancels the parent; 3.11 and 3.12 do not).
//   - Condition.Wait: a waiter notified and then cancelled passes the
//     notification on (3.13).
//   - Queue.Shutdown and ErrQueueShutdown are 3.13's Queue.shutdown and
//     QueueShutDown; WithEagerTasks is 3.12's eager_task_factory;
//     AsCompleted yields the waitables themselves, as 3.13's as_completed
//     does when iterated with "async for".
//   - WaitFor is a Timeout scope around Await, as 3.12's wait_for is.
//     3.11's wait_for has a loop of its own but agrees on what is returned,
//     also when the awaited task swallows the timeout's cancellation (its
//     value is returned, not a timeout).
//   - When an expired Timeout scope's body fails with an error other than
//     the cancellation, 3.13 chains a TimeoutError into that exception's
//     context; Go errors have no such context, and TimeoutWith returns the
//     body's error as it is.
//
// The tests compare traces with CPython for the behaviour aio says is as in
// Python: each scenario is a stdlib-only script under testdata/python, run
// with python3, whose output must equal the Go side's. python3 on the
// development machines is 3.11, and every scenario run with it prints the
// same with 3.11.7, 3.12.1 and 3.13.0 (checked by hand). The scenarios of
// features 3.11 lacks (Queue.Shutdown, eager tasks) carry the trace
// recorded from 3.13.0 in the test, and also run live when a Python 3.13
// is found (python3, python3.13, or the interpreter named by
// $TRIDENT_PYTHON313); without one that part is skipped with a message.
//
// The asyncio pieces and where they are: Run and Runner (asyncio.run,
// asyncio.Runner), Go (create_task), Await, Gather, GatherAll, Wait,
// AsCompleted, Shield, Timeout, TimeoutAt and TimeoutWith (asyncio.timeout
// and its reschedule), WaitFor, TaskGroup, Sleep and Yield, Event, Lock,
// Semaphore, Condition, Barrier, Queue (with Shutdown), ToThread and
// RunInExecutor, streams (OpenConnection, StartServer, NewStream) and
// WithEagerTasks.
//
// # Differences from asyncio
//
// Await is a function, not syntax, and every awaiting call can return an
// error, the cancellation among them. A cancellation request is delivered at
// the next await even when what is awaited is already complete. Loop
// methods other than CallSoonThreadsafe and Submit, and Task.Cancel, must be
// called from the loop; the primitives (Event, Lock, Semaphore, Condition,
// Queue) are loop-local and use no OS locks.
package aio

package future

import "errors"

// The errors every executor shares. Each executor has its own error for
// these concepts (threadpool.ErrShutdown, procpool.ErrShutdown,
// cluster.ErrClosed, aio.ErrLoopClosed; threadpool.ErrBrokenPool,
// procpool.ErrBrokenPool), with its own message, and each of them matches
// the shared one under errors.Is, so code that does not care which executor
// ran a task can test for the concept alone.
var (
	// ErrShutdown is matched by the error of work submitted to an executor
	// that is shut down or closed (Python raises RuntimeError "cannot
	// schedule new futures after shutdown").
	ErrShutdown = errors.New("executor is shut down")

	// ErrBroken is matched by the errors of a broken pool, one that can no
	// longer run tasks because a worker failed to start or crashed
	// (Python's concurrent.futures.BrokenExecutor, the base of
	// BrokenThreadPool and BrokenProcessPool).
	ErrBroken = errors.New("executor is broken")
)

// Sentinel returns a new sentinel error with the message msg that also
// matches kind under errors.Is (kind itself is not part of the message).
// Executors use it to give ErrShutdown and ErrBroken a message of their
// own, as in
//
//	var ErrShutdown = future.Sentinel("mypool: pool is shut down", future.ErrShutdown)
//
// Python's executors raise subclasses of a shared exception for the same
// purpose.
func Sentinel(msg string, kind error) error { return &sentinel{msg: msg, kind: kind} }

type sentinel struct {
	msg  string
	kind error
}

func (e *sentinel) Error() string        { return e.msg }
func (e *sentinel) Is(target error) bool { return target == e.kind }

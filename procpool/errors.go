// Errors of the pool, its workers and its tasks.

package procpool

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// ErrShutdown is the error of a call submitted after Shutdown or Close, and
// of calls that Close stopped. Python raises RuntimeError("cannot schedule
// new futures after shutdown") at submit; trident returns a failed future.
// It matches future.ErrShutdown.
var ErrShutdown = registry.RegisterError("procpool.ErrShutdown", future.Sentinel("procpool: pool is shut down", future.ErrShutdown))

// ErrWorkerCrashed is matched by the error of a call whose worker process
// died while running it (exit, signal, the OOM killer, a malformed frame).
// The error is a *CrashError with the details. Unlike Python's
// BrokenProcessPool, it fails only the calls the dead worker was running;
// calls queued behind it in that worker are sent again, and the pool starts
// a replacement (see WithBreakOnCrash for Python's behaviour).
var ErrWorkerCrashed = registry.RegisterError("procpool.ErrWorkerCrashed", errors.New("procpool: worker crashed"))

// ErrBrokenPool is matched by every error of a pool created with
// WithBreakOnCrash after one of its workers crashed: Python's
// BrokenProcessPool. It matches future.ErrBroken.
var ErrBrokenPool = registry.RegisterError("procpool.ErrBrokenPool", future.Sentinel("procpool: pool is broken", future.ErrBroken))

// ErrProtocol is matched by the cause of a crash when a worker broke the
// wire protocol: a malformed frame, a failed handshake, a version mismatch.
var ErrProtocol = registry.RegisterError("procpool.ErrProtocol", errors.New("procpool: protocol error"))

// ErrWorkerStart is matched by the error of calls that failed because no
// worker process could be started (a missing binary, a binary that does not
// call Main, an initializer that failed).
var ErrWorkerStart = registry.RegisterError("procpool.ErrWorkerStart", errors.New("procpool: worker failed to start"))

// StartError is the error of queued calls that the pool gave up on because
// the last Failures worker starts in a row failed, reaching the limit set
// with WithMaxStartFailures, while no worker was alive to run them. It
// matches ErrWorkerStart, and Err (the last start's failure) with errors.Is
// and errors.As. Python has no counterpart: its ProcessPoolExecutor breaks
// for good (BrokenProcessPool) when any worker dies, starting or not, while
// a pool that gave up here tries again on the next submit.
type StartError struct {
	// Failures is how many worker starts failed in a row; Limit is the
	// WithMaxStartFailures limit it reached.
	Failures, Limit int
	// Err is why the last start failed.
	Err error
}

// Error names the limit and the last failure.
func (e *StartError) Error() string {
	return fmt.Sprintf("procpool: gave up on the queued calls after %d worker starts failed in a row (limit %d, WithMaxStartFailures): %v", e.Failures, e.Limit, e.Err)
}

// Is reports whether target is ErrWorkerStart.
func (e *StartError) Is(target error) bool { return target == ErrWorkerStart }

// Unwrap returns the last start's failure.
func (e *StartError) Unwrap() error { return e.Err }

// ErrUnknownFunction is registry.ErrUnknownFunction, the error of a call to
// a name the worker has not registered. The worker is not harmed.
var ErrUnknownFunction = registry.ErrUnknownFunction

// CrashError describes a worker that died while holding a call. It matches
// ErrWorkerCrashed, and its Cause (when set) with errors.Is.
type CrashError struct {
	// Func is the registered name of the call that was running.
	Func string
	// Worker is the pool's number for the worker; PID its process id.
	Worker, PID int
	// ExitCode is the exit status, or -1 when the worker died of a signal.
	ExitCode int
	// Signal is the signal that killed the worker, or 0.
	Signal syscall.Signal
	// Cause is why the pool killed the worker itself (a protocol error, a
	// memory ceiling), or nil when the worker died on its own.
	Cause error
	// Attempts is how many times the call was tried.
	Attempts int
}

// Error describes the crash: which call, which worker, how it ended.
func (e *CrashError) Error() string {
	how := fmt.Sprintf("exit status %d", e.ExitCode)
	if e.Signal != 0 {
		how = "killed by signal " + e.Signal.String()
	}
	s := fmt.Sprintf("procpool: worker %d (pid %d) crashed (%s) while running %q", e.Worker, e.PID, how, e.Func)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (attempt %d)", e.Attempts)
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Is reports whether target is ErrWorkerCrashed.
func (e *CrashError) Is(target error) bool { return target == ErrWorkerCrashed }

// Unwrap returns the cause.
func (e *CrashError) Unwrap() error { return e.Cause }

// DeadlineError is the error of a call that was still running when its
// context's deadline passed: the pool stopped its worker (cancel, then
// SIGTERM, then SIGKILL) and started another. It is also the error of a
// call sent to a worker that had not answered by then, and of a call
// waiting to be sent again after its worker crashed (Worker and PID are 0).
// It matches context.DeadlineExceeded. A call still waiting for its first
// worker when the deadline passes is cancelled instead, its error matching
// future.ErrCancelled and context.DeadlineExceeded. Python's
// ProcessPoolExecutor cannot stop a running call at all.
type DeadlineError struct {
	// Func is the call's registered name; Worker and PID its worker.
	Func        string
	Worker, PID int
}

// Error names the call and the worker.
func (e *DeadlineError) Error() string {
	if e.Worker == 0 {
		return fmt.Sprintf("procpool: %q passed its deadline while waiting to be sent again after a crash", e.Func)
	}
	return fmt.Sprintf("procpool: %q passed its deadline on worker %d (pid %d)", e.Func, e.Worker, e.PID)
}

// Unwrap returns context.DeadlineExceeded.
func (e *DeadlineError) Unwrap() error { return context.DeadlineExceeded }

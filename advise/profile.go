package advise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/trident-go/trident/internal/rusage"
)

// ProfileFunc runs fn n times, one after the other, on a goroutine locked to
// its OS thread, and measures each run's wall time and the thread's CPU time
// (getrusage(RUSAGE_THREAD) on Linux; other systems fall back to the whole
// process) and, on Linux, its run-queue wait. CPU spent by goroutines that
// fn starts is not counted.
//
// It stops at the first error of fn (returned wrapped, with the profile of
// the runs so far) and when ctx ends (ctx.Err()). A panic in fn is returned
// as an error, not re-raised.
//
// Python counterpart: timing a function with time.perf_counter and
// time.thread_time; trident does it for you and keeps every run.
func ProfileFunc(ctx context.Context, fn func(context.Context) error, n int) (Profile, error) {
	p := Profile{What: "func", Cores: runtime.NumCPU()}
	if n < 1 {
		return p, ErrBadRuns
	}
	if fn == nil {
		return p, errors.New("advise: nil function")
	}
	type result struct {
		samples []Sample
		err     error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r result
		defer func() {
			if v := recover(); v != nil {
				r.err = fmt.Errorf("advise: function panicked: %v", v)
			}
			done <- r
		}()
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				r.err = err
				return
			}
			u0, err := rusage.Thread()
			if err != nil {
				r.err = err
				return
			}
			_, q0, schedOK := rusage.ThreadSched()
			busy0, busyOK := machineBusy()
			self0, _ := rusage.Self()
			t0 := time.Now()
			ferr := fn(ctx)
			wall := time.Since(t0)
			u1, err := rusage.Thread()
			if err != nil {
				r.err = err
				return
			}
			d := u1.Sub(u0)
			smp := Sample{Wall: wall, User: d.User, Sys: d.Sys}
			if _, q1, ok := rusage.ThreadSched(); ok && schedOK {
				smp.RunQueue = max(0, q1-q0)
			}
			if busy1, ok := machineBusy(); ok && busyOK {
				self1, _ := rusage.Self()
				smp.Others = max(0, busy1-busy0-self1.Sub(self0).CPU())
			}
			r.samples = append(r.samples, smp)
			if ferr != nil {
				r.err = fmt.Errorf("advise: run %d of the function failed: %w", i+1, ferr)
				return
			}
		}
	}()
	r := <-done
	p.Samples = r.samples
	return p, r.err
}

// CommandError is returned by ProfileCommand when a run of the command fails
// to start or exits with a non-zero status.
type CommandError struct {
	// Argv is the command line.
	Argv []string
	// Run is the 1-based run that failed.
	Run int
	// Err is the underlying error (*exec.ExitError, exec.ErrNotFound, ...).
	Err error
}

// Error names the run and the command that failed, and why.
func (e *CommandError) Error() string {
	return fmt.Sprintf("advise: run %d of %q failed: %v", e.Run, strings.Join(e.Argv, " "), e.Err)
}

// Unwrap returns the underlying error.
func (e *CommandError) Unwrap() error { return e.Err }

// ProfileCommand runs the command argv n times, one after the other, with
// stdin from /dev/null and its output discarded, and measures each run's
// wall time and the child's CPU time from its rusage (wait4), which counts
// all of the child's threads and its waited-for descendants. On Linux it
// also follows the run-queue wait of the command's threads (and of its
// process group's) in /proc/PID/task/TID/schedstat while it runs, reading
// them a last time after the command exits and before it is reaped, and the
// CPU time other programs used meanwhile (/proc/stat).
//
// A run that cannot start or exits non-zero stops the profiling with a
// *CommandError (the profile of the runs so far is returned too). When ctx
// ends, the running child's process group is killed and ctx.Err() returned.
//
// Python counterpart: subprocess.run plus resource.getrusage(RUSAGE_CHILDREN)
// differences, done for you per run.
func ProfileCommand(ctx context.Context, argv []string, n int) (Profile, error) {
	return ProfileCommandIO(ctx, argv, n, nil, nil)
}

// ProfileCommandIO is ProfileCommand with the command's stdout and stderr
// sent to the given writers (nil discards).
func ProfileCommandIO(ctx context.Context, argv []string, n int, stdout, stderr io.Writer) (Profile, error) {
	p := Profile{What: strings.Join(argv, " "), Cores: runtime.NumCPU()}
	if n < 1 {
		return p, ErrBadRuns
	}
	if len(argv) == 0 {
		return p, errors.New("advise: empty command")
	}
	// The measuring goroutine keeps its OS thread, so that the time this
	// thread itself waited for a CPU (starting the command, and waking up
	// when it exits) can be taken out of the command's wall time.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		if stdout != nil {
			cmd.Stdout = stdout
		}
		if stderr != nil {
			cmd.Stderr = stderr
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		busy0, busyOK := machineBusy()
		self0, _ := rusage.Self()
		_, pq0, pqOK := rusage.ThreadSched()
		t0 := time.Now()
		err := cmd.Start()
		var rq, seenRun time.Duration
		wall := time.Duration(0)
		if err == nil {
			s := startRunQueueSampler(cmd.Process.Pid)
			waitExited(cmd.Process.Pid)
			wall = time.Since(t0)
			if _, pq1, ok := rusage.ThreadSched(); ok && pqOK {
				wall -= max(0, min(pq1-pq0, wall/2)) // this thread's own wait for a CPU is not the command's
			}
			rq, seenRun, _ = s.finish()
			err = cmd.Wait()
		} else {
			wall = time.Since(t0)
		}
		if cerr := ctx.Err(); cerr != nil {
			return p, cerr
		}
		if cmd.ProcessState != nil {
			u := rusage.FromProcessState(cmd.ProcessState)
			smp := Sample{Wall: wall, User: u.User, Sys: u.Sys, RunQueue: rq}
			smp.UnseenRunQueue = unfollowedWait(wall, u.CPU(), rq, seenRun)
			smp.RunQueue += smp.UnseenRunQueue
			if busy1, ok := machineBusy(); ok && busyOK {
				self1, _ := rusage.Self()
				smp.Others = max(0, busy1-busy0-u.CPU()-self1.Sub(self0).CPU())
			}
			p.Samples = append(p.Samples, smp)
		}
		if err != nil {
			return p, &CommandError{Argv: argv, Run: i + 1, Err: err}
		}
	}
	return p, nil
}

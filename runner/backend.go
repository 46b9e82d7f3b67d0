package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Backend runs jobs somewhere other than as processes of this machine, such
// as on the workers of a trident cluster (trident run --cluster). Run keeps
// everything else: scheduling and slots, retries, --halt, --timeout,
// keep-order, the joblog and --resume, --results, --json, --files, dry-run,
// --tag and --tagstring, output grouping and --bar/--eta/--progress are the
// same whichever backend runs the jobs.
//
// With Options.Backend nil, Run starts every job as a local process group
// below its supervisor (internal/proctree): the local backend, built in
// because -j auto, --load, --memfree, --nice, streaming output (-u,
// --line-buffer) and the SIGTERM-then-SIGKILL stop need the job's process.
//
// It plays the part of concurrent.futures.Executor.submit for one shell
// command, seen from the runner.
type Backend interface {
	// RunJob runs one job and returns how it ended; Run calls it from a
	// goroutine of its own per job, up to the number of job slots at once.
	// When ctx ends (an interrupt, --halt now, --timeout: then ctx's
	// deadline has passed or its cause is context.DeadlineExceeded), the
	// job must be stopped and RunJob must return soon, with JobEnd.Err
	// saying so unless the job had ended by itself.
	RunJob(ctx context.Context, job JobSpec) JobEnd
}

// JobSpec is one job as a Backend receives it.
type JobSpec struct {
	// Seq is the job's number ({#}, the joblog's Seq).
	Seq int
	// Slot is the job's slot ({%}).
	Slot int
	// Attempt counts the job's runs, from 1 (--retries).
	Attempt int
	// Command is the rendered command line, to run with Shell -c.
	Command string
	// Shell is Options.Shell; "" means /bin/sh.
	Shell string
	// Args are the job's values.
	Args []string
	// Stdin is the job's standard input: its chunk with --pipe and
	// --pipepart (at most --block bytes and a record), else nil.
	Stdin []byte
}

// JobEnd is how a job ended, as its Backend reports it.
type JobEnd struct {
	// Exitval is the command's exit status; -1 when a signal ended it (see
	// Signal) or it could not run (see Err).
	Exitval int
	// Signal is the number of the signal that ended the command, or 0.
	Signal int
	// Stdout and Stderr are the command's output.
	Stdout, Stderr []byte
	// Host names where the job ran (the joblog's Host); "" means ":".
	Host string
	// Start is when the job started; the zero time means when RunJob was
	// called.
	Start time.Time
	// Runtime is how long it ran; 0 means the time RunJob took.
	Runtime time.Duration
	// CPU is the job's CPU time when known (for --json), else 0.
	CPU time.Duration
	// Err is set when the job could not run or did not end by itself (it
	// was stopped, its worker was lost): the job counts as failed, and the
	// error is printed with its stderr.
	Err error
}

// ErrLocalOnly is wrapped by the error Run returns when an option needs
// local processes and Options.Backend is set.
var ErrLocalOnly = errors.New("applies to jobs run as local processes only")

// CheckBackend returns an error (wrapping ErrLocalOnly) naming the first
// option of o that a Backend cannot honour, or nil. Run calls it when
// o.Backend is set; call it first to refuse such options before setting up
// a backend (connecting to a cluster).
func CheckBackend(o Options) error {
	switch {
	case o.MaxLoad > 0:
		return fmt.Errorf("--load: %w (it counts this machine's running processes, not the workers')", ErrLocalOnly)
	case o.MemFree > 0:
		return fmt.Errorf("--memfree: %w (it reads this machine's free memory, not the workers')", ErrLocalOnly)
	case o.Nice != 0:
		return fmt.Errorf("--nice: %w (start the workers under nice instead)", ErrLocalOnly)
	}
	return nil
}

// errStopped is the cause given to a backend job's context when the run
// stops it (interrupt, --halt now).
var errStopped = errors.New("runner: job stopped")

// execBackend runs rj through the Backend and reports on s.results.
func (s *state) execBackend(rj *runningJob) {
	r := &result{rj: rj}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if s.opts.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, s.opts.Timeout)
		defer stop()
	}
	rj.mu.Lock()
	rj.cancel = cancel
	if rj.stopping {
		cancel(errStopped)
	}
	rj.mu.Unlock()
	spec := JobSpec{Seq: rj.p.job.Seq, Slot: rj.slot, Attempt: rj.p.attempt, Command: rj.cmdline,
		Shell: s.opts.Shell, Args: rj.p.job.Args}
	if in := rj.p.job.Input; in != nil {
		b, err := io.ReadAll(in())
		if err != nil {
			r.startErr = err
		}
		spec.Stdin = b
	}
	t0 := time.Now()
	var end JobEnd
	if r.startErr == nil {
		end = s.opts.Backend.RunJob(ctx, spec)
	} else {
		end = JobEnd{Exitval: -1, Err: fmt.Errorf("reading its input: %w", r.startErr)}
	}
	if end.Runtime <= 0 {
		end.Runtime = time.Since(t0)
	}
	if !end.Start.IsZero() {
		rj.start = end.Start
	}
	r.wall, r.usage.User = end.Runtime, end.CPU
	r.exitval, r.signal, r.host = end.Exitval, end.Signal, end.Host
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(context.Cause(ctx), context.DeadlineExceeded)
	if end.Err != nil && r.exitval == 0 && r.signal == 0 {
		r.exitval = -1
		if timedOut {
			r.signal = int(syscall.SIGKILL) // the worker kills the job's group
		}
	}
	out := &spillBuffer{limit: s.opts.SpillLimit}
	errb := &spillBuffer{limit: s.opts.SpillLimit}
	out.Write(end.Stdout)
	errb.Write(end.Stderr)
	if end.Err != nil {
		fmt.Fprintf(errb, "trident run: job %d: %v\n", rj.p.job.Seq, end.Err)
	}
	r.stdout, r.stderr, r.received = out, errb, int64(len(end.Stdout))
	rj.mu.Lock()
	rj.done = true
	if timedOut && !rj.stopping {
		rj.timedOut = true
	}
	r.stopped = rj.stopping && (r.exitval != 0 || r.signal != 0)
	rj.mu.Unlock()
	s.results <- r
}

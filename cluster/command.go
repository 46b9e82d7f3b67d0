package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// CommandFunc is the function name under which command jobs travel. Only
// workers started with CommandHandler (such as `trident worker`) run them; a
// binary that merely calls Serve does not execute shell commands.
const CommandFunc = "trident.command"

// CommandJob is a shell command for a worker, sent by `trident run --cluster`.
type CommandJob struct {
	// Command is run with Shell -c.
	Command string
	// Shell is the shell; "" means /bin/sh.
	Shell string
	// Env is added to the worker's environment (KEY=VALUE).
	Env []string
	// Dir is the working directory on the worker; "" means the worker's.
	Dir string
	// Stdin is fed to the command.
	Stdin []byte
	// Seq is the job's sequence number on the submitting side, for logs.
	Seq int
}

// CommandResult is what a worker reports for a command job.
type CommandResult struct {
	// ExitCode is the command's exit status, -1 when it was killed by a
	// signal (then Signal is its number).
	ExitCode int
	// Signal is the number of the signal that ended the command, or 0.
	Signal int
	// Stdout and Stderr are the command's output.
	Stdout, Stderr []byte
	// Start and End are the worker's wall-clock times.
	Start, End time.Time
	// Worker is the name of the worker that ran it.
	Worker string
	// Delivery is the delivery count of the task (>1 after a redelivery).
	Delivery int
}

// SubmitCommand sends a command job to the workers of ex's queue. A
// deadline on ctx is enforced on the worker, which kills the command's whole
// process group when it passes. A non-zero exit status is a result, not an
// error; errors mean the job could not be run (or was killed).
func SubmitCommand(ctx context.Context, ex *Executor, job CommandJob) *future.Future[CommandResult] {
	b, err := ex.codec.Marshal(job)
	if err != nil {
		return future.Resolved(CommandResult{}, fmt.Errorf("%w: command job: %w", registry.ErrEncode, err))
	}
	raw := ex.SubmitRaw(ctx, CommandFunc, b)
	out := future.New[CommandResult](context.Background())
	raw.OnDone(func() {
		v, err := raw.Result(context.Background())
		if err != nil {
			out.Complete(CommandResult{}, err)
			return
		}
		var r CommandResult
		if uerr := ex.codec.Unmarshal(v, &r); uerr != nil {
			out.Complete(CommandResult{}, fmt.Errorf("%w: command result: %w", registry.ErrDecode, uerr))
			return
		}
		out.Complete(r, nil)
	})
	// Cancelling the returned future cancels the task.
	out.OnDone(func() {
		if out.Cancelled() {
			raw.Cancel()
		}
	})
	return out
}

// CommandHandler returns a Handler that runs command jobs (CommandFunc) and
// passes every other call to next (nil means registry.Invoke with codec).
// A worker takes only the tasks of the functions in WorkerOptions.Functions,
// so list CommandFunc there: []string{CommandFunc} for command jobs only (as
// `trident worker` does), append(registry.Names(), CommandFunc) for both.
func CommandHandler(codec registry.Codec, workerName string, next Handler) Handler {
	if codec == nil {
		codec = registry.Gob
	}
	if next == nil {
		next = func(ctx context.Context, name string, payload []byte) ([]byte, error) {
			return registry.Invoke(ctx, codec, name, payload)
		}
	}
	return func(ctx context.Context, name string, payload []byte) ([]byte, error) {
		if name != CommandFunc {
			return next(ctx, name, payload)
		}
		var job CommandJob
		if err := codec.Unmarshal(payload, &job); err != nil {
			return nil, fmt.Errorf("%w: command job: %w", registry.ErrDecode, err)
		}
		res, err := RunCommand(ctx, job)
		if err != nil {
			return nil, err
		}
		res.Worker = workerName
		res.Delivery = Delivery(ctx)
		b, err := codec.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("%w: command result: %w", registry.ErrEncode, err)
		}
		return b, nil
	}
}

// RunCommand runs job here and now, in its own process group. When ctx
// ends, the whole group is killed and the error wraps ctx's cause
// (context.DeadlineExceeded for a deadline).
func RunCommand(ctx context.Context, job CommandJob) (CommandResult, error) {
	if job.Command == "" {
		return CommandResult{}, errors.New("cluster: empty command")
	}
	shell := job.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", job.Command)
	cmd.Dir = job.Dir
	cmd.Env = append(os.Environ(), job.Env...)
	cmd.Stdin = bytes.NewReader(job.Stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background grandchild holding the output pipes open must not hang us.
	cmd.WaitDelay = 2 * time.Second
	res := CommandResult{Start: time.Now()}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("cluster: starting %q: %w", job.Command, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return res, fmt.Errorf("cluster: command %q killed: %w", job.Command, context.Cause(ctx))
	}
	// Reap anything the command left behind in its group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	res.End = time.Now()
	res.Stdout, res.Stderr = out.Bytes(), errb.Bytes()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("cluster: running %q: %w", job.Command, err)
	}
	return res, nil
}

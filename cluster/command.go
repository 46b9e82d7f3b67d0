package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/internal/proctree"
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

// SubmitCommand sends a command job to the workers of e's queue. A
// deadline on ctx is enforced on the worker, which kills the command's whole
// process group when it passes. A non-zero exit status is a result, not an
// error; errors mean the job could not be run (or was killed). Python has
// no counterpart (RQ enqueues Python callables, not shell commands).
func (e *Executor) SubmitCommand(ctx context.Context, job CommandJob) *future.Future[CommandResult] {
	b, err := e.codec.Marshal(job)
	if err != nil {
		return future.Resolved(CommandResult{}, fmt.Errorf("%w: command job: %w", registry.ErrEncode, err))
	}
	raw := e.submit(ctx, CommandFunc, b, false).Future()
	out, res := future.New[CommandResult](context.Background())
	raw.OnDone(func() {
		v, err := raw.Result(context.Background())
		if err != nil {
			res.Complete(CommandResult{}, err)
			return
		}
		var r CommandResult
		if uerr := e.codec.Unmarshal(v, &r); uerr != nil {
			res.Complete(CommandResult{}, fmt.Errorf("%w: command result: %w", registry.ErrDecode, uerr))
			return
		}
		res.Complete(r, nil)
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
// A worker takes only the tasks of the functions given to WithFunctions,
// so list CommandFunc there: WithFunctions(CommandFunc) for command jobs only
// (as `trident worker` does), WithFunctions(append(registry.Names(),
// CommandFunc)...) for both.
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
// (context.DeadlineExceeded for a deadline). Once the command has ended,
// what is left of its group is killed too.
//
// The command runs below the process-wide supervisor of
// internal/proctree: if this process dies, even by SIGKILL, the command's
// whole process tree is killed (also processes that left its group), so
// a job redelivered to another worker never runs twice at once.
func RunCommand(ctx context.Context, job CommandJob) (CommandResult, error) {
	if job.Command == "" {
		return CommandResult{}, errors.New("cluster: empty command")
	}
	shell := job.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	if sup, err := proctree.Shared(); err == nil {
		return runSupervised(ctx, sup, shell, job)
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

// runSupervised is RunCommand through the supervisor: the same pipes,
// process group and kills as with exec.Cmd (and its WaitDelay).
func runSupervised(ctx context.Context, sup *proctree.Supervisor, shell string, job CommandJob) (CommandResult, error) {
	path, err := exec.LookPath(shell)
	if err != nil {
		return CommandResult{}, fmt.Errorf("cluster: starting %q: %w", job.Command, err)
	}
	var env []string
	if len(job.Env) > 0 {
		env = append(os.Environ(), job.Env...)
	}
	var mine, theirs []*os.File // stdin, stdout, stderr: our ends, the command's ends
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(mine)
			closeAll(theirs)
			return CommandResult{}, fmt.Errorf("cluster: starting %q: %w", job.Command, err)
		}
		if i == 0 {
			mine, theirs = append(mine, w), append(theirs, r)
		} else {
			mine, theirs = append(mine, r), append(theirs, w)
		}
	}
	res := CommandResult{Start: time.Now()}
	proc, err := sup.Spawn(path, []string{shell, "-c", job.Command}, env, job.Dir,
		[]int{int(theirs[0].Fd()), int(theirs[1].Fd()), int(theirs[2].Fd())})
	closeAll(theirs)
	if err != nil {
		closeAll(mine)
		return res, fmt.Errorf("cluster: starting %q: %w", job.Command, err)
	}
	var out, errb bytes.Buffer
	var copying sync.WaitGroup
	copying.Add(3)
	go func() {
		defer copying.Done()
		mine[0].Write(job.Stdin)
		mine[0].Close()
	}()
	for i, b := range []*bytes.Buffer{&out, &errb} {
		go func() {
			defer copying.Done()
			b.ReadFrom(mine[i+1])
		}()
	}
	killed := false
	select {
	case <-proc.Done():
	case <-ctx.Done():
		killed = true
	}
	// Kill the group: all of it when ctx ended, what the command left
	// behind otherwise.
	_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
	ws, _, werr := proc.Wait()
	// A background process that left the group may hold the output pipes
	// open: wait for them no more than exec.Cmd's WaitDelay would.
	copied := make(chan struct{})
	go func() { copying.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		closeAll(mine)
		<-copied
	}
	closeAll(mine)
	if killed {
		return res, fmt.Errorf("cluster: command %q killed: %w", job.Command, context.Cause(ctx))
	}
	if werr != nil {
		return res, fmt.Errorf("cluster: running %q: %w", job.Command, werr)
	}
	res.End = time.Now()
	res.Stdout, res.Stderr = out.Bytes(), errb.Bytes()
	res.ExitCode = ws.ExitStatus()
	if ws.Signaled() {
		res.Signal = int(ws.Signal())
	}
	return res, nil
}

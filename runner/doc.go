// Package runner is the engine of `trident run`: a job runner with GNU
// parallel's everyday interface (input sources, replacement strings, joblog,
// resume, retries, timeouts, halt conditions, grouped or line-buffered
// output) whose default concurrency, -j auto, is measured instead of
// guessed.
//
// The pieces, each usable alone:
//
//	t := runner.ParseTemplate([]string{"gzip", "-k", "{}"})   // command template
//	src, err := runner.NewJobSource(specs, runner.InputOptions{}) // ::: / :::: / stdin
//	sum, err := runner.Run(ctx, runner.Options{Template: t}, src)
//	os.Exit(sum.ExitCode)
//
// # Jobs and commands
//
// Each job is a shell command: the template's words are joined with spaces
// (unquoted: the command is shell code, as in GNU parallel) and its
// replacement strings ({} {.} {/} {//} {/.} {#} {%} {N}) are filled in with
// the job's values, shell-quoted as GNU parallel quotes them. The command
// runs as `/bin/sh -c COMMAND` in its own process group, so a job can be
// stopped whole (SIGTERM to the group, SIGKILL after a grace period, even if
// the job's own process has ended by then).
//
// No process of a job's tree outlives the run: the jobs are started by a
// supervisor process (this binary re-executed once per run; see
// internal/proctree) that is a child subreaper, so even processes that left
// the job's group (setsid, double fork) stay below it. When Run returns, or
// when the process running it dies, even by SIGKILL, the supervisor kills
// every job's group and every process left below it. A background process
// that a job leaves running is therefore killed when the run ends. If the
// supervisor cannot start, Run says so on Stderr and starts the jobs itself.
//
// # Output
//
// By default each job's output is grouped: the job writes its stdout and
// stderr straight into two unlinked temp files (no pipes, no copying while
// it runs), which are streamed out in one piece when the job ends and then
// truncated and reused by later jobs, so memory stays flat for jobs that
// print megabytes. As in GNU parallel, a job ends when its process ends;
// output written later by a background process it left behind is dropped
// (its files are not reused while any process of the job's group lives).
// KeepOrder holds finished jobs until their predecessors are printed (small
// held outputs, up to Options.SpillLimit, move to memory). LineBuffer passes
// whole lines through as they come, through pipes.
//
// # -j auto
//
// The first jobs run with one slot per core while their CPU time (from the
// child's rusage once it ends, or from /proc for all processes of a still
// running job's process group) is set against their wall time; the mean goes
// through advise.Classify. CPU-bound jobs keep one slot per core. Other jobs
// start at the sizing law cores x (1 + wait/compute), bounded by MaxJobs, and
// then hill-climb: while a window of completions per second rises by more
// than 5%, add half as many slots again; when it does not, go back and stay.
// Verbose prints every decision and its reason.
//
// # Backends
//
// Run is one engine with two backends. Scheduling (slots, --delay),
// retries, --halt, --timeout, keep-order, the joblog and resume, --results,
// --json, --files, dry-run, tags and output grouping, and the progress
// displays exist once, here; a backend only runs one job and reports how it
// ended. With Options.Backend nil, jobs are local process groups started by
// the supervisor above (the local backend, built in: -j auto, --load,
// --memfree, --nice, streaming output and the SIGTERM-then-SIGKILL stop need
// the job's process). Any other Backend (trident run --cluster submits each
// job as a cluster command job) gets a JobSpec per job from a goroutine of
// its own and returns a JobEnd (exit status, signal, output bytes, host,
// times). Run cancels the context it gives a job to stop it: on an
// interrupt and --halt now (cause: stopped), and on --timeout (the context's
// deadline, or cause context.DeadlineExceeded for --timeout N%); every
// RunJob has returned when Run does, so no goroutine and no job outlives it.
// With a Backend, -j auto means MaxJobs jobs in flight, -u and
// --line-buffer print each job's output whole when it ends, and --load,
// --memfree and --nice are refused (ErrLocalOnly).
//
// # Joblog and resume
//
// The joblog is GNU parallel's: a header, then per finished job Seq, Host,
// Starttime, JobRuntime, Send, Receive, Exitval, Signal, Command, tab
// separated, written as each job ends. A job stopped by an interrupt or by
// --halt now is not logged, so Resume (skip every job in the log) after an
// interrupted run runs exactly the jobs that did not finish.
//
// Python has no direct counterpart; the closest is
// concurrent.futures.ProcessPoolExecutor.map over subprocess.run calls, with
// the worker count picked by hand.
package runner

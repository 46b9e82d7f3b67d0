package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/trident-go/trident/runner"
)

// runClusterHook runs jobs on a cluster (trident run --cluster URL). It is nil
// in a build without cluster support, and then --cluster fails with "this
// build has no cluster support".
//
// For the cluster backend (helper G): set it from an init function in your own
// file of this package. You receive the parsed options (opts.Template renders
// a job's command line with Template.Render(job.Args, job.Seq, slot); the
// output, joblog, halt, retries and timeout settings are in opts, with
// opts.Stdout/opts.Stderr set to the process's outputs) and the job source
// (call jobs.Next() until io.EOF; jobs.Total() is -1 when unknown; you own
// closing it, as runner.Run does). The --cluster flag's value is
// opts.ClusterURL.
// Return the exit status to use (GNU parallel's rules: failed jobs capped at
// 101) or an error (exit 255). ctx is cancelled on SIGINT/SIGTERM.
var runClusterHook func(ctx context.Context, opts runner.Options, jobs runner.JobSource) (exitCode int, err error)

const runLong = `Run a shell command for each input, in parallel, with GNU parallel's
everyday interface, and -j auto choosing the number of job slots by measuring.

  trident run [OPTIONS] COMMAND [ARGS...] [::: VALUES...] [:::+ VALUES...] [:::: FILES...]

Inputs (one value per job, or all combinations of several sources):
  ::: A B C        values on the command line; several ::: give all combinations
                   (the first source varies slowest)
  :::+ A B C       linked to the previous source: values are paired, not combined;
                   the shortest linked source sets the number of jobs
  :::: FILE...     each file is a source, one value per line ("-" is stdin);
                   ::::+ links like :::+
  -a FILE          same as :::: FILE (may be repeated)
  (none)           one value per line of standard input (a note goes to stderr
                   when that is a terminal)
  -0, --null       values are separated by NUL bytes, not newlines

Replacement strings in COMMAND (values are shell-quoted like GNU parallel does):
  {}  the value          {.}  without extension     {/}  basename
  {//} dirname           {/.} basename w/o ext.     {#}  job number
  {%} job slot           {N}  value of source N, or column N with --colsep
                         ({N.} {N/} {N//} {N/.} also work)
  Without any replacement string (not even {#} or {%}), the values are
  appended to COMMAND.
  The command runs as /bin/sh -c COMMAND (see --shell); a command of plain words
  only (no quotes, $, globs, redirections, builtins) is started directly, which
  means the same to the shell and saves a shell start per job.

Output: each job's stdout and stderr go to temp files (not pipes, not memory)
and are printed whole when the job ends, so jobs never interleave; a job ends
when its process ends (output that a background process it started writes
later is dropped, as in GNU parallel). --line-buffer passes lines through
pipes as they come instead.

Stopping: on SIGINT/SIGTERM, --timeout or --halt now, a job's process group
gets SIGTERM, then SIGKILL after --grace (even if the job's shell has ended).
No process a job starts outlives trident: jobs run below a supervisor process
that kills every job's process tree (groups, and processes that left them
with setsid) when trident ends, even by kill -9. A background process a job
leaves running is killed when the run ends.

-j auto (the default): the first jobs run with one slot per core while their
CPU time is set against their wall time (child rusage, or /proc for running
jobs). CPU-bound jobs keep one slot per core; I/O-bound jobs start at
cores x (1 + wait/compute) slots and then hill-climb on completions per
second, never above --max-jobs. -v prints each choice and why.

--cluster URL: the jobs go to the workers of a trident cluster (trident worker
--cluster URL, on this or other machines). Each job runs on a worker, in the
worker's working directory and environment: no files travel with a job, so
the command must find its inputs there (a shared file system, or absolute
paths that exist on every worker), and outputs stay there, except for its
stdout and stderr, which come back here. If no worker takes a job, or the
server is unreachable, trident run says so on stderr after 10s (set
$TRIDENT_CLUSTER_STALL_WARN to another duration, or to off) and keeps
waiting until the jobs run or it is interrupted.

Exit status (as GNU parallel):
  0        all jobs succeeded (or --halt ...,success=... was reached)
  1-100    that many jobs failed
  101      more than 100 jobs failed
  N        with --halt ...,fail=...: the exit status of the job that triggered it
  130/143  interrupted by SIGINT/SIGTERM (running jobs were stopped and are not
           in the joblog, so --resume runs exactly them)
  255      other errors: bad usage (unknown option, missing command), unreadable
           input file, unwritable joblog

Options:
`

var runCmd = &cobra.Command{
	Use:                "run [OPTIONS] COMMAND [ARGS...] [::: VALUES...]",
	Short:              "Run a command for each input in parallel (GNU parallel compatible, -j auto by measuring)",
	Long:               runLong,
	DisableFlagParsing: true,
	SilenceUsage:       true,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runMain(cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
	},
}

func init() {
	rootCmd.AddCommand(runCmd)
}

type runFlags struct {
	fs                                       *pflag.FlagSet
	jobs, timeout, halt, joblog, results     string
	colsep, shell, cluster                   string
	argFiles                                 []string
	maxJobs, retries                         int
	keep, lineBuf, tag, resume, resumeFailed bool
	bar, dryRun, jsonOut, verbose, null      bool
	help                                     bool
	grace                                    time.Duration
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: pflag.NewFlagSet("run", pflag.ContinueOnError)}
	fs := f.fs
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVarP(&f.jobs, "jobs", "j", "auto", "job slots: auto, N, N% of the cores, +N/-N cores, 0 = as many as --max-jobs")
	fs.IntVar(&f.maxJobs, "max-jobs", runner.DefaultMaxJobs, "upper bound on slots for -j auto and -j 0 (also bounded by the open-file limit)")
	fs.BoolVarP(&f.keep, "keep-order", "k", false, "print outputs in input order")
	fs.BoolVar(&f.lineBuf, "line-buffer", false, "pass output through line by line as it comes (lines never mix)")
	fs.BoolVar(&f.tag, "tag", false, "prefix output lines with the job's values and a TAB")
	fs.StringVar(&f.joblog, "joblog", "", "write GNU parallel's tab-separated joblog to FILE (- for stdout)")
	fs.BoolVar(&f.resume, "resume", false, "skip jobs already in the joblog (needs --joblog)")
	fs.BoolVar(&f.resumeFailed, "resume-failed", false, "skip jobs that succeeded in the joblog, rerun the failed ones")
	fs.IntVar(&f.retries, "retries", 0, "run a failing job up to N times in all")
	fs.StringVar(&f.timeout, "timeout", "", "kill jobs after DURATION (seconds, or 1m30s) or N% of the median job time")
	fs.StringVar(&f.halt, "halt", "never", "stop early: never, soon|now,fail=N|N%, soon|now,success=N|N%")
	fs.BoolVar(&f.bar, "bar", false, "progress bar with ETA on stderr (only when stderr is a terminal)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the commands instead of running them")
	fs.StringVar(&f.results, "results", "", "save each job's stdout, stderr and seq under DIR/1/VALUE1/... (/ in a value is written \\_, \\ as \\\\)")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object per finished job (with its output) instead of the output")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "explain -j auto's choices on stderr")
	fs.StringArrayVarP(&f.argFiles, "arg-file", "a", nil, "read values from FILE (repeatable; like :::: FILE)")
	fs.BoolVarP(&f.null, "null", "0", false, "values are NUL-separated")
	fs.StringVarP(&f.colsep, "colsep", "C", "", "split each value into columns {1} {2} ... by this regular expression (white space around columns is trimmed)")
	fs.StringVar(&f.shell, "shell", "", "shell that runs each command as SHELL -c COMMAND (default /bin/sh; plain-word commands then run without a shell)")
	fs.DurationVar(&f.grace, "grace", runner.DefaultGrace, "time between SIGTERM and SIGKILL when jobs are stopped")
	fs.StringVar(&f.cluster, "cluster", "", "run the jobs on the trident cluster at URL (in the workers' directories; no files travel)")
	fs.BoolVarP(&f.help, "help", "h", false, "show this help")
	return f
}

func runUsage(w io.Writer) {
	fmt.Fprint(w, runLong)
	fmt.Fprint(w, newRunFlags().fs.FlagUsages())
}

// readsStdin reports whether the inputs include standard input.
func readsStdin(specs []runner.InputSpec) bool {
	if len(specs) == 0 {
		return true
	}
	for _, sp := range specs {
		if sp.Kind == runner.FromStdin || (sp.Kind == runner.FromFile && sp.Path == "-") {
			return true
		}
	}
	return false
}

// isSep reports whether a word starts a new input source.
func isSep(a string) bool { return a == ":::" || a == ":::+" || a == "::::" || a == "::::+" }

// parseRunArgs splits the command line into options, command and sources.
func parseRunArgs(args []string) (*runFlags, []string, []runner.InputSpec, error) {
	f := newRunFlags()
	cut := len(args)
	for i, a := range args {
		if isSep(a) {
			cut = i
			break
		}
	}
	if err := f.fs.Parse(args[:cut]); err != nil {
		return f, nil, nil, err
	}
	command := f.fs.Args()
	var specs []runner.InputSpec
	for _, p := range f.argFiles {
		specs = append(specs, runner.InputSpec{Kind: runner.FromFile, Path: p})
	}
	rest := args[cut:]
	for len(rest) > 0 {
		sep := rest[0]
		j := 1
		for j < len(rest) && !isSep(rest[j]) {
			j++
		}
		vals := rest[1:j]
		rest = rest[j:]
		linked := strings.HasSuffix(sep, "+")
		if strings.HasPrefix(sep, "::::") {
			if len(vals) == 0 {
				return f, nil, nil, fmt.Errorf("%s needs at least one file name", sep)
			}
			for k, p := range vals {
				specs = append(specs, runner.InputSpec{Kind: runner.FromFile, Path: p, Linked: linked && k == 0})
			}
			continue
		}
		specs = append(specs, runner.InputSpec{Kind: runner.FromArgs, Values: vals, Linked: linked})
	}
	return f, command, specs, nil
}

func runMain(stdout, stderr io.Writer, args []string) error {
	usageErr := func(format string, a ...any) error {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintln(stderr, "usage: trident run [OPTIONS] COMMAND [ARGS...] [::: VALUES...]  (trident run --help for all)")
		return &exitError{code: 255, msg: "run: " + msg}
	}
	f, command, specs, err := parseRunArgs(args)
	if err != nil {
		return usageErr("%v", err)
	}
	if f.help {
		runUsage(stdout)
		return nil
	}
	if len(command) == 0 {
		return usageErr("missing command")
	}
	opts := runner.Options{
		Template: runner.ParseTemplate(command), MaxJobs: f.maxJobs, KeepOrder: f.keep, LineBuffer: f.lineBuf,
		Tag: f.tag, Joblog: f.joblog, Resume: f.resume, ResumeFailed: f.resumeFailed, Retries: f.retries,
		DryRun: f.dryRun, ResultsDir: f.results, JSON: f.jsonOut, Verbose: f.verbose, Shell: f.shell,
		Grace: f.grace, Stdout: stdout, Stderr: stderr,
	}
	if opts.Slots, err = runner.ParseJobs(f.jobs, 0); err != nil {
		return usageErr("%v", err)
	}
	if f.maxJobs < 1 {
		return usageErr("--max-jobs %d: want at least 1", f.maxJobs)
	}
	if f.retries < 0 {
		return usageErr("--retries %d: want 0 or more", f.retries)
	}
	if f.timeout != "" {
		if opts.Timeout, opts.TimeoutPercent, err = runner.ParseTimeout(f.timeout); err != nil {
			return usageErr("%v", err)
		}
	}
	if opts.Halt, err = runner.ParseHalt(f.halt); err != nil {
		return usageErr("%v", err)
	}
	if f.bar {
		if fd, ok := stderr.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
			opts.Bar = true
		}
	}
	if readsStdin(specs) && term.IsTerminal(int(os.Stdin.Fd())) && !f.help {
		fmt.Fprintln(stderr, "trident run: reading values from the terminal, one per line (Ctrl-D ends them); "+
			"did you mean ::: VALUES, :::: FILE, -a FILE or a pipe?")
	}
	src, err := runner.NewJobSource(specs, runner.InputOptions{Null: f.null, ColSep: f.colsep, Stdin: os.Stdin})
	if err != nil {
		return &exitError{code: 255, msg: "run: " + err.Error()}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var caught atomic.Int32
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case s := <-sigs:
			caught.Store(int32(s.(syscall.Signal)))
			fmt.Fprintf(stderr, "trident run: %v: starting no more jobs, stopping the running ones\n", s)
			cancel()
		case <-stopWatch:
		}
	}()
	defer func() { close(stopWatch); <-watchDone }()

	if f.cluster != "" {
		if runClusterHook == nil {
			src.Close()
			return &exitError{code: 255, msg: "run: --cluster: this build has no cluster support"}
		}
		opts.ClusterURL = f.cluster
		code, err := runClusterHook(ctx, opts, src)
		if err != nil {
			return &exitError{code: 255, msg: "run: " + err.Error()}
		}
		if code != 0 {
			return &exitError{code: code, msg: fmt.Sprintf("run: exit status %d", code)}
		}
		return nil
	}

	sum, err := runner.Run(ctx, opts, src)
	if err != nil {
		return &exitError{code: 255, msg: "run: " + err.Error()}
	}
	if sig := caught.Load(); sig != 0 {
		return &exitError{code: 128 + int(sig), msg: fmt.Sprintf("run: interrupted: %d job(s) finished, %d stopped (not in the joblog; --resume runs them)", sum.Finished, sum.Unfinished)}
	}
	if sum.ExitCode != 0 {
		return &exitError{code: sum.ExitCode, msg: fmt.Sprintf("run: %d of %d job(s) failed", sum.Failed, sum.Finished)}
	}
	return nil
}

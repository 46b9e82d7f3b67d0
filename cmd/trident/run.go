package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/trident-go/trident/runner"
)

// runClusterHook connects to the cluster at url (trident run --cluster URL)
// and returns the runner.Backend that runs the jobs on its workers and the
// function that closes it. It is nil in a build without cluster support, and
// then --cluster fails with "this build has no cluster support".
var runClusterHook func(ctx context.Context, url string, stderr io.Writer) (b runner.Backend, closeFn func(), err error)

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
second, never above --max-jobs. --explain prints each choice and why on stderr
(-v prints each job's command, as GNU parallel's -v).

--cluster URL: the jobs go to the workers of a trident cluster (trident worker
--cluster URL, on this or other machines). Each job runs on a worker, in the
worker's working directory and environment: no files travel with a job, so
the command must find its inputs there (a shared file system, or absolute
paths that exist on every worker), and outputs stay there, except for its
stdout and stderr, which come back here. If no worker takes a job, or the
server is unreachable, trident run says so on stderr after 10s (set
$TRIDENT_CLUSTER_STALL_WARN to another duration, or to off) and keeps
waiting until the jobs run or it is interrupted.
The same engine runs the jobs as locally: -k, --tag, --tagstring, -v, --joblog,
--resume, --retries, --halt, --timeout (enforced on the worker), --results,
--json, --files, --dry-run, --pipe/--pipepart (each chunk travels as the job's
stdin, so memory is bounded by -j x --block), --bar/--eta/--progress and the
input options work the same. Differences: -j N is the number of jobs in flight
(default --max-jobs; each worker's own -j sets how many run on it); -u and
--line-buffer print each job's output whole when it ends (it comes back
whole); a stopped job is killed at once on its worker (the worker's --grace
applies when the worker itself is stopped). Refused, as they describe this
machine, not the workers: --load, --memfree, --nice (start the workers under
nice instead).

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

	// GNU parallel's everyday options (issue 15).
	maxArgs, maxReplArgs, maxLines, maxChars, nice      int
	context, multi, xargs, quote, plus, link, noEmpty   bool
	shuf, ungroup, files, eta, progress, explain, versn bool
	replace, extRepl, baseRepl, dirRepl, baseExtRepl    string
	seqRepl, slotRepl, header, trim, argSep, argFileSep string
	tagString, delay, load, memfree                     string
	pipe, pipePart, roundRobin                          bool
	block, recStart, recEnd                             string
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
	fs.BoolVar(&f.bar, "bar", false, "progress bar on stderr, GNU parallel's \"NN% done:left=ETA values\" (reverse video on a terminal, plain \\r-separated frames otherwise); ends at 100%")
	fs.BoolVar(&f.eta, "eta", false, "print GNU parallel's ETA line (ETA, jobs left, average seconds) on stderr")
	fs.BoolVar(&f.progress, "progress", false, "print GNU parallel's progress line (running/done/average) on stderr")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the commands instead of running them")
	fs.StringVar(&f.results, "results", "", "save each job's stdout, stderr and seq under DIR/1/VALUE1/... (/ in a value is written \\_, \\ as \\\\)")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object per finished job (with its output) instead of the output")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "print each job's command before its output (on stdout, as GNU parallel)")
	fs.BoolVar(&f.explain, "explain", false, "explain -j auto's choices on stderr")
	fs.BoolVarP(&f.ungroup, "ungroup", "u", false, "pass output through as it comes, not grouped per job (lines of jobs may mix)")
	fs.StringVar(&f.tagString, "tagstring", "", "prefix output lines with STR (replacement strings filled in, values unquoted) and a TAB")
	fs.BoolVar(&f.files, "files", false, "save each job's stdout in a file under $TMPDIR and print the file's name instead")
	fs.IntVarP(&f.maxArgs, "max-args", "n", -1, "put up to N values in each job ({} gives them space separated; -n0: one value read, none used)")
	fs.IntVarP(&f.maxReplArgs, "max-replace-args", "N", -1, "like -n, and a word holding {} is repeated per value (context replace); {1}..{N} are the values")
	fs.IntVarP(&f.maxLines, "max-lines", "L", -1, "like -N: N input lines per job (trailing blanks do not join lines)")
	fs.BoolVarP(&f.context, "X", "X", false, "as many values per job as the line length allows, spread over the job slots, with context replace")
	fs.BoolVarP(&f.multi, "m", "m", false, "as many values per job as the line length allows, spread over the job slots ({} gives them space separated)")
	fs.BoolVar(&f.xargs, "xargs", false, "as many values per job as the line length allows, not spread over the slots (like xargs)")
	fs.IntVarP(&f.maxChars, "max-chars", "s", 0, "longest command line for -X, -m, --xargs (default: 128 KiB minus the environment, as GNU parallel)")
	fs.StringVarP(&f.replace, "replace", "I", "", "use STR instead of {} (then {} and {N} are plain text)")
	fs.StringVar(&f.extRepl, "extensionreplace", "", "use STR instead of {.}")
	fs.StringVar(&f.baseRepl, "basenamereplace", "", "use STR instead of {/}")
	fs.StringVar(&f.dirRepl, "dirnamereplace", "", "use STR instead of {//}")
	fs.StringVar(&f.baseExtRepl, "basenameextensionreplace", "", "use STR instead of {/.}")
	fs.StringVar(&f.seqRepl, "seqreplace", "", "use STR instead of {#}")
	fs.StringVar(&f.slotRepl, "slotreplace", "", "use STR instead of {%}")
	fs.BoolVar(&f.plus, "plus", false, "more replacement strings: {##} jobs in all, {+/} dir part, {+.} {+..} {+...} extensions, {..} {...} {/..} {/...} without them")
	fs.BoolVarP(&f.quote, "quote", "q", false, "quote each command word: run the words as given, not as shell code")
	fs.BoolVar(&f.link, "link", false, "pair the sources up instead of combining them; shorter sources wrap around")
	fs.BoolVar(&f.link, "xapply", false, "same as --link")
	fs.StringVar(&f.header, "header", "", "take the first value of each source as column names for {NAME} (: or a line count; 0: :::: file names)")
	fs.StringVar(&f.trim, "trim", "", "trim white space around values: n, l, r or lr (default lr with --colsep, n without)")
	fs.StringVar(&f.argSep, "arg-sep", ":::", "use STR instead of ::: (and STR+ instead of :::+)")
	fs.StringVar(&f.argFileSep, "arg-file-sep", "::::", "use STR instead of :::: (and STR+ instead of ::::+)")
	fs.BoolVarP(&f.noEmpty, "no-run-if-empty", "r", false, "skip values that are empty or white space only")
	fs.BoolVar(&f.shuf, "shuf", false, "run the jobs in random order (reads all input first; {#} stays each job's number)")
	fs.StringVar(&f.delay, "delay", "", "wait DURATION between job starts (seconds, or 250ms)")
	fs.StringVar(&f.load, "load", "", "start no job while this many processes are running on the machine (procs_running)")
	fs.StringVar(&f.memfree, "memfree", "", "start no job while less than SIZE memory is available (MemAvailable; k/K m/M g/G suffixes)")
	fs.IntVar(&f.nice, "nice", 0, "run the jobs with this niceness (through nice -n)")
	fs.BoolVar(&f.pipe, "pipe", false, "cut stdin into chunks of --block at record boundaries and give each job one chunk on its stdin (with -N N: N records per job; -L N: N-line records)")
	fs.BoolVar(&f.pipePart, "pipepart", false, "like --pipe, but cut the file of -a FILE by seeking: each job reads its byte range itself")
	fs.StringVar(&f.block, "block", "1M", "chunk size for --pipe/--pipepart (k/K m/M g/G suffixes); memory stays about -j x --block")
	fs.StringVar(&f.recStart, "recstart", "", "records start with STR (--pipe, --pipepart)")
	fs.StringVar(&f.recEnd, "recend", "", "records end with STR (default a newline when neither --recstart nor --recend is given)")
	fs.BoolVar(&f.roundRobin, "roundrobin", false, "with --pipe: start one job per slot and give each the next chunk as soon as it has read its last")
	fs.BoolVarP(&f.versn, "version", "V", false, "print trident's version and exit")
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

// seps are the words that start an input source: ::: and :::: (or their
// --arg-sep and --arg-file-sep replacements), with an optional +.
type seps struct{ arg, file string }

func (s seps) is(a string) bool {
	a = strings.TrimSuffix(a, "+")
	return a == s.arg || a == s.file
}

// findSeps reads --arg-sep and --arg-file-sep ahead of the flag parser,
// which needs to know where the options end.
func findSeps(fs *pflag.FlagSet, args []string) seps {
	s := seps{":::", "::::"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || (!strings.HasPrefix(a, "-") && a != "") {
			break
		}
		if takesValue(fs, a) && a != "--arg-sep" && a != "--arg-file-sep" {
			i++ // its value (-j 2, --cluster URL) is not the command
			continue
		}
		for _, o := range []struct {
			name string
			p    *string
		}{{"--arg-sep", &s.arg}, {"--arg-file-sep", &s.file}} {
			if v, ok := strings.CutPrefix(a, o.name+"="); ok {
				*o.p = v
			} else if a == o.name && i+1 < len(args) {
				*o.p = args[i+1]
				i++
			}
		}
	}
	return s
}

// takesValue reports whether a is an option whose value is the next word
// (--name or -x of a flag that is not a boolean, without =VALUE).
func takesValue(fs *pflag.FlagSet, a string) bool {
	var fl *pflag.Flag
	switch {
	case strings.Contains(a, "="):
		return false
	case strings.HasPrefix(a, "--"):
		fl = fs.Lookup(a[2:])
	case len(a) == 2:
		fl = fs.ShorthandLookup(a[1:])
	}
	return fl != nil && fl.NoOptDefVal == ""
}

// parseRunArgs splits the command line into options, command and sources.
func parseRunArgs(args []string) (*runFlags, []string, []runner.InputSpec, error) {
	f := newRunFlags()
	sp := findSeps(f.fs, args)
	cut := len(args)
	for i := 0; i < len(args); i++ {
		if a := args[i]; a == "--arg-sep" || a == "--arg-file-sep" {
			i++ // its value is not a separator
			continue
		}
		if sp.is(args[i]) {
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
		for j < len(rest) && !sp.is(rest[j]) {
			j++
		}
		vals := rest[1:j]
		rest = rest[j:]
		linked := strings.HasSuffix(sep, "+")
		if strings.TrimSuffix(sep, "+") == sp.file {
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
	if f.versn {
		printVersion(stdout)
		return nil
	}
	if len(command) == 0 {
		return usageErr("missing command")
	}
	opts := runner.Options{
		MaxJobs: f.maxJobs, KeepOrder: f.keep, LineBuffer: f.lineBuf,
		Tag: f.tag, Joblog: f.joblog, Resume: f.resume, ResumeFailed: f.resumeFailed, Retries: f.retries,
		DryRun: f.dryRun, ResultsDir: f.results, JSON: f.jsonOut, Verbose: f.verbose, Explain: f.explain, Shell: f.shell,
		Grace: f.grace, Stdout: stdout, Stderr: stderr, Bar: f.bar, ETA: f.eta, Progress: f.progress,
		Ungroup: f.ungroup, Files: f.files, Shuf: f.shuf, Nice: f.nice,
	}
	if opts.Slots, err = runner.ParseJobs(f.jobs, 0); err != nil {
		return usageErr("%v", err)
	}
	if err := f.gnuOptions(&opts, command); err != nil {
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
	if readsStdin(specs) && !f.pipePart && term.IsTerminal(int(os.Stdin.Fd())) && !f.help {
		fmt.Fprintln(stderr, "trident run: reading values from the terminal, one per line (Ctrl-D ends them); "+
			"did you mean ::: VALUES, :::: FILE, -a FILE or a pipe?")
	}
	var src runner.JobSource
	if f.pipe || f.pipePart {
		src, err = f.pipeSource(&opts, specs, stderr)
	} else {
		src, err = runner.NewJobSource(specs, runner.InputOptions{Null: f.null, ColSep: f.colsep, Stdin: os.Stdin,
			Link: f.link, Header: f.header, Trim: f.trim, NoRunIfEmpty: f.noEmpty})
	}
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
		errw := &lockedWriter{w: stderr}
		opts.Stderr = errw
		err := runner.CheckBackend(opts)
		if err == nil {
			var closeBackend func()
			opts.Backend, closeBackend, err = runClusterHook(ctx, f.cluster, errw)
			if err == nil {
				defer closeBackend()
			}
		}
		if err != nil {
			src.Close()
			return &exitError{code: 255, msg: "run: --cluster: " + err.Error()}
		}
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

// gnuOptions checks GNU parallel's everyday options and sets them in opts,
// with the command's template.
func (f *runFlags) gnuOptions(opts *runner.Options, command []string) error {
	fs := f.fs
	g := &opts.Group
	if f.pipe || f.pipePart {
		// -N and -L count records of the chunks (see pipeSource).
		for _, n := range []string{"max-args", "X", "m", "xargs", "max-chars", "header", "shuf", "link"} {
			if fs.Changed(n) {
				return fmt.Errorf("--%s cannot be used with --pipe or --pipepart", n)
			}
		}
	}
	counts := 0
	for _, c := range []struct {
		name    string
		v       int
		context bool
	}{{"max-args", f.maxArgs, false}, {"max-replace-args", f.maxReplArgs, true}, {"max-lines", f.maxLines, true}} {
		if !fs.Changed(c.name) {
			continue
		}
		counts++
		if c.v < 0 {
			return fmt.Errorf("--%s %d: want 0 or more", c.name, c.v)
		}
		if f.pipe || f.pipePart {
			continue
		}
		g.MaxArgs, g.Zero = c.v, c.v == 0
		f.context = f.context || c.context
	}
	if counts > 1 {
		return fmt.Errorf("use only one of -n, -N and -L")
	}
	modes := 0
	for _, b := range []bool{fs.Changed("X"), f.multi, f.xargs} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return fmt.Errorf("use only one of -X, -m and --xargs")
	}
	if fs.Changed("X") || f.multi || f.xargs {
		g.Multi = true
		if !f.xargs && g.MaxArgs == 0 {
			g.Spread = opts.Slots
			if g.Spread <= 0 {
				g.Spread = runtime.NumCPU()
			}
		}
	}
	if fs.Changed("max-chars") {
		if f.maxChars < 1 {
			return fmt.Errorf("--max-chars %d: want at least 1", f.maxChars)
		}
		g.MaxChars = f.maxChars
	}
	topt := runner.TemplateOptions{Plus: f.plus, Quote: f.quote, Context: f.context, Replace: f.replace,
		ExtensionReplace: f.extRepl, BasenameReplace: f.baseRepl, DirnameReplace: f.dirRepl,
		BasenameExtensionReplace: f.baseExtRepl, SeqReplace: f.seqRepl, SlotReplace: f.slotRepl}
	if fs.Changed("replace") && f.replace == "" {
		return fmt.Errorf("-I: want a replacement string")
	}
	var err error
	if opts.Template, err = runner.ParseTemplateWith(command, topt); err != nil {
		return err
	}
	if fs.Changed("tagstring") {
		topt.Quote, topt.Context = false, false
		t, err := runner.ParseTemplateWith([]string{f.tagString}, topt)
		if err != nil {
			return err
		}
		opts.TagString = &t
	}
	if err := runner.ParseTrim(f.trim); err != nil {
		return err
	}
	if f.argSep == "" || f.argFileSep == "" || f.argSep == f.argFileSep {
		return fmt.Errorf("--arg-sep %q and --arg-file-sep %q: want two different, non-empty words", f.argSep, f.argFileSep)
	}
	if f.delay != "" {
		if opts.Delay, err = runner.ParseDelay(f.delay); err != nil {
			return err
		}
	}
	if f.load != "" {
		l, err := strconv.ParseFloat(strings.TrimSuffix(f.load, "%"), 64)
		if err != nil || l <= 0 || math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("--load %q: want a positive number of running processes", f.load)
		}
		if strings.HasSuffix(f.load, "%") {
			l = l * float64(runtime.NumCPU()) / 100
		}
		opts.MaxLoad = l
	}
	if f.memfree != "" {
		if opts.MemFree, err = runner.ParseSize(f.memfree); err != nil {
			return fmt.Errorf("--memfree: %v", err)
		}
	}
	if f.nice < -20 || f.nice > 19 {
		return fmt.Errorf("--nice %d: want -20 to 19", f.nice)
	}
	if f.ungroup && (f.keep || f.lineBuf) {
		return fmt.Errorf("-u cannot be used with -k or --line-buffer")
	}
	return nil
}

// pipeSource builds the job source of --pipe and --pipepart.
func (f *runFlags) pipeSource(opts *runner.Options, specs []runner.InputSpec, stderr io.Writer) (runner.JobSource, error) {
	block, err := runner.ParseSize(f.block)
	if err != nil || block < 1 || block > 1<<31-1 {
		return nil, fmt.Errorf("--block %q: want a size from 1 byte to 2G", f.block)
	}
	po := runner.PipeOptions{Input: os.Stdin, Block: block, RecStart: f.recStart, RecEnd: f.recEnd, RoundRobin: f.roundRobin,
		Warn: func(msg string) { fmt.Fprintln(stderr, "trident run: warning:", msg) }}
	if f.fs.Changed("max-replace-args") {
		if f.maxReplArgs < 1 {
			return nil, fmt.Errorf("-N %d with --pipe: want at least 1 record", f.maxReplArgs)
		}
		po.Records = f.maxReplArgs
	}
	if f.fs.Changed("max-lines") {
		if f.maxLines < 1 {
			return nil, fmt.Errorf("-L %d with --pipe: want at least 1 line", f.maxLines)
		}
		po.Lines = f.maxLines
	}
	if f.pipePart {
		if len(specs) != 1 || specs[0].Kind != runner.FromFile || specs[0].Path == "-" {
			return nil, fmt.Errorf("--pipepart needs exactly one file: -a FILE (or :::: FILE)")
		}
		po.PartFile = specs[0].Path
	} else if len(specs) > 0 {
		return nil, fmt.Errorf("--pipe reads stdin: no ::: or -a sources (use --pipepart -a FILE for a file)")
	}
	slots := opts.Slots
	if slots <= 0 {
		slots = runtime.NumCPU()
	}
	opts.Piped = true
	return runner.NewPipeSource(po, slots)
}

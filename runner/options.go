package runner

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Options configure Run. The zero value (plus a Template) runs with -j auto,
// grouped output to os.Stdout/os.Stderr, /bin/sh.
type Options struct {
	// Template is the command to run for each job.
	Template Template
	// Slots is the fixed number of job slots (-j N); 0 means -j auto.
	Slots int
	// MaxJobs bounds the slots -j auto may use (--max-jobs); 0 means
	// DefaultMaxJobs (further bounded by the open-file limit).
	MaxJobs int
	// KeepOrder prints outputs in input order (-k).
	KeepOrder bool
	// LineBuffer passes output through line by line as it comes (whole
	// lines never mix) instead of grouping it per job (--line-buffer).
	LineBuffer bool
	// Tag prefixes each output line with the job's arguments and a TAB.
	Tag bool
	// Joblog is the joblog file path (--joblog); "" for none, "-" for stdout.
	Joblog string
	// Resume skips the jobs already in the joblog (--resume).
	Resume bool
	// ResumeFailed skips the jobs that succeeded in the joblog and reruns the
	// failed ones (--resume-failed).
	ResumeFailed bool
	// Retries is the total number of attempts of a failing job (--retries);
	// 0 and 1 both mean a single attempt.
	Retries int
	// Timeout kills a job running longer (--timeout DURATION); 0 = none.
	Timeout time.Duration
	// TimeoutPercent kills a job running longer than this percentage of the
	// median runtime of the jobs done so far (--timeout N%); 0 = none. It
	// applies once 3 jobs have succeeded.
	TimeoutPercent float64
	// Halt says when to stop early (--halt).
	Halt Halt
	// DryRun prints the commands instead of running them (--dry-run).
	DryRun bool
	// ResultsDir saves each job's stdout, stderr and seq under it
	// (--results), in GNU parallel's DIR/1/ARG1/2/ARG2/ layout.
	ResultsDir string
	// JSON prints one JSON object per finished job instead of its output.
	JSON bool
	// Verbose prints each job's command line before its output, as part of
	// it (-v, as GNU parallel's).
	Verbose bool
	// Explain explains -j auto's choices on Stderr (--explain).
	Explain bool
	// Bar shows GNU parallel's progress bar on Stderr (--bar): reverse
	// video on a terminal, plain "NN% done:left=ETA command" frames (each
	// starting with a carriage return, the last ending with a newline)
	// otherwise, so that it can be piped.
	Bar bool
	// ETA prints GNU parallel's "ETA: Ns Left: N AVG: N.NNs" line on Stderr
	// as jobs finish (--eta).
	ETA bool
	// Progress prints GNU parallel's progress line (running, done, average
	// time) on Stderr as jobs finish (--progress).
	Progress bool
	// TagString prefixes each output line with the rendered template (its
	// values unquoted) and a TAB instead of Tag's values (--tagstring).
	TagString *Template
	// Ungroup passes the jobs' output straight through as it comes, without
	// grouping or line buffering (-u): faster, but lines of different jobs
	// may mix.
	Ungroup bool
	// Files saves each job's stdout to a file under os.TempDir() and prints
	// that file's name instead of the output (--files).
	Files bool
	// Group gathers several values into each job (-n, -N, -X, -m, --xargs,
	// -L, -s).
	Group Grouping
	// Shuf runs the jobs in random order (--shuf); all input is read
	// first. Each job keeps its number ({#}, the joblog's Seq).
	Shuf bool
	// Delay waits this long between job starts (--delay).
	Delay time.Duration
	// MaxLoad, when above 0, starts no new job while the number of running
	// processes of the machine (procs_running of /proc/stat, on Linux) is
	// at or above it (--load).
	MaxLoad float64
	// MemFree, when above 0, starts no new job while MemAvailable of
	// /proc/meminfo is below it, in bytes (--memfree).
	MemFree int64
	// Nice runs each job with this niceness, through nice(1) (--nice).
	Nice int
	// Piped says the jobs read their Job.Input on stdin (--pipe,
	// --pipepart; see NewPipeSource): the command gets no values appended.
	Piped bool
	// Shell runs each command as Shell -c COMMAND; "" means /bin/sh, and
	// then a command of plain words only (no shell syntax at all) is started
	// directly, without a shell, which means the same and costs half.
	Shell string
	// Grace is how long a job has between SIGTERM and SIGKILL when it is
	// stopped (interrupt, --halt now, --timeout); 0 means DefaultGrace.
	Grace time.Duration
	// Stdout and Stderr receive the jobs' output and the runner's messages;
	// nil means discard.
	Stdout, Stderr io.Writer
	// SpillLimit is how many bytes of one job's output are kept in memory
	// before the rest goes to a temp file (with LineBuffer), or how much of a
	// -k job's output waiting for its turn is moved from its file to memory;
	// 0 means DefaultSpillLimit.
	SpillLimit int
	// Backend runs the jobs; nil means as local processes (see Backend).
	// With a Backend, Slots 0 (-j auto) means MaxJobs jobs in flight (the
	// backend's workers bring their own concurrency); MaxLoad, MemFree and
	// Nice are refused (ErrLocalOnly); LineBuffer and Ungroup print each
	// job's output whole when it ends, since it arrives whole.
	Backend Backend
	// Cores is the core count -j auto and -j N% use; 0 means
	// runtime.NumCPU().
	Cores int
}

// Defaults of Options.
const (
	DefaultMaxJobs    = 1024
	DefaultGrace      = 2 * time.Second
	DefaultSpillLimit = 64 << 10
)

// HaltWhen says how to stop on --halt.
type HaltWhen int

// The --halt modes.
const (
	// HaltNever runs every job.
	HaltNever HaltWhen = iota
	// HaltSoon stops starting jobs and waits for the running ones.
	HaltSoon
	// HaltNow kills the running jobs at once.
	HaltNow
)

// Halt is a parsed --halt condition.
type Halt struct {
	// When is never, soon or now.
	When HaltWhen
	// OnSuccess halts on successes instead of failures.
	OnSuccess bool
	// Count halts after this many failures (or successes); 0 when Percent
	// is used.
	Count int
	// Percent halts when this percentage of all jobs failed (or succeeded);
	// it needs the job total (or at least 3 finished jobs when the total is
	// unknown).
	Percent float64
}

// ParseHalt parses GNU parallel's --halt values: "never", "soon,fail=N",
// "now,success=N%", ..., and the old numeric forms 0 (never), 1 (soon,fail=1)
// and 2 (now,fail=1).
func ParseHalt(s string) (Halt, error) {
	switch s {
	case "", "0", "never":
		return Halt{}, nil
	case "1":
		return Halt{When: HaltSoon, Count: 1}, nil
	case "2":
		return Halt{When: HaltNow, Count: 1}, nil
	}
	when, cond, ok := strings.Cut(s, ",")
	var h Halt
	switch when {
	case "soon":
		h.When = HaltSoon
	case "now":
		h.When = HaltNow
	default:
		return h, fmt.Errorf("--halt %q: want never, soon,COND or now,COND", s)
	}
	if !ok {
		return h, fmt.Errorf("--halt %q: missing fail=N or success=N after %q", s, when)
	}
	kind, val, ok := strings.Cut(cond, "=")
	switch kind {
	case "fail":
	case "success":
		h.OnSuccess = true
	default:
		return h, fmt.Errorf("--halt %q: condition must be fail=N or success=N", s)
	}
	if !ok || val == "" {
		return h, fmt.Errorf("--halt %q: missing a number after %s=", s, kind)
	}
	if p, isPct := strings.CutSuffix(val, "%"); isPct {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
			return h, fmt.Errorf("--halt %q: percentage must be in (0, 100]", s)
		}
		h.Percent = f
		return h, nil
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return h, fmt.Errorf("--halt %q: count must be a positive integer", s)
	}
	h.Count = n
	return h, nil
}

// ParseJobs parses -j: "auto" (0), "N" (N slots; 0 means as many as
// --max-jobs allows), "N%" (of the cores, at least 1), "+N" and "-N" (cores
// plus or minus N, at least 1). It returns the slot count, 0 for auto, or -1
// for "as many as allowed".
func ParseJobs(s string, cores int) (int, error) {
	if cores < 1 {
		cores = runtime.NumCPU()
	}
	switch {
	case s == "auto" || s == "":
		return 0, nil
	case strings.HasSuffix(s, "%"):
		f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e6 {
			return 0, fmt.Errorf("-j %q: want a positive percentage of the cores", s)
		}
		return max(1, int(float64(cores)*f/100)), nil
	case strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-"):
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("-j %q: want +N or -N cores", s)
		}
		if s[0] == '+' {
			return cores + n, nil
		}
		return max(1, cores-n), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("-j %q: want auto, N, N%%, +N or -N", s)
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

// ParseSize parses a size as GNU parallel's --block and --memfree take it:
// a number with an optional suffix, k m g t p for powers of 1000, K M G T P
// for powers of 1024, and a trailing b or B ignored ("1M", "10k", "1.5G").
func ParseSize(s string) (int64, error) {
	v := strings.TrimRight(s, "bB")
	mult := 1.0
	if v != "" {
		if i := strings.IndexByte("kmgtp", v[len(v)-1]); i >= 0 {
			mult = math.Pow(1000, float64(i+1))
			v = v[:len(v)-1]
		} else if i := strings.IndexByte("KMGTP", v[len(v)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			v = v[:len(v)-1]
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional k/K, m/M, g/G, t/T or p/P suffix", s)
	}
	return int64(f * mult), nil
}

// ParseDelay parses --delay: seconds ("0.5", as GNU parallel takes it) or a
// Go duration ("250ms").
func ParseDelay(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
			return 0, fmt.Errorf("--delay %q: want 0 or more seconds", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--delay %q: want seconds or a duration like 250ms", s)
	}
	return d, nil
}

// ParseTimeout parses --timeout: "N%" (of the median job time), a Go
// duration ("1m30s") or plain seconds ("2.5", as GNU parallel takes it).
func ParseTimeout(s string) (d time.Duration, percent float64, err error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, 0, fmt.Errorf("--timeout %q: want a positive percentage", s)
		}
		return 0, f, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
			return 0, 0, fmt.Errorf("--timeout %q: want a positive number of seconds", s)
		}
		return time.Duration(f * float64(time.Second)), 0, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("--timeout %q: want seconds, a duration like 1m30s, or N%%", s)
	}
	return d, 0, nil
}

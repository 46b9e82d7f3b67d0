package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/runner"
)

func init() { runClusterHook = runOnCluster }

// clusterInFlight bounds the jobs queued at once by trident run --cluster
// when -j is not given; workers bring their own concurrency.
const clusterInFlight = 1000

// runOnCluster is trident run --cluster URL: the submitting side. Jobs go to
// the queue as command jobs; workers (trident worker) run them; results come
// back here, where output, the joblog, retries, --timeout and --resume are
// handled as in a local run.
func runOnCluster(ctx context.Context, opts runner.Options, src runner.JobSource) (int, error) {
	defer src.Close()
	switch {
	case opts.TimeoutPercent > 0:
		return 0, errors.New("--cluster: --timeout N% is not supported; give a duration")
	case opts.ResultsDir != "", opts.JSON, opts.LineBuffer:
		return 0, errors.New("--cluster: --results, --json and --line-buffer are not supported yet")
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	// The stall watcher writes too, from its own goroutine.
	stderr = &lockedWriter{w: stderr}
	stallAfter, stallOff, err := cluster.ParseStallAfter(os.Getenv("TRIDENT_CLUSTER_STALL_WARN"))
	if err != nil {
		return 0, fmt.Errorf("$TRIDENT_CLUSTER_STALL_WARN: %w", err)
	}
	f := clusterFlags{url: opts.ClusterURL, timeout: 5 * time.Second}
	co, err := f.options()
	if err != nil {
		return 0, err
	}

	skip, err := resumeSet(opts)
	if err != nil {
		return 0, err
	}
	var joblog io.Writer
	if opts.Joblog != "" {
		jl, closeJL, err := openJoblog(opts, stdout)
		if err != nil {
			return 0, err
		}
		defer closeJL()
		joblog = jl
	}
	if opts.DryRun {
		for {
			job, err := src.Next()
			if err == io.EOF {
				return 0, nil
			}
			if err != nil {
				return 0, err
			}
			if !skip[job.Seq] {
				fmt.Fprintln(stdout, opts.Template.Render(job.Args, job.Seq, 1))
			}
		}
	}

	// haltCtx ends the in-flight jobs on --halt now (and on an interrupt).
	ctx, haltNow := context.WithCancel(ctx)
	defer haltNow()
	conn, err := cluster.Connect(ctx, co)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ex, err := cluster.NewExecutor(ctx, conn, cluster.ExecutorOptions{Queue: f.queueName()})
	if err != nil {
		return 0, err
	}
	defer ex.Close()
	// Say so when nothing moves (no worker runs command jobs, the server
	// is gone) instead of waiting in silence; keep waiting.
	if !stallOff {
		stopWatch := cluster.WatchStalls(ctx, ex, cluster.StallOptions{After: stallAfter, Function: cluster.CommandFunc,
			Report: func(msg string) { fmt.Fprintf(stderr, "trident run: %s\n", msg) }})
		defer stopWatch()
	}

	limit := opts.Slots
	if limit <= 0 {
		limit = clusterInFlight
	}
	type done struct {
		job     runner.Job
		cmdline string
		attempt int
		res     cluster.CommandResult
		err     error
	}
	results := make(chan done, limit)
	inFlight := 0
	submit := func(job runner.Job, cmdline string, attempt int) {
		jctx, cancel := ctx, context.CancelFunc(func() {})
		if opts.Timeout > 0 {
			jctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		}
		fut := cluster.SubmitCommand(jctx, ex, cluster.CommandJob{Command: cmdline, Shell: opts.Shell, Seq: job.Seq})
		inFlight++
		fut.OnDone(func() {
			cancel()
			r, err := fut.Result(context.Background())
			results <- done{job, cmdline, attempt, r, err}
		})
	}

	// Output in completion order, or input order with -k.
	nextOut := 1
	held := map[int]done{}
	failed, finished, unfinished, succeeded := 0, 0, 0, 0
	halted, haltCode := false, 0
	total := src.Total()
	checkHalt := func(d done, bad bool) {
		h := opts.Halt
		if h.When == runner.HaltNever || halted || bad == h.OnSuccess {
			return
		}
		n := failed
		if h.OnSuccess {
			n = succeeded
		}
		hit := false
		switch {
		case h.Count > 0:
			hit = n >= h.Count
		case total > 0:
			hit = float64(n)*100/float64(total) >= h.Percent
		case finished >= 3:
			hit = float64(n)*100/float64(finished) >= h.Percent
		}
		if !hit {
			return
		}
		halted = true
		if !h.OnSuccess {
			haltCode = d.res.ExitCode
			if d.res.Signal != 0 {
				haltCode = 128 + d.res.Signal
			}
			if d.err != nil || haltCode < 0 || haltCode > 255 {
				haltCode = 255
			}
		}
		mode := "waiting for the running jobs"
		if h.When == runner.HaltNow {
			mode = "stopping the running jobs"
			haltNow()
		}
		what := "failed"
		if h.OnSuccess {
			what = "succeeded"
		}
		fmt.Fprintf(stderr, "trident run: --halt: %d job(s) %s (last: job %d: %s); starting no more jobs, %s\n", n, what, d.job.Seq, d.cmdline, mode)
	}
	emit := func(d done) {
		tag := ""
		if opts.Tag {
			tag = strings.Join(d.job.Args, " ") + "\t"
		}
		writeTagged(stdout, tag, d.res.Stdout)
		writeTagged(stderr, tag, d.res.Stderr)
		if d.err != nil {
			fmt.Fprintf(stderr, "trident run: job %d: %v\n", d.job.Seq, d.err)
		}
	}
	finish := func(d done) {
		finished++
		e := runner.JoblogEntry{Seq: d.job.Seq, Host: d.res.Worker, Start: d.res.Start, Runtime: d.res.End.Sub(d.res.Start),
			Receive: int64(len(d.res.Stdout)), Exitval: d.res.ExitCode, Signal: d.res.Signal, Command: d.cmdline}
		if d.err != nil {
			e.Exitval, e.Signal = -1, 0
			if errors.Is(d.err, context.DeadlineExceeded) {
				e.Signal = int(syscall.SIGKILL)
			}
			if e.Start.IsZero() {
				e.Start = time.Now()
			}
		}
		if e.Failed() {
			failed++
		} else {
			succeeded++
		}
		defer checkHalt(d, e.Failed())
		if joblog != nil {
			io.WriteString(joblog, e.String())
		}
		if !opts.KeepOrder {
			emit(d)
			return
		}
		held[d.job.Seq] = d
		for {
			h, ok := held[nextOut]
			if !ok {
				break
			}
			delete(held, nextOut)
			emit(h)
			nextOut++
		}
	}
	handle := func(d done) {
		inFlight--
		if ctx.Err() != nil && d.err != nil && future.IsCancelled(d.err) && !errors.Is(d.err, context.DeadlineExceeded) {
			unfinished++
			return
		}
		bad := d.err != nil || d.res.ExitCode != 0 || d.res.Signal != 0
		if bad && d.attempt < opts.Retries && ctx.Err() == nil && !halted {
			submit(d.job, d.cmdline, d.attempt+1)
			return
		}
		finish(d)
	}

	var srcErr error
	for ctx.Err() == nil && !halted {
		for inFlight >= limit {
			handle(<-results)
		}
		if halted || ctx.Err() != nil {
			break
		}
		job, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			srcErr = err
			break
		}
		if skip[job.Seq] {
			if opts.KeepOrder {
				held[job.Seq] = done{job: job}
				for h, ok := held[nextOut]; ok; h, ok = held[nextOut] {
					delete(held, nextOut)
					emit(h)
					nextOut++
				}
			}
			continue
		}
		submit(job, opts.Template.Render(job.Args, job.Seq, 1), 1)
	drain:
		for {
			select {
			case d := <-results:
				handle(d)
			default:
				break drain
			}
		}
	}
	for inFlight > 0 {
		handle(<-results)
	}
	if opts.KeepOrder { // jobs after a gap left by an interrupt
		for _, d := range held {
			emit(d)
		}
	}
	if srcErr != nil {
		return 0, srcErr
	}
	st := ex.Stats()
	if st.Duplicates > 0 || st.Redelivered > 0 {
		fmt.Fprintf(stderr, "trident run: %d job(s) redelivered after a worker failure, %d duplicate result(s) ignored\n", st.Redelivered, st.Duplicates)
	}
	if halted {
		return haltCode, nil
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "trident run: interrupted: %d job(s) finished, %d stopped (not in the joblog; --resume runs them)\n", finished, unfinished)
		return 130, nil
	}
	return min(failed, 101), nil
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func writeTagged(w io.Writer, tag string, b []byte) {
	if len(b) == 0 {
		return
	}
	if tag == "" {
		w.Write(b)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		fmt.Fprintf(w, "%s%s\n", tag, sc.Bytes())
	}
}

// resumeSet returns the job numbers --resume (or --resume-failed) skips.
func resumeSet(opts runner.Options) (map[int]bool, error) {
	skip := map[int]bool{}
	if !(opts.Resume || opts.ResumeFailed) || opts.Joblog == "" || opts.Joblog == "-" {
		return skip, nil
	}
	fh, err := os.Open(opts.Joblog)
	if errors.Is(err, os.ErrNotExist) {
		return skip, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	defer fh.Close()
	es, err := runner.ReadJoblog(fh)
	if err != nil {
		return nil, fmt.Errorf("--resume: joblog %s: %w", opts.Joblog, err)
	}
	for _, e := range es {
		if opts.Resume || !e.Failed() {
			skip[e.Seq] = true
		}
	}
	return skip, nil
}

// openJoblog opens the joblog for appending (--resume) or anew, writing the
// header to a new or empty file.
func openJoblog(opts runner.Options, stdout io.Writer) (io.Writer, func(), error) {
	if opts.Joblog == "-" {
		io.WriteString(stdout, runner.JoblogHeader)
		return stdout, func() {}, nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if opts.Resume || opts.ResumeFailed {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	fh, err := os.OpenFile(opts.Joblog, flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--joblog: %w", err)
	}
	if st, err := fh.Stat(); err == nil && st.Size() == 0 {
		io.WriteString(fh, runner.JoblogHeader)
	}
	return fh, func() { fh.Close() }, nil
}

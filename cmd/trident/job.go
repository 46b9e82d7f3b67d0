package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/registry"
)

// The durable job queue from the command line: trident enqueue, trident job
// show|result|cancel|list|requeue|worker|scheduler|schedule.

// openJobs connects with f and opens the job queue; the returned func
// closes the connection.
func openJobs(ctx context.Context, f *clusterFlags) (*cluster.Jobs, func(), error) {
	o, err := f.options()
	if err != nil {
		return nil, nil, err
	}
	conn, err := cluster.Connect(ctx, o)
	if err != nil {
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	q, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	return q, conn.Close, nil
}

// jobOptionFlags are the per-job flags of trident enqueue and trident job
// schedule add.
type jobOptionFlags struct {
	at, in, timeout, resultTTL, failureTTL string
	dependsOn                              []string
	allowFailure                           bool
	retry                                  int
	retryIntervals                         []string
	retryBackoff                           string
	unique, id                             string
}

func (jf *jobOptionFlags) register(cmd *cobra.Command, schedule bool) {
	fs := cmd.Flags()
	if !schedule {
		fs.StringVar(&jf.at, "at", "", "run at this time (RFC 3339, e.g. 2026-12-24T08:00:00Z)")
		fs.StringVar(&jf.in, "in", "", "run after this delay (e.g. 90s, 2h)")
		fs.StringSliceVar(&jf.dependsOn, "depends-on", nil, "run after these job IDs finish (cancelled if one fails)")
		fs.BoolVar(&jf.allowFailure, "allow-failure", false, "with --depends-on: run even if a dependency failed")
		fs.StringVar(&jf.unique, "unique", "", "refuse to enqueue while a job with this key is pending")
		fs.StringVar(&jf.id, "id", "", "job ID (default: a fresh unique one)")
	}
	fs.IntVar(&jf.retry, "retry", 0, "retry a failed job this many times")
	fs.StringSliceVar(&jf.retryIntervals, "retry-intervals", nil, "waits before each retry, e.g. 10s,1m,5m (the last repeats)")
	fs.StringVar(&jf.retryBackoff, "retry-backoff", "", "exponential backoff with jitter from this wait (e.g. 1s), instead of --retry-intervals")
	fs.StringVar(&jf.timeout, "timeout", "", "kill a run that takes longer (e.g. 10m)")
	fs.StringVar(&jf.resultTTL, "result-ttl", "", "keep a finished job this long (default 24h; -1s: forever)")
	fs.StringVar(&jf.failureTTL, "failure-ttl", "", "keep a failed or cancelled job this long (default 168h; -1s: forever)")
}

func parseDur(flag, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: %w", flag, v, err)
	}
	return d, nil
}

func (jf *jobOptionFlags) options() (cluster.JobOptions, error) {
	o := cluster.JobOptions{ID: jf.id, DependsOn: jf.dependsOn, AllowFailure: jf.allowFailure, UniqueKey: jf.unique}
	var err error
	if jf.at != "" {
		if o.At, err = time.Parse(time.RFC3339, jf.at); err != nil {
			return o, fmt.Errorf("--at %q: want an RFC 3339 time such as 2026-12-24T08:00:00Z: %w", jf.at, err)
		}
	}
	for _, p := range []struct {
		flag, v string
		dst     *time.Duration
	}{{"in", jf.in, &o.In}, {"timeout", jf.timeout, &o.Timeout}, {"result-ttl", jf.resultTTL, &o.ResultTTL}, {"failure-ttl", jf.failureTTL, &o.FailureTTL}} {
		if *p.dst, err = parseDur(p.flag, p.v); err != nil {
			return o, err
		}
	}
	if jf.retry < 0 {
		return o, fmt.Errorf("--retry %d: want 0 or more", jf.retry)
	}
	if jf.retry > 0 {
		p := &cluster.RetryPolicy{Max: jf.retry}
		for _, s := range jf.retryIntervals {
			d, err := parseDur("retry-intervals", s)
			if err != nil {
				return o, err
			}
			p.Intervals = append(p.Intervals, d)
		}
		if jf.retryBackoff != "" {
			if p.Base, err = parseDur("retry-backoff", jf.retryBackoff); err != nil {
				return o, err
			}
			p.Jitter = true
		}
		o.Retry = p
	} else if len(jf.retryIntervals) > 0 || jf.retryBackoff != "" {
		return o, errors.New("--retry-intervals and --retry-backoff need --retry N")
	}
	return o, nil
}

func init() {
	var f clusterFlags
	var jf jobOptionFlags
	var fn, arg string
	enqueueCmd := &cobra.Command{
		Use:   "enqueue --cluster URL [options] (-- COMMAND [ARGS...] | --func NAME --arg JSON)",
		Short: "Enqueue a durable job and print its ID (then walk away)",
		Long: `Enqueue a command, or a call of a function registered in the workers'
binary with a JSON argument, as a durable job; print its ID at once. The
job's state and result are kept in JetStream (see trident job show/result)
whether or not this process is still there. Command jobs are run by
trident job worker; a non-zero exit status fails the job.`,
		Example: `  id=$(trident enqueue --cluster nats://127.0.0.1:4222 -- make report)
  trident job result --cluster nats://127.0.0.1:4222 --wait $id`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := jf.options()
			if err != nil {
				return err
			}
			o.Queue = f.queueName()
			if (fn == "") == (len(args) == 0) {
				return errors.New("give a command after -- or --func NAME (not both)")
			}
			if fn == "" && arg != "" {
				return errors.New("--arg needs --func")
			}
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			var id string
			if fn != "" {
				if arg == "" {
					arg = "null"
				}
				if !json.Valid([]byte(arg)) {
					return fmt.Errorf("--arg %q is not valid JSON", arg)
				}
				o.Codec = registry.JSON
				id, err = q.EnqueueRaw(ctx, cluster.JobSpec{Func: fn, Arg: []byte(arg), Opts: o})
			} else {
				id, err = q.EnqueueCommand(ctx, cluster.CommandJob{Command: shellJoin(args)}, o)
			}
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	f.register(enqueueCmd.Flags())
	jf.register(enqueueCmd, false)
	enqueueCmd.Flags().StringVar(&fn, "func", "", "registered function to call (instead of a command)")
	enqueueCmd.Flags().StringVar(&arg, "arg", "", "its argument, as JSON")
	rootCmd.AddCommand(enqueueCmd)

	jobCmd := &cobra.Command{Use: "job", Short: "Look at and act on durable jobs (show, result, cancel, list, requeue, worker, scheduler)"}
	jobCmd.AddCommand(jobShowCmd(), jobResultCmd(), jobCancelCmd(), jobListCmd(), jobRequeueCmd(), jobWorkerCmd(), jobSchedulerCmd(), jobScheduleCmd())
	rootCmd.AddCommand(jobCmd)
}

// shellJoin makes one shell command line of args: a single argument is
// taken as a command line as is, several are quoted.
func shellJoin(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func jobShowCmd() *cobra.Command {
	var f clusterFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show --cluster URL ID",
		Short: "Print a job's state, times, attempts, result or error, and timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			j, err := q.Job(ctx, args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(j)
			}
			printJob(cmd.OutOrStdout(), j)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the record as JSON")
	return cmd
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

func printJob(w io.Writer, j *cluster.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nstate\t%s\nqueue\t%s\n", j.ID, j.State, j.Queue)
	if c, ok := j.Command(); ok {
		fmt.Fprintf(tw, "command\t%s\n", c.Command)
	} else {
		fmt.Fprintf(tw, "function\t%s\nargument\t%s\n", j.Func, argText(j.Codec, j.Arg))
	}
	fmt.Fprintf(tw, "enqueued\t%s\n", fmtTime(j.EnqueuedAt))
	if !j.RunAt.IsZero() {
		fmt.Fprintf(tw, "run at\t%s\n", fmtTime(j.RunAt))
	}
	fmt.Fprintf(tw, "started\t%s\nended\t%s\nworker\t%s\nattempts\t%d\n", fmtTime(j.StartedAt), fmtTime(j.EndedAt), j.Worker, j.Attempts)
	if j.Retries > 0 {
		fmt.Fprintf(tw, "retries\t%d\n", j.Retries)
	}
	if len(j.DependsOn) > 0 {
		fmt.Fprintf(tw, "depends on\t%s\n", strings.Join(j.DependsOn, ", "))
	}
	if r, ok := j.CommandResult(); ok {
		fmt.Fprintf(tw, "exit status\t%d\n", r.ExitCode)
	} else if j.State == cluster.JobFinished {
		fmt.Fprintf(tw, "result\t%s\n", argText(j.Codec, j.Result))
	}
	if j.Error != nil {
		fmt.Fprintf(tw, "error\t%s\n", j.Error.Message)
	}
	tw.Flush()
	if j.Error != nil && j.Error.Stack != "" {
		fmt.Fprintf(w, "stack:\n%s\n", j.Error.Stack)
	}
	if j.Error != nil && j.Error.StderrTail != "" {
		fmt.Fprintf(w, "stderr (end):\n%s\n", strings.TrimRight(j.Error.StderrTail, "\n"))
	}
	fmt.Fprintln(w, "timeline:")
	for _, ev := range j.Timeline {
		line := "  " + fmtTime(ev.At) + "  " + string(ev.State)
		if ev.Worker != "" {
			line += "  on " + ev.Worker
		}
		if ev.Note != "" {
			line += "  (" + ev.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
}

func argText(codec string, b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if codec == registry.JSON.Name() {
		return string(b)
	}
	return fmt.Sprintf("(%d bytes, %s)", len(b), codec)
}

func jobResultCmd() *cobra.Command {
	var f clusterFlags
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "result --cluster URL [--wait] ID",
		Short: "Print a job's result (a command's output, with its exit status)",
		Long: `Print a finished job's result: a function's JSON result on stdout, or a
command's stdout and stderr, exiting with the command's status. A failed job
prints its error and exits 1 (a failed command: its output and status); a
cancelled one exits 1. Without --wait, a job that has not ended exits 2.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			if timeout > 0 {
				var c context.CancelFunc
				ctx, c = context.WithTimeout(ctx, timeout)
				defer c()
			}
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			var j *cluster.Job
			if wait {
				j, err = q.Wait(ctx, args[0])
			} else {
				j, err = q.Job(ctx, args[0])
			}
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if !j.State.Final() {
				return &exitError{code: 2, msg: fmt.Sprintf("job %s is %s (use --wait to wait for it)", j.ID, j.State)}
			}
			if r, ok := j.CommandResult(); ok {
				cmd.OutOrStdout().Write(r.Stdout)
				cmd.ErrOrStderr().Write(r.Stderr)
				if r.ExitCode != 0 {
					return &exitError{code: r.ExitCode, msg: ""}
				}
				return nil
			}
			if err := j.Outcome(); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Fprintln(cmd.OutOrStdout(), argText(j.Codec, j.Result))
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the job ends")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long")
	return cmd
}

func jobCancelCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "cancel --cluster URL ID...",
		Short: "Cancel jobs: a waiting one never runs, a running one is stopped",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			var failed []string
			for _, id := range args {
				if err := q.Cancel(ctx, id); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed = append(failed, id)
				}
			}
			if len(failed) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("not cancelled: %s", strings.Join(failed, " "))}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func jobListCmd() *cobra.Command {
	var f clusterFlags
	var state, prefix string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --cluster URL [--state S] [--queue Q] [--prefix P] [--limit N]",
		Short: "List jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter := cluster.JobFilter{Queue: f.queue, IDPrefix: prefix, Limit: limit}
			if state != "" {
				st, err := cluster.ParseJobState(state)
				if err != nil {
					return err
				}
				filter.State = st
			}
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			jobs, err := q.ListJobs(ctx, filter)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(jobs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tQUEUE\tENQUEUED\tATTEMPTS\tWHAT")
			for _, j := range jobs {
				what := j.Func
				if c, ok := j.Command(); ok {
					what = c.Command
				}
				if len(what) > 60 {
					what = what[:57] + "..."
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", j.ID, j.State, j.Queue, fmtTime(j.EnqueuedAt), j.Attempts, what)
			}
			return tw.Flush()
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state (queued, scheduled, deferred, started, finished, failed, cancelled)")
	cmd.Flags().StringVar(&prefix, "prefix", "", "only jobs whose ID starts with this")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON records")
	return cmd
}

func jobRequeueCmd() *cobra.Command {
	var f clusterFlags
	var allFailed bool
	cmd := &cobra.Command{
		Use:   "requeue --cluster URL (ID... | --all-failed)",
		Short: "Put failed or cancelled jobs back in their queue",
		RunE: func(cmd *cobra.Command, args []string) error {
			if allFailed == (len(args) > 0) {
				return errors.New("give job IDs or --all-failed (not both)")
			}
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			if allFailed {
				n, err := q.RequeueFailed(ctx, f.queueName())
				fmt.Fprintf(cmd.OutOrStdout(), "requeued %d failed job(s)\n", n)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				return nil
			}
			var failed []string
			for _, id := range args {
				if err := q.Requeue(ctx, id); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed = append(failed, id)
				}
			}
			if len(failed) > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("not requeued: %s", strings.Join(failed, " "))}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&allFailed, "all-failed", false, "requeue every failed job (of --queue, if given)")
	return cmd
}

func jobWorkerCmd() *cobra.Command {
	var f clusterFlags
	var n int
	var name, metrics string
	var ackWait, startedAfter time.Duration
	cmd := &cobra.Command{
		Use:   "worker --cluster URL [-j N] [--queue high,default,low] [--metrics ADDR]",
		Short: "Run durable command jobs (and functions registered in this binary)",
		Long: `Run durable jobs until interrupted, N at a time. --queue lists queues in
priority order: a job of a later queue runs only when the earlier ones have
none ready. A worker killed mid-job has its job run again by another worker
after --ack-wait; each job ends exactly once. --metrics serves Prometheus
metrics on ADDR (/metrics): queue depths, jobs ended by state, retries,
run and wait time histograms. Logs go to stderr (log/slog text).
A job is recorded as started once it has run --started-after (a job that
ends sooner goes from queued to its final state in one write, which is
what makes small jobs cheap); --started-after=-1s records every job as
started before it runs, as RQ does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return fmt.Errorf("-j %d: want 1 or more (0 means one per core)", n)
			}
			if n == 0 {
				n = runtime.NumCPU()
			}
			var queues []string
			if qn := f.queueName(); qn != "" {
				queues = strings.Split(qn, ",")
			}
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			o := cluster.JobWorkerOptions{Queues: queues, Concurrency: n, Name: name, AckWait: ackWait, StartedAfter: startedAfter,
				Functions: append(registry.Names(), cluster.CommandFunc), Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))}
			if metrics != "" {
				o.Metrics = cluster.NewJobMetrics(q)
				ln, err := net.Listen("tcp", metrics)
				if err != nil {
					return fmt.Errorf("--metrics %s: %w", metrics, err)
				}
				mux := http.NewServeMux()
				mux.Handle("/metrics", o.Metrics.Handler())
				srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
				go srv.Serve(ln)
				defer srv.Close()
				fmt.Fprintf(cmd.ErrOrStderr(), "trident job worker: metrics on http://%s/metrics\n", ln.Addr())
			}
			if err := cluster.ServeJobs(ctx, q, o); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVarP(&n, "jobs", "j", 0, "run this many jobs at once (0: one per core)")
	cmd.Flags().StringVar(&name, "name", "", "worker name in job records (default host:pid)")
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9108")
	cmd.Flags().DurationVar(&ackWait, "ack-wait", 30*time.Second, "how long a silent worker keeps its job before another takes it")
	cmd.Flags().DurationVar(&startedAfter, "started-after", cluster.DefaultStartedAfter, "record a job as started once it has run this long (negative: before it runs)")
	return cmd
}

func jobSchedulerCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "scheduler --cluster URL",
		Short: "Enqueue the jobs of periodic schedules, once per period (several may run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &f)
			if err != nil {
				return err
			}
			defer closeConn()
			return cluster.RunScheduler(ctx, q, cluster.SchedulerOptions{})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func jobScheduleCmd() *cobra.Command {
	sched := &cobra.Command{Use: "schedule", Short: "Add, list or remove periodic jobs (cron syntax)"}
	var af clusterFlags
	var jf jobOptionFlags
	var fn, arg string
	add := &cobra.Command{
		Use:   "add --cluster URL NAME CRON (-- COMMAND... | --func NAME --arg JSON)",
		Short: "Add or replace a periodic job, e.g. add nightly '0 3 * * *' -- make backup",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := jf.options()
			if err != nil {
				return err
			}
			s := cluster.Schedule{Name: args[0], Cron: args[1], Queue: af.queueName(), Retry: o.Retry, Timeout: o.Timeout,
				ResultTTL: o.ResultTTL, FailureTTL: o.FailureTTL}
			rest := args[2:]
			if (fn == "") == (len(rest) == 0) {
				return errors.New("give a command after -- or --func NAME (not both)")
			}
			if fn != "" {
				if arg == "" {
					arg = "null"
				}
				if !json.Valid([]byte(arg)) {
					return fmt.Errorf("--arg %q is not valid JSON", arg)
				}
				s.Func, s.Arg, s.Codec = fn, []byte(arg), registry.JSON.Name()
			} else {
				s.Command = &cluster.CommandJob{Command: shellJoin(rest)}
			}
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &af)
			if err != nil {
				return err
			}
			defer closeConn()
			if err := q.AddSchedule(ctx, s); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	af.register(add.Flags())
	jf.register(add, true)
	add.Flags().StringVar(&fn, "func", "", "registered function to call (instead of a command)")
	add.Flags().StringVar(&arg, "arg", "", "its argument, as JSON")

	var lf clusterFlags
	list := &cobra.Command{
		Use:   "list --cluster URL",
		Short: "List the periodic jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &lf)
			if err != nil {
				return err
			}
			defer closeConn()
			ss, err := q.Schedules(ctx)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCRON\tQUEUE\tWHAT")
			for _, s := range ss {
				what := s.Func
				if s.Command != nil {
					what = s.Command.Command
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Cron, orDefault(s.Queue), what)
			}
			return tw.Flush()
		},
	}
	lf.register(list.Flags())

	var rf clusterFlags
	rm := &cobra.Command{
		Use:   "rm --cluster URL NAME...",
		Short: "Remove periodic jobs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			q, closeConn, err := openJobs(ctx, &rf)
			if err != nil {
				return err
			}
			defer closeConn()
			for _, n := range args {
				if err := q.RemoveSchedule(ctx, n); err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
			}
			return nil
		},
	}
	rf.register(rm.Flags())
	sched.AddCommand(add, list, rm)
	return sched
}

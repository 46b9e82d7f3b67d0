package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trident-go/trident/internal/proctree"
	"github.com/trident-go/trident/internal/rusage"
)

// Summary is what a run did.
type Summary struct {
	// Finished counts the jobs that ran to their end (and are in the joblog).
	Finished int
	// Failed counts the finished jobs with a non-zero exit or a signal.
	Failed int
	// Skipped counts the jobs skipped because the joblog had them (--resume).
	Skipped int
	// Unfinished counts jobs stopped by an interrupt or --halt now: they are
	// not in the joblog, so --resume runs them again.
	Unfinished int
	// Interrupted is true when ctx ended before all jobs ran.
	Interrupted bool
	// Halted is true when a --halt condition stopped the run.
	Halted bool
	// ExitCode is the exit status GNU parallel would give: the number of
	// failed jobs capped at 101; with --halt on failures, the exit status of
	// the job that triggered it; with --halt on successes, 0.
	ExitCode int
}

// ErrNoCommand is returned when the template has no command text.
var ErrNoCommand = errors.New("runner: no command given")

type pending struct {
	job     Job
	attempt int
	order   int
}

type runningJob struct {
	p       pending
	slot    int
	cmdline string
	start   time.Time

	mu        sync.Mutex
	pid       int
	done      bool
	stopping  bool // we asked it to stop (interrupt / halt now)
	timedOut  bool
	killTimer *time.Timer
	killed    chan struct{} // closed once the group got its SIGKILL
	// backend is set for a job run by Options.Backend: it is stopped by
	// cancelling its context (cancel, nil until it runs), not by signals.
	backend bool
	cancel  context.CancelCauseFunc
}

// stop sends SIGTERM to the job's process group now and SIGKILL after grace,
// whether or not the job's own process has ended by then: a process of its
// group that ignores SIGTERM must not outlive the stop (GNU parallel kills
// it too).
func (rj *runningJob) stop(grace time.Duration, timeout bool) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.done || rj.stopping || rj.timedOut {
		return
	}
	if timeout {
		rj.timedOut = true
	} else {
		rj.stopping = true
	}
	if rj.backend {
		if rj.cancel != nil {
			if timeout {
				rj.cancel(context.DeadlineExceeded)
			} else {
				rj.cancel(errStopped)
			}
		}
		return
	}
	rj.signalLocked(syscall.SIGTERM)
	killed := make(chan struct{})
	rj.killed = killed
	rj.killTimer = time.AfterFunc(grace, func() {
		rj.mu.Lock()
		defer rj.mu.Unlock()
		rj.signalLocked(syscall.SIGKILL)
		close(killed)
	})
}

// groupAlive reports whether any process of the job's group still runs.
func groupAlive(pgid int) bool {
	_, _, e := syscall.RawSyscall(syscall.SYS_KILL, uintptr(-pgid), 0, 0)
	return e != syscall.ESRCH
}

func (rj *runningJob) signalLocked(sig syscall.Signal) {
	if rj.pid > 0 {
		syscall.Kill(-rj.pid, sig)
	}
}

type result struct {
	rj       *runningJob
	wall     time.Duration
	usage    rusage.Usage
	exitval  int
	signal   int
	stdout   capture
	stderr   capture
	lineOut  *lineWriter
	lineErr  *lineWriter
	received int64
	startErr error
	host     string // where a Backend ran it; "" means here (":")
	stopped  bool   // stopped by us before finishing: not logged
	// linger is set for a stopped job whose process ended while some
	// process of its group still ran: the run does not end before that
	// group has been killed (closed) or is empty.
	linger <-chan struct{}
}

type state struct {
	opts     Options
	src      JobSource
	out      *lockedWriter
	errw     *lockedWriter
	joblog   *os.File
	skip     map[int]bool
	results  chan *result
	running  map[*runningJob]bool
	slotUse  []bool
	retryQ   []pending
	srcDone  bool
	srcErr   error
	order    int
	next     int
	held     map[int]*result
	auto     *autoCtl
	grace    time.Duration
	shell    string
	sum      Summary
	stop     bool
	succ     int
	runtimes []time.Duration
	prog     *progress // --bar, --eta, --progress; nil for none
	lastArgs string    // the newest job's values, for --bar
	total    int
	pace     paceState
	spawn    *spawner // nil: every job uses pipes
	shellArg string   // the shell's path for the fast path
	// sup starts the jobs (nil: the runner starts them itself, when the
	// supervisor could not start): see internal/proctree.
	sup     *proctree.Supervisor
	lingers []lingering
}

// lingering is a stopped job's process group that outlived the job's
// process and is due for SIGKILL.
type lingering struct {
	pgid   int
	killed <-chan struct{}
}

// Run runs the jobs of src with the options and returns what happened. The
// error is for setup problems (joblog unwritable, input unreadable); job
// failures are counted in the Summary, not returned.
//
// Cancelling ctx is an interrupt: no new job starts, running jobs get
// SIGTERM (their whole process group), then SIGKILL after opts.Grace; jobs
// that finished are in the joblog, jobs that were stopped are not, so a
// later run with Resume runs exactly those.
//
// Run always closes src.
func Run(ctx context.Context, opts Options, src JobSource) (Summary, error) {
	defer src.Close()
	if opts.Template.validate() != nil {
		return Summary{}, ErrNoCommand
	}
	if opts.Backend != nil {
		if err := CheckBackend(opts); err != nil {
			return Summary{}, err
		}
	}
	opts, src = Prepare(opts, src)
	defer src.Close()
	s := &state{opts: opts, src: src, results: make(chan *result, 64), running: map[*runningJob]bool{},
		held: map[int]*result{}, skip: map[int]bool{}, shell: opts.Shell, grace: opts.Grace}
	if s.shell == "" {
		s.shell = "/bin/sh"
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if s.opts.Cores <= 0 {
		s.opts.Cores = runtime.NumCPU()
	}
	if s.opts.SpillLimit <= 0 {
		s.opts.SpillLimit = DefaultSpillLimit
	}
	if s.opts.MaxJobs <= 0 {
		s.opts.MaxJobs = DefaultMaxJobs
	}
	if opts.Backend == nil {
		s.opts.MaxJobs = min(s.opts.MaxJobs, fdLimitJobs())
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	s.out, s.errw = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	if err := s.openJoblog(); err != nil {
		return s.sum, err
	}
	if s.joblog != nil && s.joblog != os.Stdout {
		defer s.joblog.Close()
	}
	if opts.DryRun {
		return s.dryRun()
	}
	if opts.Backend != nil {
		return s.runBackend(ctx)
	}
	// Every job runs below a supervisor process, so that no process of a
	// job's tree outlives the run, even when trident is killed with
	// SIGKILL: see internal/proctree.
	if sup, err := proctree.Start(); err == nil {
		s.sup = sup
		defer sup.Close()
	} else {
		fmt.Fprintf(s.errw, "trident run: %v; starting the jobs directly (a process a job leaves behind may outlive trident)\n", err)
	}
	if opts.Slots == 0 {
		s.auto = newAutoCtl(s.opts.Cores, s.opts.MaxJobs, func(msg string) {
			if opts.Explain {
				fmt.Fprintf(s.errw, "trident run: -j auto: %s\n", msg)
			}
		})
	}
	s.total = src.Total()
	if opts.Bar || opts.ETA || opts.Progress {
		s.prog = newProgress(opts, s.errw, s.opts.Cores)
		defer func() {
			s.prog.update(time.Now(), s.sum.Finished, 0, s.total, s.slots(), s.lastArgs, true)
		}()
	}
	s.shellArg = s.shell
	if p, err := exec.LookPath(s.shell); err == nil {
		s.shellArg = p
	}
	if !s.passThrough() && !opts.Piped {
		if sp, err := newSpawner(); err == nil {
			s.spawn = sp
			defer sp.close()
		}
	}
	return s.run(ctx)
}

// runBackend is Run with Options.Backend: no supervisor, spawner or -j auto.
func (s *state) runBackend(ctx context.Context) (Summary, error) {
	s.total = s.src.Total()
	if s.opts.Bar || s.opts.ETA || s.opts.Progress {
		s.prog = newProgress(s.opts, s.errw, s.opts.Cores)
		defer func() {
			s.prog.update(time.Now(), s.sum.Finished, 0, s.total, s.slots(), s.lastArgs, true)
		}()
	}
	return s.run(ctx)
}

// run runs the jobs and sets the exit code.
func (s *state) run(ctx context.Context) (Summary, error) {
	s.loop(ctx)
	if s.srcErr != nil {
		return s.sum, s.srcErr
	}
	switch {
	case s.sum.Halted:
		// ExitCode set when the halt triggered.
	default:
		s.sum.ExitCode = min(s.sum.Failed, 101)
	}
	return s.sum, nil
}

// fdLimitJobs bounds concurrent jobs by the open-file limit: each running
// job holds up to four descriptors in the runner (two output files or pipe
// ends, a pidfd, and while starting the exec error pipe), and up to 64 free
// output files wait in the pool.
func fdLimitJobs() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return DefaultMaxJobs
	}
	return max(1, (int(rl.Cur)-128)/4)
}

func (s *state) openJoblog() error {
	o := s.opts
	if o.Joblog == "" {
		if o.Resume || o.ResumeFailed {
			return errors.New("--resume and --resume-failed need --joblog FILE")
		}
		return nil
	}
	if o.Joblog == "-" {
		s.joblog = os.Stdout
		_, err := io.WriteString(s.joblog, JoblogHeader)
		return err
	}
	if o.DryRun {
		return nil
	}
	if o.Resume || o.ResumeFailed {
		f, err := os.Open(o.Joblog)
		if err == nil {
			entries, rerr := ReadJoblog(f)
			f.Close()
			if rerr != nil {
				return fmt.Errorf("--joblog %q: %w", o.Joblog, rerr)
			}
			for _, e := range entries {
				if o.ResumeFailed && e.Failed() {
					continue
				}
				s.skip[e.Seq] = true
			}
			jf, err := os.OpenFile(o.Joblog, os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return fmt.Errorf("--joblog: %w", err)
			}
			s.joblog = jf
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--joblog: %w", err)
		}
	}
	f, err := os.Create(o.Joblog)
	if err != nil {
		return fmt.Errorf("--joblog: %w", err)
	}
	s.joblog = f
	if _, err := io.WriteString(f, JoblogHeader); err != nil {
		return fmt.Errorf("--joblog: %w", err)
	}
	return nil
}

func (s *state) dryRun() (Summary, error) {
	slots := max(1, s.opts.Slots)
	i := 0
	for {
		j, err := s.src.Next()
		if err == io.EOF {
			return s.sum, nil
		}
		if err != nil {
			return s.sum, err
		}
		if s.skip[j.Seq] {
			s.sum.Skipped++
			continue
		}
		fmt.Fprintln(s.out, s.opts.Template.RenderTotal(j.Args, j.Seq, i%slots+1, s.src.Total()))
		i++
	}
}

func (s *state) slots() int {
	switch {
	case s.opts.Slots > 0:
		return s.opts.Slots
	case s.opts.Slots < 0, s.opts.Backend != nil:
		return s.opts.MaxJobs
	}
	return s.auto.slots
}

// nextPending returns the next job to start: a retry first, then the source.
func (s *state) nextPending() (pending, bool) {
	if len(s.retryQ) > 0 {
		p := s.retryQ[0]
		s.retryQ = s.retryQ[1:]
		return p, true
	}
	for !s.srcDone {
		j, err := s.src.Next()
		if err != nil {
			s.srcDone = true
			if err != io.EOF {
				s.srcErr = err
				s.stop = true
			}
			return pending{}, false
		}
		if s.skip[j.Seq] {
			s.sum.Skipped++
			continue
		}
		p := pending{job: j, attempt: 1, order: s.order}
		s.order++
		return p, true
	}
	return pending{}, false
}

func (s *state) loop(ctx context.Context) {
	ctxDone := ctx.Done()
	var ticker *time.Ticker
	var tickC <-chan time.Time
	needTick := func() bool { return (s.auto != nil && !s.auto.settled) || s.opts.TimeoutPercent > 0 }
	for {
		for !s.stop && len(s.running) < s.slots() {
			if s.pace.wait(s.opts, time.Now()) {
				break
			}
			p, ok := s.nextPending()
			if !ok {
				break
			}
			s.start(p)
			s.pace.started(time.Now())
		}
		if len(s.running) == 0 && (s.stop || (s.srcDone && len(s.retryQ) == 0)) {
			break
		}
		if needTick() && ticker == nil {
			ticker = time.NewTicker(20 * time.Millisecond)
			tickC = ticker.C
		} else if !needTick() && ticker != nil {
			ticker.Stop()
			ticker, tickC = nil, nil
		}
		select {
		case r := <-s.results:
			s.finish(r)
		case now := <-tickC:
			s.tick(now)
		case <-s.pace.c:
			s.pace.fired()
		case <-ctxDone:
			ctxDone = nil
			s.sum.Interrupted = true
			s.stop = true
			s.stopAll()
		}
	}
	if ticker != nil {
		ticker.Stop()
	}
	s.awaitLingering()
	// Keep-order: anything still held (after a stop) is flushed in order.
	keys := make([]int, 0, len(s.held))
	for k := range s.held {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		s.emit(s.held[k])
	}
}

// awaitLingering waits until the groups of the stopped jobs that outlived
// their job's process are empty or have been SIGKILLed after the grace
// period. (What is left then, such as processes that left their job's group,
// is killed when the supervisor is closed.)
func (s *state) awaitLingering() {
	for _, l := range s.lingers {
	wait:
		for groupAlive(l.pgid) {
			select {
			case <-l.killed:
				break wait
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	s.lingers = nil
}

func (s *state) stopAll() {
	for rj := range s.running {
		rj.stop(s.grace, false)
	}
}

func (s *state) start(p pending) {
	slot := 1
	for slot <= len(s.slotUse) && s.slotUse[slot-1] {
		slot++
	}
	if slot > len(s.slotUse) {
		s.slotUse = append(s.slotUse, false)
	}
	s.slotUse[slot-1] = true
	rj := &runningJob{p: p, slot: slot, cmdline: s.opts.Template.RenderTotal(p.job.Args, p.job.Seq, slot, s.total), start: time.Now()}
	s.running[rj] = true
	if s.opts.Verbose && s.passThrough() && !s.opts.JSON {
		fmt.Fprintln(s.out, rj.cmdline)
	}
	if s.opts.Backend != nil {
		rj.backend = true
		go s.execBackend(rj)
		return
	}
	if s.spawn != nil {
		path, argv := s.argv(rj.cmdline)
		if out, err := s.spawn.pool.get(); err == nil {
			if errf, err := s.spawn.pool.get(); err == nil {
				go s.execFile(rj, path, argv, out, errf)
				return
			}
			s.spawn.pool.put(out, 0, true)
		}
	}
	go s.exec(rj)
}

// argv returns the program and argv that run cmdline: its words when
// directArgv allows that, else the shell with -c.
func (s *state) argv(cmdline string) (string, []string) {
	if s.opts.Shell == "" {
		if argv := directArgv(cmdline); argv != nil {
			path := argv[0]
			word := strings.TrimLeft(cmdline, " ")
			argv[0] = word[:strings.IndexByte(word+" ", ' ')]
			return s.niced(path, argv)
		}
	}
	return s.niced(s.shellArg, []string{s.shell, "-c", cmdline})
}

func (s *state) tag(rj *runningJob) string {
	if s.opts.TagString != nil && !s.opts.Ungroup {
		return s.opts.TagString.renderRaw(rj.p.job.Args, rj.p.job.Seq, rj.slot, s.total) + "\t"
	}
	if !s.opts.Tag || s.opts.Ungroup {
		return ""
	}
	return strings.Join(rj.p.job.Args, " ") + "\t"
}

// exec runs one job to its end and reports on s.results.
// started records a job's process once it runs: a stop that was asked for
// while it started is delivered now, and the --timeout timer is armed. The
// returned function must be called once the process has exited: it stops
// the timers, marks the job done and reports whether it was being stopped;
// linger is non-nil when the job was being stopped and some process of its
// group still runs: its SIGKILL is still due, and linger is closed once it
// has been sent.
func (s *state) started(rj *runningJob, pid int) (exited func() (stopping bool, linger <-chan struct{})) {
	rj.mu.Lock()
	rj.pid = pid
	if rj.stopping {
		rj.signalLocked(syscall.SIGTERM)
	}
	rj.mu.Unlock()
	var timer *time.Timer
	if s.opts.Timeout > 0 {
		timer = time.AfterFunc(s.opts.Timeout, func() { rj.stop(s.grace, true) })
	}
	return func() (bool, <-chan struct{}) {
		if timer != nil {
			timer.Stop()
		}
		rj.mu.Lock()
		defer rj.mu.Unlock()
		rj.done = true
		var linger <-chan struct{}
		if rj.killTimer != nil {
			// The group's SIGKILL stays due while any process of the
			// group lives (the group id cannot be reused until then).
			if groupAlive(rj.pid) {
				linger = rj.killed
			} else if rj.killTimer.Stop() {
				close(rj.killed)
			}
		}
		return rj.stopping, linger
	}
}

func (s *state) exec(rj *runningJob) {
	r := &result{rj: rj}
	keep := !s.passThrough() || s.opts.JSON || s.opts.ResultsDir != ""
	var bufOut, bufErr *spillBuffer
	if keep {
		bufOut = &spillBuffer{limit: s.opts.SpillLimit}
		bufErr = &spillBuffer{limit: s.opts.SpillLimit}
		r.stdout, r.stderr = bufOut, bufErr
	}
	var stdout, stderr io.Writer = bufOut, bufErr
	if s.passThrough() && !s.opts.JSON {
		tag := s.tag(rj)
		r.lineOut = &lineWriter{out: s.out, tag: tag, raw: s.opts.Ungroup}
		r.lineErr = &lineWriter{out: s.errw, tag: tag, raw: s.opts.Ungroup}
		if keep {
			stdout, stderr = io.MultiWriter(r.lineOut, bufOut), io.MultiWriter(r.lineErr, bufErr)
		} else {
			stdout, stderr = r.lineOut, r.lineErr
		}
	}
	t0 := time.Now()
	var stdin io.Reader
	if in := rj.p.job.Input; in != nil {
		stdin = in()
	}
	p, err := s.startPiped(rj.cmdline, stdin, stdout, stderr)
	if err != nil {
		r.startErr = err
		r.exitval = -1
		msg := fmt.Sprintf("trident run: job %d could not start: %v\n", rj.p.job.Seq, err)
		if bufErr != nil {
			bufErr.Write([]byte(msg))
		} else {
			s.errw.Write([]byte(msg))
		}
		rj.mu.Lock()
		rj.done = true
		rj.mu.Unlock()
		s.results <- r
		return
	}
	exited := s.started(rj, p.pid)
	ws, usage, werr := p.wait()
	r.wall = time.Since(t0)
	stopping, linger := exited()
	r.linger = linger
	r.usage = usage
	switch {
	case werr != nil:
		r.exitval = -1
		fmt.Fprintf(s.errw, "trident run: job %d: wait: %v\n", rj.p.job.Seq, werr)
	case ws.Signaled():
		r.exitval, r.signal = -1, int(ws.Signal())
	default:
		r.exitval = ws.ExitStatus()
	}
	if r.lineOut != nil {
		r.lineOut.flush()
		r.lineErr.flush()
		r.received = r.lineOut.n
	} else {
		r.received = r.stdout.Size()
	}
	// A job we stopped that did not end cleanly on its own is unfinished.
	r.stopped = stopping && (r.signal != 0 || r.exitval != 0)
	s.results <- r
}

// pipedProc is a job started with pipes for its output.
type pipedProc struct {
	pid int
	// wait waits for the process to end and its outputs to be copied
	// (until every process holding them has closed them).
	wait func() (syscall.WaitStatus, rusage.Usage, error)
}

// startPiped starts cmdline in its own process group with stdin from
// /dev/null and its stdout and stderr copied to the writers; through the
// supervisor when there is one.
func (s *state) startPiped(cmdline string, stdin io.Reader, stdout, stderr io.Writer) (*pipedProc, error) {
	if s.sup == nil {
		var cmd *exec.Cmd
		if argv := directArgv(cmdline); argv != nil && s.opts.Shell == "" {
			cmd = exec.Command(argv[0], argv[1:]...)
			cmd.Args[0] = strings.Fields(cmdline)[0]
		} else {
			cmd = exec.Command(s.shell, "-c", cmdline)
		}
		if s.opts.Nice != 0 {
			cmd.Path, cmd.Args = s.niced(cmd.Path, cmd.Args)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return &pipedProc{pid: cmd.Process.Pid, wait: func() (syscall.WaitStatus, rusage.Usage, error) {
			cmd.Wait()
			ps := cmd.ProcessState
			ws, _ := ps.Sys().(syscall.WaitStatus)
			return ws, rusage.FromProcessState(ps), nil
		}}, nil
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	var readers, writers []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readers)
			closeAll(writers)
			return nil, err
		}
		readers, writers = append(readers, r), append(writers, w)
	}
	// A job's stdin is /dev/null, or its --pipe chunk through a pipe.
	in := null
	var inW *os.File
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readers)
			closeAll(writers)
			return nil, err
		}
		in, inW = r, w
		defer r.Close()
	}
	path, argv := s.argv(cmdline)
	proc, err := s.sup.Spawn(path, argv, nil, "", []int{int(in.Fd()), int(writers[0].Fd()), int(writers[1].Fd())})
	closeAll(writers)
	if err != nil {
		closeAll(readers)
		if inW != nil {
			inW.Close()
		}
		return nil, err
	}
	var copying sync.WaitGroup
	if inW != nil {
		copying.Add(1)
		go func() {
			defer copying.Done()
			io.Copy(inW, stdin) // a job that stops reading ends the copy with EPIPE
			inW.Close()
		}()
	}
	for i, w := range []io.Writer{stdout, stderr} {
		copying.Add(1)
		go func(r *os.File) {
			defer copying.Done()
			io.Copy(w, r)
			r.Close()
		}(readers[i])
	}
	return &pipedProc{pid: proc.Pid, wait: func() (syscall.WaitStatus, rusage.Usage, error) {
		ws, ru, err := proc.Wait()
		copying.Wait()
		return ws, rusage.Usage{User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano()), MaxRSSKB: ru.Maxrss}, err
	}}, nil
}

func (s *state) finish(r *result) {
	rj := r.rj
	if r.linger != nil {
		s.lingers = append(s.lingers, lingering{pgid: rj.pid, killed: r.linger})
	}
	delete(s.running, rj)
	s.slotUse[rj.slot-1] = false
	if r.stopped {
		s.sum.Unfinished++
		s.release(r)
		s.advance(rj.p.order, nil)
		return
	}
	failed := r.exitval != 0 || r.signal != 0
	if failed && rj.p.attempt < s.opts.Retries && !s.stop {
		p := rj.p
		p.attempt++
		s.retryQ = append(s.retryQ, p)
		s.release(r)
		return
	}
	rj.mu.Lock()
	timedOut := rj.timedOut
	rj.mu.Unlock()
	if timedOut && failed {
		fmt.Fprintf(s.errw, "trident run: job %d timed out after %.3fs and was killed: %s\n", rj.p.job.Seq, r.wall.Seconds(), rj.cmdline)
	}
	host := r.host
	if host == "" {
		host = ":"
	}
	e := JoblogEntry{Seq: rj.p.job.Seq, Host: host, Start: rj.start, Runtime: r.wall, Receive: r.received,
		Exitval: r.exitval, Signal: r.signal, Command: rj.cmdline}
	if s.joblog != nil {
		io.WriteString(s.joblog, e.String())
	}
	s.sum.Finished++
	if failed {
		s.sum.Failed++
	} else {
		s.succ++
		s.runtimes = append(s.runtimes, r.wall)
	}
	if s.auto != nil && r.startErr == nil {
		s.auto.onDone(time.Now(), r.wall, r.usage.CPU(), s.queued())
	}
	if s.prog != nil {
		s.lastArgs = strings.Join(rj.p.job.Args, " ")
		s.prog.update(time.Now(), s.sum.Finished, len(s.running), s.total, s.slots(), s.lastArgs, false)
	}
	s.checkHalt(r, failed)
	s.advance(rj.p.order, r)
}

// queued reports whether more jobs may be waiting to start.
func (s *state) queued() bool { return !s.stop && (!s.srcDone || len(s.retryQ) > 0) }

// advance emits r (nil for a job that produced nothing) in the right order.
func (s *state) advance(order int, r *result) {
	if !s.opts.KeepOrder {
		if r != nil {
			s.emit(r)
		}
		return
	}
	if r == nil {
		r = &result{}
	}
	s.held[order] = r
	defer func() {
		if h, ok := s.held[order]; ok && h.rj != nil {
			s.shrink(h)
		}
	}()
	for {
		h, ok := s.held[s.next]
		if !ok {
			return
		}
		delete(s.held, s.next)
		s.next++
		if h.rj != nil {
			s.emit(h)
		}
	}
}

// shrink moves a held (-k) result's small outputs from their files to
// memory, so waiting results do not hold two descriptors each; outputs
// larger than the spill limit stay in their files.
func (s *state) shrink(r *result) {
	for _, c := range []*capture{&r.stdout, &r.stderr} {
		fc, ok := (*c).(*fileCapture)
		if !ok || fc.size > int64(s.opts.SpillLimit) {
			continue
		}
		b := &spillBuffer{limit: s.opts.SpillLimit}
		fc.WriteTo(b)
		fc.Close()
		*c = b
	}
}

func (s *state) release(r *result) {
	if r.stdout != nil {
		r.stdout.Close()
		r.stderr.Close()
	}
}

// jsonJob is the --json line of one job.
type jsonJob struct {
	Seq        int      `json:"seq"`
	Host       string   `json:"host"`
	Starttime  float64  `json:"starttime"`
	JobRuntime float64  `json:"jobruntime"`
	CPU        float64  `json:"cpu_seconds"`
	Exitval    int      `json:"exitval"`
	Signal     int      `json:"signal"`
	Slot       int      `json:"slot"`
	Command    string   `json:"command"`
	Args       []string `json:"args"`
	Stdout     string   `json:"stdout"`
	Stderr     string   `json:"stderr"`
}

func (s *state) emit(r *result) {
	defer s.release(r)
	rj := r.rj
	if s.opts.ResultsDir != "" {
		if err := s.saveResults(r); err != nil {
			fmt.Fprintf(s.errw, "trident run: --results: %v\n", err)
		}
	}
	switch {
	case s.opts.JSON:
		host := r.host
		if host == "" {
			host = ":"
		}
		b, _ := json.Marshal(jsonJob{Seq: rj.p.job.Seq, Host: host, Starttime: float64(rj.start.UnixNano()) / 1e9,
			JobRuntime: r.wall.Seconds(), CPU: r.usage.CPU().Seconds(), Exitval: r.exitval, Signal: r.signal,
			Slot: rj.slot, Command: rj.cmdline, Args: rj.p.job.Args,
			Stdout: string(r.stdout.Bytes()), Stderr: string(r.stderr.Bytes())})
		s.out.Write(append(b, '\n'))
	case s.passThrough():
		// Already passed through.
	case s.opts.Files:
		if s.opts.Verbose {
			fmt.Fprintln(s.out, rj.cmdline)
		}
		if name, err := saveFile(r.stdout); err != nil {
			fmt.Fprintf(s.errw, "trident run: --files: %v\n", err)
		} else {
			fmt.Fprintln(s.out, name)
		}
		writeGrouped(s.errw, r.stderr, s.tag(rj))
	default:
		tag := s.tag(rj)
		if s.opts.Verbose {
			s.out.Write([]byte(rj.cmdline + "\n"))
		}
		writeGrouped(s.out, r.stdout, tag)
		writeGrouped(s.errw, r.stderr, tag)
	}
}

// writeGrouped writes one job's whole output under the output's lock, so
// jobs never interleave.
func writeGrouped(out *lockedWriter, b capture, tag string) {
	if b.Size() == 0 {
		return
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	var w io.Writer = out.w
	if tag != "" {
		w = &tagWriter{w: out.w, tag: tag}
	}
	b.WriteTo(w)
}

func (s *state) saveResults(r *result) error {
	dir := s.opts.ResultsDir
	for i, a := range r.rj.p.job.Args {
		dir = filepath.Join(dir, fmt.Sprint(i+1), resultName(a))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range map[string]capture{"stdout": r.stdout, "stderr": r.stderr} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		_, werr := b.WriteTo(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	return os.WriteFile(filepath.Join(dir, "seq"), []byte(fmt.Sprintln(r.rj.p.job.Seq)), 0o644)
}

// resultName makes an argument usable as one path element, keeping distinct
// values apart: \ becomes \\ and / becomes \_ (GNU parallel's escaping), and
// the names a value cannot have as such ("", ".", "..") become \e, \. and
// \.. (an escaped value never has \ followed by e or .).
func resultName(a string) string {
	switch a {
	case "":
		return `\e`
	case ".", "..":
		return `\` + a
	}
	a = strings.NewReplacer(`\`, `\\`, "/", `\_`).Replace(a)
	if len(a) > 200 {
		a = a[:200]
	}
	return a
}

func (s *state) checkHalt(r *result, failed bool) {
	h := s.opts.Halt
	if h.When == HaltNever || s.sum.Halted || failed == h.OnSuccess {
		return
	}
	n := s.sum.Failed
	if h.OnSuccess {
		n = s.succ
	}
	hit := false
	if h.Count > 0 {
		hit = n >= h.Count
	} else if s.total > 0 {
		hit = float64(n)*100/float64(s.total) >= h.Percent
	} else if s.sum.Finished >= 3 {
		hit = float64(n)*100/float64(s.sum.Finished) >= h.Percent
	}
	if !hit {
		return
	}
	s.sum.Halted = true
	s.stop = true
	if h.OnSuccess {
		s.sum.ExitCode = 0
	} else {
		s.sum.ExitCode = r.exitval
		if r.signal != 0 {
			s.sum.ExitCode = 128 + r.signal
		}
		if s.sum.ExitCode < 0 || s.sum.ExitCode > 255 {
			s.sum.ExitCode = 255
		}
	}
	what := "failed"
	if h.OnSuccess {
		what = "succeeded"
	}
	mode := "waiting for the running jobs"
	if h.When == HaltNow {
		mode = "stopping the running jobs"
		s.stopAll()
	}
	fmt.Fprintf(s.errw, "trident run: --halt: %d job(s) %s (last: job %d: %s); starting no more jobs, %s\n",
		n, what, r.rj.p.job.Seq, r.rj.cmdline, mode)
}

func (s *state) tick(now time.Time) {
	if s.auto != nil && !s.auto.settled {
		var obs []runningObs
		for rj := range s.running {
			rj.mu.Lock()
			pid := rj.pid
			rj.mu.Unlock()
			if pid > 0 {
				obs = append(obs, runningObs{pgid: pid, wall: now.Sub(rj.start)})
			}
		}
		s.auto.onTick(now, obs, s.queued())
	}
	if s.opts.TimeoutPercent > 0 && len(s.runtimes) >= 3 {
		rs := append([]time.Duration(nil), s.runtimes...)
		sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
		limit := time.Duration(float64(rs[len(rs)/2]) * s.opts.TimeoutPercent / 100)
		for rj := range s.running {
			if now.Sub(rj.start) > limit {
				rj.stop(s.grace, true)
			}
		}
	}
}

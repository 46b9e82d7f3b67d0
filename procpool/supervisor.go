// The parent's supervisor: starting, watching, restarting and retiring worker processes.

package procpool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trident-go/trident/registry"
)

type wState int

const (
	wStarting wState = iota
	wReady
	wDraining
	wDead
)

func (s wState) String() string {
	return [...]string{"starting", "ready", "draining", "dead"}[s]
}

// worker is the parent's view of one worker process.
type worker struct {
	p     *Pool
	id    int
	cmd   *exec.Cmd
	pid   int
	fromW *os.File
	fw    *frameWriter
	outs  []*prefixWriter

	// guarded by p.mu
	state        wState
	inflight     []*unit
	callsSent    int
	done, failed uint64
	busy         time.Duration
	started      time.Time
	lastActive   time.Time
	retiring     bool  // the pool asked it to exit
	cause        error // why the pool killed it
	deadlineKill bool  // killed because a call ran past its deadline
}

func (p *Pool) spawnLocked() {
	now := time.Now()
	p.nextWorker++
	w := &worker{p: p, id: p.nextWorker, state: wStarting, started: now, lastActive: now}
	p.workers = append(p.workers, w)
	p.spawnQ = append(p.spawnQ, w)
	p.st.spawned++
	p.wg.Add(1)
	select {
	case p.spawnWake <- struct{}{}:
	default:
	}
}

// spawner starts every worker process from one goroutine locked to one OS
// thread for the pool's whole life. The workers' parent-death signal
// (PR_SET_PDEATHSIG) fires when the thread that forked them ends, not the
// process, so forking from threads that come and go would kill workers at
// random; a locked thread that lives as long as the pool gives the signal
// its intended meaning: the workers die with the parent, even by SIGKILL.
func (p *Pool) spawner() {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	defer close(p.spawnerDone)
	for {
		p.mu.Lock()
		q := p.spawnQ
		p.spawnQ = nil
		stop := p.stopSpawner
		p.mu.Unlock()
		for _, w := range q {
			if err := w.start(); err != nil {
				p.workerGone(w, err)
				p.wg.Done()
				continue
			}
			go w.run()
		}
		if len(q) == 0 {
			if stop {
				return
			}
			<-p.spawnWake
		}
	}
}

// start forks and execs the worker process with its pipe pair.
func (w *worker) start() error {
	p := w.p
	p.mu.Lock()
	skip := p.killed || w.retiring
	p.mu.Unlock()
	if skip {
		return errors.New("procpool: pool closed before the worker started")
	}
	inR, inW, err := os.Pipe() // pool -> worker
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWorkerStart, err)
	}
	outR, outW, err := os.Pipe() // worker -> pool
	if err != nil {
		inR.Close()
		inW.Close()
		return fmt.Errorf("%w: %v", ErrWorkerStart, err)
	}
	cmd := exec.Command(p.path, p.cfg.args...)
	cmd.Env = append(os.Environ(), envWorker+"="+strconv.Itoa(protocolVersion))
	cmd.Env = append(cmd.Env, p.cfg.env...)
	cmd.ExtraFiles = []*os.File{inR, outW} // fd 3 and fd 4 in the worker
	if p.cfg.prefix {
		pre := []byte(fmt.Sprintf("[worker %d] ", w.id))
		so, se := p.cfg.stdout, p.cfg.stderr
		if so == nil {
			so = os.Stdout
		}
		if se == nil {
			se = os.Stderr
		}
		w.outs = []*prefixWriter{{mu: &p.outMu, dst: so, prefix: pre}, {mu: &p.outMu, dst: se, prefix: pre}}
		cmd.Stdout, cmd.Stderr = w.outs[0], w.outs[1]
	} else {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	}
	// Pdeathsig: the worker dies with the spawning thread (see spawner).
	// Setpgid: a Ctrl-C at the terminal reaches the parent only, which
	// decides whether workers finish (Shutdown) or die (Close, or exiting).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return fmt.Errorf("%w: %v", ErrWorkerStart, err)
	}
	p.mu.Lock()
	w.cmd, w.pid, w.fromW = cmd, cmd.Process.Pid, outR
	w.fw = newFrameWriterAfter(inW, func() { inW.Close() })
	if p.killed {
		cmd.Process.Kill()
	} else if w.retiring {
		w.fw.shutdown()
	}
	p.mu.Unlock()
	return nil
}

// run is the worker's reader goroutine: handshake, then results, then the
// clean-up when the process ends.
func (w *worker) run() {
	p := w.p
	defer p.wg.Done()
	r := bufio.NewReaderSize(w.fromW, 64<<10)
	timer := time.AfterFunc(p.cfg.startTimeout, func() {
		p.killWorker(w, fmt.Errorf("%w: %w: no handshake within %v", ErrWorkerStart, ErrProtocol, p.cfg.startTimeout))
	})
	cause := w.handshake(r)
	timer.Stop()
	if cause == nil {
		p.workerReady(w)
		cause = w.readResults(r)
	}
	if cause != nil {
		p.killWorker(w, cause)
	}
	w.fw.shutdown()
	<-w.fw.done
	w.fromW.Close()
	w.cmd.Wait()
	for _, o := range w.outs {
		o.flush()
	}
	p.workerGone(w, cause)
}

func (w *worker) handshake(r *bufio.Reader) error {
	p := w.p
	// The setup frame goes out at once; the worker reads it after sending
	// its hello, which saves a round trip at start.
	var initArg []byte
	if p.cfg.initName != "" {
		initArg, _ = p.codec.Marshal(p.cfg.initArg) // checked in New
	}
	w.fw.send(setupMsg{version: protocolVersion, workerID: uint64(w.id), codec: p.codec.Name(), initName: p.cfg.initName, initArg: initArg}.encode())
	t, body, err := readFrame(r)
	if err != nil {
		p.mu.Lock()
		started := p.started
		p.mu.Unlock()
		if started { // the binary does call Main: the worker died while starting
			return fmt.Errorf("%w: worker %d exited before its handshake: %v", ErrWorkerStart, w.id, err)
		}
		return fmt.Errorf("%w: worker %d exited before its handshake (does the worker's main call procpool.Main first?): %v", ErrWorkerStart, w.id, err)
	}
	if t != fHello {
		return fmt.Errorf("%w: %w: worker %d sent %s before hello", ErrWorkerStart, ErrProtocol, w.id, t)
	}
	h, err := decodeHello(body)
	if err != nil || h.magic != protocolMagic || h.version != protocolVersion {
		return fmt.Errorf("%w: %w: worker %d: bad hello (magic %q, version %d, want %d): %v", ErrWorkerStart, ErrProtocol, w.id, h.magic, h.version, protocolVersion, err)
	}
	t, body, err = readFrame(r)
	if err != nil {
		return fmt.Errorf("%w: worker %d exited during its handshake: %v", ErrWorkerStart, w.id, err)
	}
	d := dec{b: body}
	st := d.byte1("status")
	data := d.bytes("error")
	if t != fReady || d.done(fReady) != nil || st > 1 {
		return fmt.Errorf("%w: %w: worker %d: bad ready frame", ErrWorkerStart, ErrProtocol, w.id)
	}
	if st == 1 {
		var re registry.RemoteError
		if err := re.UnmarshalBinary(data); err != nil {
			return fmt.Errorf("%w: %w: worker %d: %v", ErrWorkerStart, ErrProtocol, w.id, err)
		}
		return fmt.Errorf("%w: worker %d: initializer failed: %w", ErrWorkerStart, w.id, &re)
	}
	return nil
}

func (w *worker) readResults(r *bufio.Reader) error {
	for {
		t, body, err := readFrame(r)
		if err == io.EOF || errors.Is(err, errTruncated) {
			return nil // the process ended; its exit status tells the story
		}
		if err != nil {
			return fmt.Errorf("%w: worker %d: %v", ErrProtocol, w.id, err)
		}
		if t != fResult {
			return fmt.Errorf("%w: worker %d: unexpected %s frame", ErrProtocol, w.id, t)
		}
		m, err := decodeResult(body)
		if err != nil {
			return fmt.Errorf("%w: worker %d: %v", ErrProtocol, w.id, err)
		}
		if err := w.p.onResult(w, m); err != nil {
			return err
		}
	}
}

// killWorker records why the pool kills w and sends SIGKILL.
func (p *Pool) killWorker(w *worker, cause error) {
	p.mu.Lock()
	if w.cause == nil {
		w.cause = cause
	}
	cmd := w.cmd
	p.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
	}
}

func (p *Pool) workerReady(w *worker) {
	p.mu.Lock()
	if w.state == wStarting {
		w.state = wReady
	}
	p.started = true
	p.failedStart = 0
	w.lastActive = time.Now()
	if w.retiring {
		w.state = wDraining
	}
	p.dispatchLocked()
	// The dispatch may have dropped queued calls cancelled while they
	// waited; a Shutdown waiting for the queue to empty must hear of it.
	p.checkIdleLocked()
	p.mu.Unlock()
}

// hardStop terminates w if u is still running on it, then kills it after
// the grace period.
func (p *Pool) hardStop(w *worker, u *unit) {
	p.mu.Lock()
	if w.state == wDead || !slices.Contains(w.inflight, u) {
		p.mu.Unlock()
		return
	}
	if w.cause == nil {
		w.cause = fmt.Errorf("stopped because %q passed its deadline", u.name)
	}
	w.deadlineKill = true
	proc := w.cmd.Process
	p.mu.Unlock()
	proc.Signal(syscall.SIGTERM)
	time.AfterFunc(p.cfg.grace, func() { proc.Kill() })
}

// minMeasured is the shortest worker time a call frame must take for its
// time per call to feed chunk sizing.
const minMeasured = 100 * time.Microsecond

type failure struct {
	u   *unit
	err error
}

// workerGone accounts for a worker process that ended (or never started):
// its calls are failed, retried or sent again, and a replacement started.
func (p *Pool) workerGone(w *worker, cause error) {
	var ps *os.ProcessState
	if w.cmd != nil {
		ps = w.cmd.ProcessState
	}
	p.mu.Lock()
	wasStarting := w.state == wStarting
	w.state = wDead
	p.workers = slices.DeleteFunc(p.workers, func(x *worker) bool { return x == w })
	units := w.inflight
	w.inflight = nil
	var fails []failure
	failUnit := func(u *unit, err error) { fails = append(fails, failure{u, err}) }
	// A retiring worker is only told to exit once it holds no call, so one
	// that dies holding calls crashed all the same.
	expected := p.killed || w.retiring && len(units) == 0
	crash := func(u *unit) *CrashError {
		ce := &CrashError{Func: u.name, Worker: w.id, PID: w.pid, ExitCode: -1, Cause: w.cause, Attempts: u.attempts + 1}
		if ps != nil {
			if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				ce.Signal = ws.Signal()
			} else {
				ce.ExitCode = ps.ExitCode()
			}
		}
		return ce
	}
	if wasStarting && !expected {
		if cause == nil {
			cause = fmt.Errorf("%w: worker %d: %v", ErrWorkerStart, w.id, ps)
		}
		p.st.failedStarts++
		p.failedStart++
		alive := slices.ContainsFunc(p.workers, func(x *worker) bool { return x.state == wStarting || x.state == wReady })
		switch {
		case alive:
			// Other workers run the queue; start more only after a pause.
			// The pause matters before any worker has started too: without
			// it the replacement would start at once, and two workers
			// failing in turn would each see the other one alive, forever,
			// so the queued calls would never fail.
			p.backoffLocked()
		case !p.started:
			// No worker has ever started (a binary that does not call
			// Main, an initializer that always fails): nothing can run
			// the queued calls, so fail them rather than start workers
			// that fail the same way, forever.
			for _, u := range p.takeQueueLocked() {
				failUnit(u, cause)
			}
		case p.failedStart >= p.cfg.maxStartFailures:
			// Workers did start before, but the last starts all failed:
			// give up on the queued calls. A later submit tries again.
			err := &StartError{Failures: p.failedStart, Limit: p.cfg.maxStartFailures, Err: cause}
			for _, u := range p.takeQueueLocked() {
				failUnit(u, err)
			}
		default:
			// A failed start after a good one is a crash like any other:
			// keep the queue and start another worker after a pause.
			p.backoffLocked()
		}
	}
	if !wasStarting && !expected {
		if w.deadlineKill || w.cause != nil {
			p.st.killed++
		} else {
			p.st.crashed++
		}
	}
	var requeue []*unit
	for i, u := range units {
		if u.single() {
			delete(p.running, u.raw.Future())
		}
		u.w = nil
		switch {
		case u.delivered:
			// already failed with its DeadlineError
		case p.broken != nil:
			failUnit(u, p.broken)
		case p.killed:
			failUnit(u, fmt.Errorf("%w: pool closed while %q ran on worker %d", ErrShutdown, u.name, w.id))
		case i == 0 && !expected && p.cfg.breakOnCrash && !w.deadlineKill:
			failUnit(u, crash(u))
		case i == 0 && !expected:
			if u.attempts < p.cfg.retries {
				u.attempts++
				p.st.retried++
				requeue = append(requeue, u)
			} else {
				failUnit(u, crash(u))
			}
		default:
			requeue = append(requeue, u) // never started
		}
	}
	for _, u := range units {
		// Requeued units keep watching their context (onCtxDone ends
		// them in the queue); the others are done with it.
		if u.stop != nil && !slices.Contains(requeue, u) {
			u.stop()
			u.stop = nil
		}
	}
	if len(requeue) > 0 {
		for _, u := range requeue {
			p.queuedCalls += u.calls()
		}
		p.queue = append(requeue, p.queue...)
	}
	if !wasStarting && !expected && p.cfg.breakOnCrash && !w.deadlineKill && p.broken == nil {
		var head *unit
		if len(units) > 0 {
			head = units[0]
		} else {
			head = &unit{name: "(none)"}
		}
		p.broken = fmt.Errorf("%w: %w", ErrBrokenPool, crash(head))
		p.closing = true
		for _, u := range p.takeQueueLocked() {
			failUnit(u, p.broken)
		}
		for _, x := range p.workers {
			if x.cause == nil {
				x.cause = p.broken
			}
			if x.cmd != nil {
				x.cmd.Process.Kill()
			}
		}
		p.killed = true
	}
	if !wasStarting && !expected && !p.closing {
		p.spawnLocked() // the replacement
	}
	p.dispatchLocked()
	p.checkIdleLocked()
	p.mu.Unlock()
	for _, f := range fails {
		f.u.fail(f.err)
	}
}

// backoffLocked schedules the start of a worker after the last failed
// start, waiting longer after each consecutive failure (startBackoff);
// meanwhile maybeSpawnLocked starts none.
func (p *Pool) backoffLocked() {
	if p.backoff != nil || p.killed || p.stopSpawner {
		return
	}
	p.backoff = time.AfterFunc(startBackoff(p.failedStart), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.backoff = nil
		if p.killed || p.stopSpawner {
			return
		}
		p.dispatchLocked()
		p.checkIdleLocked()
	})
}

// stopBackoffLocked cancels a pending start after a failed start.
func (p *Pool) stopBackoffLocked() {
	if p.backoff != nil {
		p.backoff.Stop()
		p.backoff = nil
	}
}

// startBackoff is the pause before the next start after n consecutive
// failed starts: 10ms, doubling each time, at most 1s.
func startBackoff(n int) time.Duration {
	d := startBackoffMin
	for i := 1; i < n && d < startBackoffMax; i++ {
		d *= 2
	}
	return min(d, startBackoffMax)
}

const (
	startBackoffMin = 10 * time.Millisecond
	startBackoffMax = time.Second
)

func (p *Pool) retireLocked(w *worker) {
	if w.retiring || w.state == wDead {
		return
	}
	w.retiring = true
	if w.state == wReady {
		w.state = wDraining
	}
	if len(w.inflight) == 0 && w.fw != nil {
		w.fw.shutdown()
	}
}

// checkIdleLocked closes p.idle and p.gone when shutting down and there is
// nothing left to do, or no worker left.
func (p *Pool) checkIdleLocked() {
	if !p.closing {
		return
	}
	if len(p.queue) == 0 && !slices.ContainsFunc(p.workers, func(w *worker) bool { return len(w.inflight) > 0 }) {
		p.idleOnce.Do(func() { close(p.idle) })
	}
	if len(p.workers) == 0 {
		p.goneOnce.Do(func() { close(p.gone) })
	}
}

// monitor retires idle workers and workers over the memory ceiling.
func (p *Pool) monitor() {
	defer close(p.monitorDone)
	if p.cfg.idle == 0 && p.cfg.maxRSS == 0 {
		<-p.monitorStop
		return
	}
	every := 200 * time.Millisecond
	if p.cfg.idle > 0 && p.cfg.idle/4 < every {
		every = max(p.cfg.idle/4, 5*time.Millisecond)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.monitorStop:
			return
		case now := <-t.C:
			p.mu.Lock()
			for _, w := range p.workers {
				if w.state != wReady {
					continue
				}
				if p.cfg.idle > 0 && len(w.inflight) == 0 && now.Sub(w.lastActive) > p.cfg.idle {
					p.st.idleRetired++
					p.retireLocked(w)
					continue
				}
				if p.cfg.maxRSS > 0 && readRSS(w.pid) > p.cfg.maxRSS {
					p.st.recycled++
					p.retireLocked(w)
				}
			}
			p.mu.Unlock()
		}
	}
}

// readRSS returns the resident set size of pid in bytes, or 0.
func readRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// prefixWriter copies a worker's output line by line with a prefix.
type prefixWriter struct {
	mu     *sync.Mutex
	dst    io.Writer
	prefix []byte
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(b), nil
}

func (w *prefixWriter) emit(line []byte) {
	out := make([]byte, 0, len(w.prefix)+len(line))
	out = append(append(out, w.prefix...), line...)
	w.mu.Lock()
	w.dst.Write(out)
	w.mu.Unlock()
}

// flush writes a last line that had no newline.
func (w *prefixWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}

// The parent's dispatcher: the queue of units, cutting Map jobs into chunks, sending them to workers and routing results and cancellations back to futures.

package procpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// unit is what travels in one call frame: calls lo..hi-1 of a job, with
// their arguments encoded as one payload. A Map's chunks are units of the
// Map's job (registry.Chunks, run with InvokeBatch); a single call is a
// one-call job with one chunk, the unit itself (see oneCall), whose payload
// is the call's argument (run with Invoke). Both travel, are retried, time
// out and complete the same way; only a single call has a future of its own
// to start and to cancel while it runs (raw). A unit with a job is a
// placeholder in the queue that cuts units from a Map.
type unit struct {
	id       uint64
	name     string
	payload  []byte
	chunks   registry.Chunks // the job: a Map's, or (*oneCall)(u)
	lo, hi   int
	raw      future.Resolver[[]byte] // a single call's future; zero for a chunk of a Map
	ctx      context.Context
	attempts int
	job      *mapJob // set on a queue placeholder
	from     *mapJob // the Map this unit was cut from

	w         *worker
	stop      func() bool
	delivered bool // failed already (its deadline passed, or a chunk's context ended)
}

// newCall returns the unit of a single call: a one-call job whose only
// chunk is the unit itself. It allocates only the unit.
func newCall(ctx context.Context, name string, payload []byte, r future.Resolver[[]byte]) *unit {
	u := &unit{name: name, payload: payload, raw: r, ctx: ctx, hi: 1}
	u.chunks = (*oneCall)(u)
	return u
}

// single reports whether u is a single call (a one-call job).
func (u *unit) single() bool { return u.raw.Future() != nil }

// oneCall is the registry.Chunks of a single call: one input, already
// encoded, and a future to complete.
type oneCall unit

func (c *oneCall) Name() string { return c.name }
func (c *oneCall) Len() int     { return 1 }

func (c *oneCall) Encode(lo, hi int) ([]byte, error) { return c.payload, nil }

// Deliver completes the call's future with the worker's answer, or with
// err; an err matching future.ErrCancelled leaves it Cancelled rather than
// Failed, as registry's Deliver does for the calls of a Map.
func (c *oneCall) Deliver(lo, hi int, payload []byte, err error) {
	if err != nil && errors.Is(err, future.ErrCancelled) {
		c.raw.CompleteCancelled(err)
		return
	}
	c.raw.Complete(payload, err)
}

func (u *unit) calls() int { return u.hi - u.lo }

// fail completes every call of the unit with err (Cancelled when err
// matches future.ErrCancelled). It is called exactly once per unit, outside
// the pool lock.
func (u *unit) fail(err error) { u.chunks.Deliver(u.lo, u.hi, nil, err) }

// cancel cancels every call of a queued unit and reports how many.
func (u *unit) cancel() int {
	if !u.single() {
		u.chunks.Deliver(u.lo, u.hi, nil, future.ErrCancelled)
		return u.hi - u.lo
	}
	if u.raw.Future().Cancel() || u.raw.Complete(nil, future.ErrCancelled) {
		return 1
	}
	return 0
}

// mapJob is a Map waiting in the queue; chunks are cut from it as workers
// free up, so that their size can follow the measured call time.
type mapJob struct {
	name   string
	ctx    context.Context
	chunks registry.Chunks // the calls, cut into chunks
	n      int
	next   int
	chunk  int         // 0 = automatic
	probe  int         // automatic size before a measurement exists
	stop   func() bool // ends the watch of ctx while calls of SubmitChunks wait
}

// rest returns the calls not cut yet as one unit, and marks them taken.
func (j *mapJob) rest() *unit {
	u := &unit{name: j.name, ctx: j.ctx, chunks: j.chunks, lo: j.next, hi: j.n}
	j.next = j.n
	j.unwatch()
	return u
}

// unwatch stops watching the context of a Map whose calls have all left the
// queue.
func (j *mapJob) unwatch() {
	if j.stop != nil {
		j.stop()
		j.stop = nil
	}
}

func (p *Pool) sendLocked(w *worker, u *unit) {
	p.nextUnit++
	u.id = p.nextUnit
	u.w = w
	w.inflight = append(w.inflight, u)
	w.callsSent += u.calls()
	var dl int64
	if d, ok := u.ctx.Deadline(); ok {
		dl = d.UnixNano()
	}
	var flags uint64
	if !u.single() {
		flags = flagBatch
	}
	w.fw.send(callMsg{id: u.id, name: u.name, deadline: dl, flags: flags, payload: u.payload}.encode())
	if u.single() {
		p.running[u.raw.Future()] = u
	}
	if u.ctx.Done() != nil && u.stop == nil {
		u.stop = context.AfterFunc(u.ctx, func() { p.onCtxDone(u) })
	}
}

func (p *Pool) onResult(w *worker, m resultMsg) error {
	p.mu.Lock()
	idx := slices.IndexFunc(w.inflight, func(u *unit) bool { return u.id == m.id })
	if idx < 0 {
		p.mu.Unlock()
		return fmt.Errorf("%w: worker %d answered call %d, which it does not hold", ErrProtocol, w.id, m.id)
	}
	u := w.inflight[idx]
	w.inflight = slices.Delete(w.inflight, idx, idx+1)
	if u.single() {
		delete(p.running, u.raw.Future())
	}
	calls := u.calls()
	now := time.Now()
	var late error
	if dl, ok := u.ctx.Deadline(); ok && !u.delivered && !now.Before(dl) {
		// The answer came once the deadline had passed (often the
		// worker's own ctx.Err(), sent before onCtxDone ran): the call
		// timed out all the same, and fails as documented.
		u.delivered = true
		p.st.timedOut++
		late = &DeadlineError{Func: u.name, Worker: w.id, PID: w.pid}
	}
	delivered := u.delivered
	w.lastActive = now
	if m.elapsed > 0 {
		w.busy += time.Duration(m.elapsed)
		// Chunk sizing learns the time per call only from calls long enough
		// to measure: in a short chunk, start-up costs (a codec compiling
		// its encoders, a cold cache) would pass for the calls' own cost.
		if old, ok := p.frameNs[u.name]; ok {
			p.frameNs[u.name] = 0.5*old + 0.5*float64(m.elapsed)
		} else {
			p.frameNs[u.name] = float64(m.elapsed)
		}
		if j := u.from; j != nil && time.Duration(m.elapsed) < minMeasured && j.probe < 1<<16 {
			j.probe *= 4 // a probe too short to measure: try a bigger one
		}
		if time.Duration(m.elapsed) >= minMeasured {
			per := float64(m.elapsed) / float64(calls)
			if old, ok := p.est[u.name]; ok {
				p.est[u.name] = 0.5*old + 0.5*per
			} else {
				p.est[u.name] = per
			}
		}
	}
	if m.failed {
		w.failed++
		p.st.failed++
	}
	w.done += uint64(calls)
	p.st.completed += uint64(calls)
	if p.cfg.maxTasks > 0 && w.callsSent >= p.cfg.maxTasks && !w.retiring {
		p.st.recycled++
		p.retireLocked(w)
	}
	if w.retiring && len(w.inflight) == 0 {
		w.fw.shutdown()
	}
	// Refill in batches: wait until the worker is down to half its frames,
	// then send several at once (one write, one wake-up of the worker).
	if len(w.inflight) <= p.cfg.inflight/2 || w.state != wReady {
		p.dispatchLocked()
	}
	p.checkIdleLocked()
	p.mu.Unlock()
	if u.stop != nil {
		u.stop()
	}
	if late != nil {
		u.fail(late)
		return nil
	}
	if delivered {
		return nil
	}
	if !m.failed {
		u.chunks.Deliver(u.lo, u.hi, m.data, nil)
		return nil
	}
	re := new(registry.RemoteError)
	if err := re.UnmarshalBinary(m.data); err != nil {
		bad := fmt.Errorf("%w: worker %d: error of call %d: %v", ErrProtocol, w.id, m.id, err)
		u.chunks.Deliver(u.lo, u.hi, nil, bad)
		return bad
	}
	u.chunks.Deliver(u.lo, u.hi, nil, re)
	return nil
}

// onCtxDone runs when the context of a call in a worker ends: the
// cancellation is sent to the worker; a deadline also fails the call at once
// and, if the call is running and does not return within the grace period,
// stops the worker.
func (p *Pool) onCtxDone(u *unit) {
	p.mu.Lock()
	w := u.w
	if w == nil {
		p.onQueuedCtxDone(u) // unlocks
		return
	}
	if w.state == wDead || !slices.Contains(w.inflight, u) {
		p.mu.Unlock()
		return
	}
	w.fw.send(encodeCancel(u.id))
	err := u.ctx.Err()
	if dl, ok := u.ctx.Deadline(); ok && !time.Now().Before(dl) {
		// The deadline passed, whatever cancellation arrived first.
		err = context.DeadlineExceeded
	}
	if u.delivered {
		p.mu.Unlock()
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		if u.single() {
			// Typed futures of single calls are cancelled by their
			// bridge (registry), raw ones end with the worker's answer.
			p.mu.Unlock()
			return
		}
		// The typed futures of a chunk do not watch their context (the
		// pool reports deadlines, see backend.ReportsDeadlines): cancel them now, as
		// their own watcher would have; the worker's answer is dropped.
		u.delivered = true
		p.mu.Unlock()
		u.fail(future.CancelledError(err))
		return
	}
	u.delivered = true
	p.st.timedOut++
	running := w.inflight[0] == u
	p.mu.Unlock()
	u.fail(&DeadlineError{Func: u.name, Worker: w.id, PID: w.pid})
	if running {
		time.AfterFunc(p.cfg.grace, func() { p.hardStop(w, u) })
	}
}

// onQueuedCtxDone ends a unit sent back to the queue after its worker
// crashed (a retry, or calls queued behind the crashed one) whose context
// ended while it waited: with a *DeadlineError if the deadline passed, as if
// it were still running, or else as cancelled. It is called with p.mu held
// and unlocks it.
func (p *Pool) onQueuedCtxDone(u *unit) {
	i := slices.Index(p.queue, u)
	if i < 0 || u.delivered {
		p.mu.Unlock()
		return
	}
	p.queue = slices.Delete(p.queue, i, i+1)
	if len(p.queue) == 0 {
		p.queue = nil
	}
	p.queuedCalls -= u.calls()
	u.delivered = true
	u.stop = nil
	err := u.ctx.Err()
	if dl, ok := u.ctx.Deadline(); ok && !time.Now().Before(dl) {
		err = context.DeadlineExceeded
	}
	if errors.Is(err, context.DeadlineExceeded) {
		p.st.timedOut++
		err = &DeadlineError{Func: u.name}
	} else {
		err = future.CancelledError(err)
	}
	p.checkIdleLocked()
	p.mu.Unlock()
	u.fail(err)
}

// takeQueueLocked empties the queue and returns the single-call units and
// the remaining calls of Map jobs as units.
func (p *Pool) takeQueueLocked() []*unit {
	var out []*unit
	for _, u := range p.queue {
		if u.job == nil {
			if u.stop != nil { // sent back after a crash: still watching ctx
				u.stop()
				u.stop = nil
			}
			out = append(out, u)
			continue
		}
		out = append(out, u.job.rest())
	}
	p.queue = nil
	p.queuedCalls = 0
	return out
}

// onJobCtxDone cancels the calls of a SubmitChunks Map still in the queue
// when its context ends; chunks already sent are onCtxDone's.
func (p *Pool) onJobCtxDone(j *mapJob) {
	p.mu.Lock()
	i := slices.IndexFunc(p.queue, func(u *unit) bool { return u.job == j })
	if i < 0 || j.next >= j.n {
		p.mu.Unlock()
		return
	}
	p.queue = slices.Delete(p.queue, i, i+1)
	if len(p.queue) == 0 {
		p.queue = nil
	}
	u := j.rest()
	p.queuedCalls -= u.calls()
	p.checkIdleLocked()
	p.mu.Unlock()
	u.fail(future.CancelledError(j.ctx.Err()))
}

// dispatchLocked sends queued work to workers with free slots, and starts
// workers when there is more work than slots.
func (p *Pool) dispatchLocked() {
	for len(p.queue) > 0 {
		w := p.pickWorkerLocked(p.capFor(p.queue[0]))
		if w == nil {
			p.maybeSpawnLocked()
			return
		}
		head := p.queue[0]
		var u *unit
		if head.job != nil {
			u = p.cutLocked(head.job, w)
			if head.job.next >= head.job.n {
				head.job.unwatch()
				p.popLocked()
			}
			if u == nil {
				continue
			}
		} else {
			p.popLocked()
			p.queuedCalls -= head.calls()
			if !head.startable() {
				continue
			}
			u = head
		}
		p.sendLocked(w, u)
	}
}

func (p *Pool) popLocked() {
	p.queue[0] = nil
	p.queue = p.queue[1:]
	if len(p.queue) == 0 {
		p.queue = nil
	}
}

// startable moves a single call's future to Running; false means it was
// cancelled while queued (or ended otherwise) and must not be sent.
func (u *unit) startable() bool {
	if !u.single() {
		return true
	}
	r := u.raw
	if u.attempts == 0 && r.Future().State() == future.Pending {
		return r.Start()
	}
	return !r.Future().State().Final()
}

// cutLocked takes the next chunk of a Map for worker w.
func (p *Pool) cutLocked(j *mapJob, w *worker) *unit {
	n := j.chunk
	remaining := j.n - j.next
	if n <= 0 {
		if est, ok := p.est[j.name]; ok && est > 0 {
			ideal := max(int(float64(p.cfg.chunkTarget)/est), 1)
			n = ideal
			// Near the end, cut smaller chunks (about two per worker for
			// what is left) so the last ones balance, but not below an
			// eighth of the ideal size, which would mostly pay round trips.
			if bal := (remaining + 2*p.cfg.workers - 1) / (2 * p.cfg.workers); n > bal {
				n = max(bal, ideal/8)
			}
		} else {
			// No measurement yet: probe. The size grows as answers come
			// back too fast to measure (see onResult).
			n = j.probe
		}
		n = max(n, 1)
	}
	if p.cfg.maxTasks > 0 {
		n = max(1, min(n, p.cfg.maxTasks-w.callsSent))
	}
	if j.ctx.Err() != nil {
		n = remaining // the Map's context ended: fail the rest at once
	}
	lo, hi := j.next, min(j.next+n, j.n)
	j.next = hi
	p.queuedCalls -= hi - lo
	u := &unit{name: j.name, ctx: j.ctx, chunks: j.chunks, lo: lo, hi: hi, from: j}
	err := j.ctx.Err()
	if err != nil {
		err = future.CancelledError(err)
	} else {
		var b []byte
		if b, err = j.chunks.Encode(lo, hi); err == nil {
			u.payload = b
			return u
		}
	}
	go u.fail(err) // never under the pool lock
	return nil
}

// capFor is how many frames of u's function a worker may hold: WithInFlight
// when its frames are measured under a millisecond, where overlapping round
// trips matters, and at most 2 otherwise (slow frames, or not measured
// yet), where holding more in one worker's pipe would only unbalance the
// load.
func (p *Pool) capFor(u *unit) int {
	name := u.name
	if u.job != nil {
		name = u.job.name
	}
	if ns, ok := p.frameNs[name]; ok && ns < float64(time.Millisecond) {
		return p.cfg.inflight
	}
	return min(p.cfg.inflight, 2)
}

func (p *Pool) pickWorkerLocked(limit int) *worker {
	var best *worker
	for _, w := range p.workers {
		if w.state != wReady || len(w.inflight) >= limit {
			continue
		}
		if p.cfg.maxTasks > 0 && w.callsSent >= p.cfg.maxTasks {
			continue
		}
		if best == nil || len(w.inflight) < len(best.inflight) {
			best = w
		}
	}
	return best
}

func (p *Pool) maybeSpawnLocked() {
	if p.killed || p.broken != nil || p.backoff != nil {
		return
	}
	live, starting := 0, 0
	for _, w := range p.workers {
		switch w.state {
		case wStarting:
			live++
			starting++
		case wReady:
			if p.cfg.maxTasks == 0 || w.callsSent < p.cfg.maxTasks {
				live++
			}
		}
	}
	if live >= p.cfg.workers {
		return
	}
	// Start one more worker per calls waiting beyond what the workers
	// being started will take: each takes as many frames as capFor allows
	// (WithInFlight for calls measured fast, at most 2 otherwise), so a burst of
	// slow or unmeasured calls does not queue behind one starting worker.
	per := p.cfg.inflight
	if len(p.queue) > 0 {
		per = p.capFor(p.queue[0])
	}
	if starting > 0 && p.queuedCalls <= starting*per {
		return
	}
	p.spawnLocked()
}

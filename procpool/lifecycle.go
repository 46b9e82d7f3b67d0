package procpool

import (
	"context"
	"time"
)

// Shutdown stops the pool gracefully (Python's shutdown(wait=True)): new
// submits fail with ErrShutdown, queued and running calls finish, then every
// worker is told to exit and waited for. If ctx ends first, Shutdown falls
// back to Close and returns ctx.Err(). Call CancelPending first for
// Python's cancel_futures=True. It is safe to call more than once.
func (p *Pool) Shutdown(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	p.mu.Lock()
	p.closing = true
	p.checkIdleLocked()
	p.mu.Unlock()
	select {
	case <-p.idle:
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	}
	p.mu.Lock()
	for _, w := range p.workers {
		p.retireLocked(w)
	}
	p.checkIdleLocked()
	p.mu.Unlock()
	select {
	case <-p.gone:
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	}
	p.stopHelpers()
	return nil
}

// CancelPending cancels every call still waiting in the pool's queue (not
// yet sent to a worker) and returns how many it cancelled: Python's
// cancel_futures. Calls already in workers go on.
func (p *Pool) CancelPending() int {
	p.mu.Lock()
	units := p.takeQueueLocked()
	p.checkIdleLocked()
	p.mu.Unlock()
	n := 0
	for _, u := range units {
		n += u.cancel()
	}
	return n
}

// Close kills every worker now (SIGKILL) and fails queued and running calls
// with ErrShutdown, then waits for the processes to be reaped. Python's
// closest is shutdown(wait=False, cancel_futures=True) followed by killing
// the processes by hand. It is safe to call more than once, and after
// Shutdown.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closing = true
	p.killed = true
	p.stopBackoffLocked()
	units := p.takeQueueLocked()
	for _, w := range p.workers {
		if w.cause == nil {
			w.cause = ErrShutdown
		}
		if w.cmd != nil {
			w.cmd.Process.Kill()
		}
	}
	p.checkIdleLocked()
	p.mu.Unlock()
	for _, u := range units {
		u.fail(ErrShutdown)
	}
	<-p.gone
	p.stopHelpers()
	return nil
}

// stopHelpers ends the spawner and monitor goroutines and waits for every
// worker goroutine.
func (p *Pool) stopHelpers() {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopSpawner = true
		p.stopBackoffLocked()
		p.mu.Unlock()
		select {
		case p.spawnWake <- struct{}{}:
		default:
		}
		close(p.monitorStop)
	})
	<-p.spawnerDone
	<-p.monitorDone
	p.wg.Wait()
}

// WorkerStats describes one worker process.
type WorkerStats struct {
	// ID is the pool's number for the worker (1, 2, ...; replacements get
	// new numbers); PID its process id (0 while starting).
	ID, PID int
	// State is "starting", "ready" or "draining" (retiring).
	State string
	// InFlight is the number of calls (or chunks) sent and not answered.
	InFlight int
	// Calls and Failed count the calls the worker answered, and those of
	// them that failed.
	Calls, Failed uint64
	// Busy is the time the worker reported spending in calls.
	Busy time.Duration
	// Started is when the pool started the worker.
	Started time.Time
	// RSS is the worker's resident memory in bytes, read from /proc.
	RSS int64
}

// Stats is a snapshot of a pool.
type Stats struct {
	// Workers are the live workers, by ID.
	Workers []WorkerStats
	// Queued is the number of calls waiting for a worker.
	Queued int
	// Spawned counts worker processes started; Crashed those that died on
	// their own; Killed those the pool stopped (deadline, protocol);
	// Recycled those retired by WithMaxTasksPerWorker or WithMaxMemory; IdleRetired
	// those retired by WithIdleTimeout.
	Spawned, Crashed, Killed, Recycled, IdleRetired uint64
	// TimedOut counts calls that passed their deadline in a worker; Retried
	// the calls sent again after a crash.
	TimedOut, Retried uint64
	// FailedStarts counts worker processes that died or failed before
	// they were ready (included in Spawned).
	FailedStarts uint64
	// Submitted, Completed and Failed count calls.
	Submitted, Completed, Failed uint64
}

// Stats returns a snapshot of the pool and each worker. Python's pools
// expose nothing comparable.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{
		Queued: p.queuedCalls, Spawned: p.st.spawned, Crashed: p.st.crashed, Killed: p.st.killed,
		Recycled: p.st.recycled, IdleRetired: p.st.idleRetired, TimedOut: p.st.timedOut, Retried: p.st.retried, FailedStarts: p.st.failedStarts,
		Submitted: p.st.submitted, Completed: p.st.completed, Failed: p.st.failed,
	}
	for _, w := range p.workers {
		s.Workers = append(s.Workers, WorkerStats{
			ID: w.id, PID: w.pid, State: w.state.String(), InFlight: len(w.inflight),
			Calls: w.done, Failed: w.failed, Busy: w.busy, Started: w.started,
		})
	}
	p.mu.Unlock()
	for i := range s.Workers {
		if s.Workers[i].PID != 0 {
			s.Workers[i].RSS = readRSS(s.Workers[i].PID)
		}
	}
	return s
}

package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultStallAfter is how long an executor's tasks may make no progress
// before WatchStalls first says so.
const DefaultStallAfter = 10 * time.Second

// maxStallInterval bounds the time between two reports of one stall.
const maxStallInterval = 5 * time.Minute

// StallOptions configures WatchStalls.
type StallOptions struct {
	// After is how long the tasks may make no progress (no result arrives,
	// none is in flight on a worker) before the first report; 0 means
	// DefaultStallAfter. Later reports of the same stall come after twice
	// the previous wait, at most every 5 minutes.
	After time.Duration
	// Function is the function whose tasks are awaited, for the diagnosis
	// (which workers run it); "" means any function of the queue.
	Function string
	// Report receives each message: one line without a newline. It is
	// called from the watcher's goroutine, never concurrently with itself.
	Report func(msg string)
}

// WatchStalls watches the unfinished tasks of e in a goroutine and reports
// through o.Report when nothing can make progress, instead of a silent wait:
// when the server has been unreachable for o.After ("the server at URL is
// unreachable (for 10s), retrying"), and when tasks are pending but no
// result came and no worker has taken one for o.After ("no worker has taken
// a job for 10s: no live worker runs command jobs on queue default"). It
// reports again, less and less often, while the stall lasts, and once when
// it ends. It never cancels anything: the caller keeps waiting unless told
// otherwise. It stops when ctx ends or the returned stop is called (stop
// waits for the goroutine).
//
// Python's RQ and Dask clients wait silently in the same situation; this is
// trident's addition.
func (e *Executor) WatchStalls(ctx context.Context, o StallOptions) (stop func()) {
	if o.After <= 0 {
		o.After = DefaultStallAfter
	}
	if o.Report == nil {
		o.Report = func(string) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := &stallWatch{ex: e, o: o}
		s.run(ctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

type stallWatch struct {
	ex *Executor
	o  StallOptions

	lastProgress time.Time // last result, or last time nothing was pending or a task was in flight
	completed    int64

	offlineSince time.Time // zero while connected
	offlineNext  time.Time // next unreachable report
	offlineWait  time.Duration
	offlineSaid  bool

	stallNext time.Time // next no-worker report
	stallWait time.Duration
	stallSaid bool
}

func (s *stallWatch) run(ctx context.Context) {
	tick := min(max(s.o.After/5, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	s.lastProgress = time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.check(ctx, now)
		}
	}
}

func (s *stallWatch) check(ctx context.Context, now time.Time) {
	st := s.ex.Stats()
	if st.Pending == 0 || st.Completed != s.completed {
		s.completed = st.Completed
		s.progress(now)
	}
	// The server first: nothing moves without it.
	if !s.ex.conn.nc.IsConnected() {
		if s.offlineSince.IsZero() {
			s.offlineSince, s.offlineWait = now, s.o.After
			s.offlineNext = now.Add(s.o.After)
		}
		if !now.Before(s.offlineNext) {
			s.o.Report(fmt.Sprintf("the server at %s is unreachable (for %s), retrying",
				s.ex.conn.URL(), now.Sub(s.offlineSince).Round(time.Second/10)))
			s.offlineSaid = true
			s.offlineWait = min(2*s.offlineWait, maxStallInterval)
			s.offlineNext = now.Add(s.offlineWait)
		}
		return
	}
	if !s.offlineSince.IsZero() {
		if s.offlineSaid {
			s.o.Report(fmt.Sprintf("reconnected to the server at %s after %s", s.ex.conn.URL(), now.Sub(s.offlineSince).Round(time.Second/10)))
		}
		s.offlineSince, s.offlineSaid = time.Time{}, false
		// A reconnect resubmits the pending tasks: give them time.
		s.progress(now)
	}
	if st.Pending == 0 || now.Sub(s.lastProgress) < s.o.After || now.Before(s.stallNext) {
		return
	}
	// Nothing came back for a while: is any task on a worker at all?
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, err := GetStatus(dctx, s.ex.conn, s.ex.queue, 500*time.Millisecond)
	if ctx.Err() != nil {
		return
	}
	if err == nil && s.inFlight(status) > 0 {
		s.progress(now) // long tasks are running: not a stall
		return
	}
	if s.stallWait == 0 {
		s.stallWait = s.o.After
	}
	s.o.Report(fmt.Sprintf("no worker has taken a job for %s: %s", now.Sub(s.lastProgress).Round(time.Second/10), s.diagnose(status, err)))
	s.stallSaid = true
	s.stallWait = min(2*s.stallWait, maxStallInterval)
	s.stallNext = now.Add(s.stallWait)
}

// progress records that the tasks moved; it ends a reported stall.
func (s *stallWatch) progress(now time.Time) {
	s.lastProgress = now
	if s.stallSaid {
		s.o.Report("a worker took the jobs; going on")
	}
	s.stallSaid, s.stallWait, s.stallNext = false, 0, time.Time{}
}

func (s *stallWatch) inFlight(st *Status) int {
	n := 0
	for _, f := range st.Functions {
		if s.o.Function == "" || f.Name == s.o.Function {
			n += f.InFlight
		}
	}
	return n
}

// diagnose says why no worker takes the tasks, as far as the status tells.
func (s *stallWatch) diagnose(st *Status, err error) string {
	what := "its functions"
	switch s.o.Function {
	case "":
	case CommandFunc:
		what = "command jobs"
	default:
		what = fmt.Sprintf("function %q", s.o.Function)
	}
	queue := s.ex.queue
	if err != nil {
		return fmt.Sprintf("cannot ask the server which workers run %s on queue %q (%v); still waiting", what, queue, err)
	}
	onQueue, runIt := 0, 0
	var busy, slots int64
	for _, w := range st.Workers {
		if w.Queue != queue {
			continue
		}
		onQueue++
		if s.o.Function == "" || slices.Contains(w.Functions, s.o.Function) {
			runIt++
			busy += w.Running
			slots += int64(w.Concurrency)
		}
	}
	switch {
	case onQueue == 0:
		others := ""
		if n := len(st.Workers); n > 0 {
			others = fmt.Sprintf(" (%d worker(s) answer on other queues)", n)
		}
		return fmt.Sprintf("no live worker runs %s on queue %q%s; still waiting", what, queue, others)
	case runIt == 0:
		return fmt.Sprintf("no live worker runs %s on queue %q (%d worker(s) there run other functions); still waiting", what, queue, onQueue)
	case busy >= slots:
		return fmt.Sprintf("the %d worker(s) that run %s on queue %q are busy with other tasks (%d of %d slots); still waiting", runIt, what, queue, busy, slots)
	default:
		return fmt.Sprintf("%d worker(s) run %s on queue %q but took nothing; still waiting", runIt, what, queue)
	}
}

// ParseStallAfter reads a stall delay as the CLI takes it (from
// $TRIDENT_CLUSTER_STALL_WARN): a duration such as "10s", "" for
// DefaultStallAfter, "0" or "off" for no reports (off is true).
func ParseStallAfter(v string) (after time.Duration, off bool, err error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return DefaultStallAfter, false, nil
	case "0", "off", "never":
		return 0, true, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, false, fmt.Errorf("cluster: stall delay %q: want a duration such as 10s, or off", v)
	}
	if d == 0 {
		return 0, true, nil
	}
	return d, false, nil
}

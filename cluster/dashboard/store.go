package dashboard

import (
	"context"
	"errors"
	"time"
)

// Store is what the dashboard reads and acts on: the job queue seen from an
// operator's chair. The cluster's durable job queue implements it through an
// adapter; NewMemStore is an in-memory one for tests and examples.
//
// There is no Watch method on purpose: the dashboard polls Overview on a
// timer (Options.Refresh, one poll for all open pages, whatever their number)
// and tells the pages, over Server-Sent Events, when it changed. Rates move
// every second anyway, so the overview has to be read periodically; one read
// per period bounds the load a busy queue (tens of thousands of changes a
// second) puts on the store and on the browsers; and an adapter stays a few
// read calls with no goroutine or channel lifetime to get right.
//
// Every method may be called concurrently. Overview and Jobs are called
// often and should be cheap: counts kept up to date rather than recounted,
// jobs listed from an index rather than a scan.
type Store interface {
	// Overview returns the queues with their depth and rates, and the live
	// workers.
	Overview(ctx context.Context) (Overview, error)
	// Jobs returns one page of the jobs matching f, newest enqueued first.
	Jobs(ctx context.Context, f Filter) (Page, error)
	// Job returns one job with everything known about it. It returns an
	// error wrapping ErrNotFound when there is no job id.
	Job(ctx context.Context, id string) (Job, error)
	// Cancel cancels a job that has not ended (queued, scheduled, deferred
	// or started). It returns ErrNotFound when there is no such job and
	// ErrConflict when the job has already ended.
	Cancel(ctx context.Context, id string) error
	// Requeue puts a failed or cancelled job back in its queue (RQ's
	// failed-job registry requeue). It returns ErrNotFound when there is no
	// such job and ErrConflict when the job is in another state.
	Requeue(ctx context.Context, id string) error
}

// Errors a Store returns (wrapped or not); the dashboard answers 404 and 409
// for them.
var (
	ErrNotFound = errors.New("dashboard: no such job")
	ErrConflict = errors.New("dashboard: the job's state does not allow this action")
)

// State is a job's state, as in RQ's JobStatus.
type State string

// The states of a job. Queued, scheduled, deferred and started jobs are
// pending; finished, failed and cancelled ones have ended.
const (
	Queued    State = "queued"    // waiting in its queue
	Scheduled State = "scheduled" // waiting for its time (enqueue_at / enqueue_in, or a retry's backoff)
	Deferred  State = "deferred"  // waiting for the jobs it depends on
	Started   State = "started"   // running on a worker
	Finished  State = "finished"  // ended with a result
	Failed    State = "failed"    // ended with an error, no retry left
	Cancelled State = "cancelled" // cancelled by a user or because a dependency failed
)

// States lists every state in the order the dashboard shows them.
var States = []State{Queued, Scheduled, Deferred, Started, Finished, Failed, Cancelled}

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Ended reports whether s is a final state (finished, failed, cancelled).
func (s State) Ended() bool { return s == Finished || s == Failed || s == Cancelled }

// Overview is the dashboard's top panel.
type Overview struct {
	Queues  []Queue  `json:"queues"`
	Workers []Worker `json:"workers"`
	// Revision, when not zero, changes whenever any job changes (a KV
	// bucket's last sequence will do). The page reloads its job list and
	// the open job when it changes. Zero means unknown: the dashboard then
	// compares the depths and the workers' current jobs instead.
	Revision uint64 `json:"revision,omitempty"`
}

// Queue is one queue's depth by state and its recent rates.
type Queue struct {
	Name string `json:"name"`
	// Depth counts the queue's jobs in each state; a missing state is 0.
	// Ended jobs count until their result TTL expires.
	Depth map[State]int `json:"depth"`
	// EnqueuedPerSec and FinishedPerSec are recent rates (jobs enqueued,
	// jobs ended in any final state), over a window the store picks.
	EnqueuedPerSec float64 `json:"enqueued_per_sec"`
	FinishedPerSec float64 `json:"finished_per_sec"`
}

// Worker is one live worker process.
type Worker struct {
	ID     string   `json:"id"`
	Host   string   `json:"host"`
	Queues []string `json:"queues,omitempty"`
	// Slots is how many jobs it runs at once, Busy how many it runs now.
	Slots int `json:"slots"`
	Busy  int `json:"busy"`
	// Current holds the IDs of the jobs it is running.
	Current  []string  `json:"current"`
	LastSeen time.Time `json:"last_seen"`
}

// Filter selects a page of jobs. Zero fields select everything.
type Filter struct {
	State    State  // only jobs in this state
	Queue    string // only jobs of this queue
	IDPrefix string // only jobs whose ID starts with this
	// Limit is the page size; the dashboard always sets it (1..500).
	Limit int
	// Cursor is a Page.Next from a previous call with the same filter; ""
	// is the first page.
	Cursor string
}

// Page is one page of jobs.
type Page struct {
	// Jobs are summaries: a store may leave Args, Result, Stack and
	// Timeline empty here (Job returns them).
	Jobs []Job `json:"jobs"`
	// Next is the cursor of the next page, "" on the last one.
	Next string `json:"next,omitempty"`
	// Total is the number of jobs matching the filter, or -1 when the
	// store cannot count it cheaply.
	Total int `json:"total"`
}

// Job is everything the dashboard shows about one job (RQ's Job).
type Job struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
	// Function is the registered function's name, or Command the command
	// line of a command job; one of them is set.
	Function string   `json:"function,omitempty"`
	Command  []string `json:"command,omitempty"`
	// Args is the argument as JSON text ("" when none). A store whose
	// arguments are not JSON (a gob-encoded one) puts a readable rendering
	// here: the page shows JSON indented and anything else as it is.
	Args  string `json:"args,omitempty"`
	State State  `json:"state"`
	// Worker is the ID of the worker running it or that ran it last.
	Worker   string `json:"worker,omitempty"`
	Attempts int    `json:"attempts"`
	// Result is the result as JSON text (or, as for Args, a readable
	// rendering), for a finished job.
	Result string `json:"result,omitempty"`
	// Error and Stack describe the last failure.
	Error string `json:"error,omitempty"`
	Stack string `json:"stack,omitempty"`
	// Zero times are not yet reached.
	EnqueuedAt  time.Time `json:"enqueued_at"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"` // when a scheduled job is due
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// DependsOn lists the IDs of the jobs it waits for (RQ's depends_on).
	DependsOn []string `json:"depends_on,omitempty"`
	// Timeline is the job's history, oldest first.
	Timeline []Event `json:"timeline,omitempty"`
}

// Event is one step of a job's history.
type Event struct {
	At    time.Time `json:"at"`
	State State     `json:"state"`
	Note  string    `json:"note,omitempty"` // e.g. "worker w1", "retry 2 in 4s", the error
}

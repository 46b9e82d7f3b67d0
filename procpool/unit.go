package procpool

import (
	"context"
	"errors"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// unit is what travels in one call frame: one call (futs has one future),
// a chunk of separately encoded calls (futs has one per call), or a chunk
// encoded as one value (chunks with the range lo..hi). A unit with a job is
// a placeholder in the queue that cuts units from a Map.
type unit struct {
	id       uint64
	name     string
	flags    uint64
	payloads [][]byte
	futs     []*future.Future[[]byte]
	chunks   registry.Chunks
	lo, hi   int
	ctx      context.Context
	attempts int
	job      *mapJob // set on a queue placeholder
	from     *mapJob // the Map this unit was cut from

	w         *worker
	stop      func() bool
	delivered bool // failed already (its deadline passed, or a chunk's context ended)
}

// Call frame flags.
const flagBatch = 1 // one payload holding a whole chunk: run with InvokeBatch

func (u *unit) calls() int {
	if u.chunks != nil {
		return u.hi - u.lo
	}
	return len(u.futs)
}

// fail completes every call of the unit with err. It is called exactly once
// per unit, outside the pool lock.
func (u *unit) fail(err error) {
	if u.chunks != nil {
		u.chunks.Deliver(u.lo, u.hi, nil, err)
		return
	}
	for _, f := range u.futs {
		f.Complete(nil, err)
	}
}

// end fails the unit with err like fail, except that an err matching
// future.ErrCancelled leaves the futures Cancelled rather than Failed. It is
// called outside the pool lock.
func (u *unit) end(err error) {
	if u.chunks != nil || !errors.Is(err, future.ErrCancelled) {
		u.fail(err) // registry's Deliver cancels on such an error
		return
	}
	for _, f := range u.futs {
		f.CompleteCancelled(err)
	}
}

// cancel cancels every call of a queued unit and reports how many.
func (u *unit) cancel() int {
	if u.chunks != nil {
		u.chunks.Deliver(u.lo, u.hi, nil, future.ErrCancelled)
		return u.hi - u.lo
	}
	n := 0
	for _, f := range u.futs {
		if f.Cancel() || f.Complete(nil, future.ErrCancelled) {
			n++
		}
	}
	return n
}

// mapJob is a Map waiting in the queue; chunks are cut from it as workers
// free up, so that their size can follow the measured call time.
type mapJob struct {
	name     string
	ctx      context.Context
	payloads [][]byte                 // MapRaw
	futs     []*future.Future[[]byte] // MapRaw
	chunks   registry.Chunks          // SubmitChunks
	n        int
	next     int
	chunk    int         // 0 = automatic
	probe    int         // automatic size before a measurement exists
	stop     func() bool // ends the watch of ctx while calls of SubmitChunks wait
}

// rest returns the calls not cut yet as one unit, and marks them taken.
func (j *mapJob) rest() *unit {
	u := &unit{name: j.name, ctx: j.ctx}
	if j.chunks != nil {
		u.chunks, u.lo, u.hi = j.chunks, j.next, j.n
	} else {
		u.futs = j.futs[j.next:]
	}
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

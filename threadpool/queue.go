package threadpool

import "sync/atomic"

// chunkSize is the number of tasks in one block of the queue.
const chunkSize = 128

// chunk is one fixed-size block of the queue: a slice of the FIFO between
// the read index r and the write index w.
type chunk struct {
	t    [chunkSize]task
	r, w int
	next *chunk
}

// queue is an unbounded FIFO of tasks kept as a linked list of fixed-size
// chunks. It is guarded by Pool.mu.
//
// Memory follows the backlog: a chunk whose tasks have all been taken is
// put on a free list and reused by later pushes, so a steady bursty load
// allocates nothing once warm, and nothing is ever copied (a growing ring
// copies the whole backlog on each doubling and keeps the largest buffer it
// ever needed). The free list keeps at most as many chunks as the busiest
// recent burst used. Once the tasks taken since the last trim amount to a
// few times what the free list can hold, the next time the queue runs
// empty half of the surplus over the busiest burst since then is dropped
// for the garbage collector; trim(0) drops all of it (the pool does that
// when a worker retires for idleness).
type queue struct {
	head, tail *chunk // tail is where pushes go; nil when no chunk is held
	n          int
	free       *chunk // free list, linked through next
	nfree      int
	inUse      int // chunks in the list from head to tail
	peak       int // most chunks in use since the last trim
	keep       int // how many free chunks to keep
	popped     int // tasks taken since the last trim
	// nonEmpty mirrors n > 0 for lock-free readers (spinning workers). It
	// is written only when the queue turns empty or non-empty, not on
	// every push and pop: an atomic store is a full fence, and the line is
	// polled by a spinner.
	nonEmpty atomic.Bool
}

func (q *queue) push(t task) {
	c := q.tail
	if c == nil || c.w == chunkSize {
		nc := q.free
		if nc != nil {
			q.free = nc.next
			nc.next = nil
			q.nfree--
		} else {
			nc = new(chunk)
		}
		if c == nil {
			q.head = nc
		} else {
			c.next = nc
		}
		q.tail = nc
		c = nc
		q.inUse++
		q.peak = max(q.peak, q.inUse)
	}
	c.t[c.w] = t
	c.w++
	q.n++
	if q.n == 1 {
		q.nonEmpty.Store(true)
	}
}

// pop removes and returns the oldest task; the queue must not be empty.
func (q *queue) pop() task {
	c := q.head
	t := c.t[c.r]
	c.t[c.r] = task{}
	c.r++
	q.n--
	q.popped++
	if q.n == 0 {
		q.nonEmpty.Store(false)
		// Keep the one chunk left for the next push, emptied in place.
		c.r, c.w = 0, 0
		q.emptied()
	} else if c.r == chunkSize {
		q.head = c.next
		q.release(c)
	}
	return t
}

// release puts a consumed chunk on the free list, or drops it when the
// free list already holds what the recent bursts needed.
func (q *queue) release(c *chunk) {
	q.inUse--
	c.r, c.w, c.next = 0, 0, nil
	if q.nfree < max(q.keep, q.peak) {
		c.next = q.free
		q.free = c
		q.nfree++
	}
}

// trimEvery is how many times its own capacity the free list must have
// served (in tasks taken) before it is trimmed.
const trimEvery = 4

// emptied adapts the free list when the queue has just run empty: keep
// enough chunks for the biggest burst since the last trim, and once enough
// work has flowed, give back half of the surplus kept for earlier, bigger
// bursts.
func (q *queue) emptied() {
	q.keep = max(q.keep, q.peak)
	if q.popped < trimEvery*chunkSize*max(q.keep, 1) {
		return
	}
	q.trim(q.keep - (q.keep-q.peak+1)/2)
}

// trim keeps at most keep free chunks and starts a new trim period.
func (q *queue) trim(keep int) {
	q.keep = keep
	for q.nfree > q.keep {
		c := q.free
		q.free = c.next
		c.next = nil
		q.nfree--
	}
	q.peak = q.inUse
	q.popped = 0
}

// drain removes and returns every queued task in FIFO order.
func (q *queue) drain() []task {
	if q.n == 0 {
		return nil
	}
	out := make([]task, q.n)
	for i := range out {
		out[i] = q.pop()
	}
	return out
}

// releaseAll gives every chunk not holding a task back to the garbage
// collector: the free list and, when the queue is empty, its last chunk.
func (q *queue) releaseAll() {
	q.trim(0)
	if q.n == 0 && q.head != nil {
		q.head, q.tail = nil, nil
		q.inUse = 0
		q.peak = 0
	}
}

package aio

import (
	"errors"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/syncx"
)

// Errors of Queue.
var (
	// ErrQueueFull is returned by PutNowait on a full queue (asyncio.QueueFull).
	ErrQueueFull = future.Sentinel("aio: queue full", syncx.ErrQueueFull)
	// ErrQueueEmpty is returned by GetNowait on an empty queue (asyncio.QueueEmpty).
	ErrQueueEmpty = errors.New("aio: queue empty")
	// ErrTaskDoneTooMany is returned by TaskDone called more often than items
	// were put (Python's ValueError).
	ErrTaskDoneTooMany = errors.New("aio: TaskDone called more times than there were items")
	// ErrQueueShutdown is returned by Put and PutNowait on a queue that has
	// been shut down, and by Get and GetNowait once such a queue is empty
	// (Python 3.13's asyncio.QueueShutDown).
	ErrQueueShutdown = errors.New("aio: queue shut down")
)

// Queue is a FIFO queue for the coroutines of one loop (Python's
// asyncio.Queue), with TaskDone/Join to wait until every item put has been
// processed. Create it with NewQueue.
type Queue[V any] struct {
	loop       *Loop
	items      []V
	head       int
	max        int
	unfinished int
	shutdown   bool
	getters    waitQueue
	putters    waitQueue
	finished   Event
}

// NewQueue returns a queue holding at most maxsize items (0 or less:
// unbounded), as Python's asyncio.Queue(maxsize); syncx.NewQueue is the same
// for goroutines.
func NewQueue[V any](maxsize int) *Queue[V] {
	if maxsize < 0 {
		maxsize = 0
	}
	q := &Queue[V]{max: maxsize}
	q.finished.set = true
	return q
}

// Len returns the number of items queued (Python's qsize).
func (q *Queue[V]) Len() int { return len(q.items) - q.head }

// Empty reports whether the queue holds no item (Python's empty).
func (q *Queue[V]) Empty() bool { return q.Len() == 0 }

// Full reports whether the queue is at its maximum size (Python's full).
func (q *Queue[V]) Full() bool { return q.max > 0 && q.Len() >= q.max }

// Put adds v, suspending while the queue is full (Python's put). On a
// queue that is shut down, or shut down while Put waits, it returns
// ErrQueueShutdown and v is not added.
func (q *Queue[V]) Put(t *T, v V) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&q.loop, t); err != nil {
		return err
	}
	for q.Full() {
		if q.shutdown {
			return ErrQueueShutdown
		}
		w, err := t.waitIn(&q.putters)
		if err != nil {
			if w.granted && !q.Full() {
				q.wakeOne(&q.putters) // pass the wake-up on
			}
			return err
		}
	}
	return q.PutNowait(v)
}

// PutNowait adds v or returns ErrQueueFull (Python's put_nowait, which
// raises QueueFull), or ErrQueueShutdown once the queue is shut down.
func (q *Queue[V]) PutNowait(v V) error {
	if q.shutdown {
		return ErrQueueShutdown
	}
	if q.Full() {
		return ErrQueueFull
	}
	q.put(v)
	return nil
}

func (q *Queue[V]) put(v V) {
	q.items = append(q.items, v)
	q.unfinished++
	q.finished.Clear()
	q.wakeOne(&q.getters)
}

func (q *Queue[V]) wakeOne(wq *waitQueue) {
	if w := wq.pop(); w != nil {
		w.wake()
	}
}

// Get removes and returns the first item, suspending while the queue is
// empty (Python's get). Once the queue is shut down, Get returns the items
// left, then ErrQueueShutdown; a Get waiting on an empty queue returns it
// as soon as the queue is shut down.
func (q *Queue[V]) Get(t *T) (V, error) {
	var zero V
	if err := t.enter(); err != nil {
		return zero, err
	}
	if err := bind(&q.loop, t); err != nil {
		return zero, err
	}
	for q.Empty() {
		if q.shutdown {
			return zero, ErrQueueShutdown
		}
		w, err := t.waitIn(&q.getters)
		if err != nil {
			if w.granted && !q.Empty() {
				q.wakeOne(&q.getters)
			}
			return zero, err
		}
	}
	return q.get(), nil
}

// GetNowait removes and returns the first item or returns ErrQueueEmpty
// (Python's get_nowait, which raises QueueEmpty), or ErrQueueShutdown if
// the queue is empty and shut down.
func (q *Queue[V]) GetNowait() (V, error) {
	if q.Empty() {
		var zero V
		if q.shutdown {
			return zero, ErrQueueShutdown
		}
		return zero, ErrQueueEmpty
	}
	return q.get(), nil
}

func (q *Queue[V]) get() V {
	var zero V
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	} else if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.wakeOne(&q.putters)
	return v
}

// TaskDone marks one item taken with Get as processed (Python's
// task_done). When every item put has been marked, Join returns.
func (q *Queue[V]) TaskDone() error {
	if q.unfinished <= 0 {
		return ErrTaskDoneTooMany
	}
	q.unfinished--
	if q.unfinished == 0 {
		q.finished.Set()
	}
	return nil
}

// Join suspends until every item put has been marked with TaskDone
// (Python's join).
func (q *Queue[V]) Join(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&q.loop, t); err != nil {
		return err
	}
	return q.finished.Wait(t)
}

// Shutdown shuts the queue down (Python 3.13's Queue.shutdown): from now
// on Put and PutNowait return ErrQueueShutdown, coroutines waiting in Put
// wake up with it (their items are not added), and Get returns the items
// left, then ErrQueueShutdown, at once for coroutines waiting on an empty
// queue. With immediate true the items left are dropped as well, each
// counting as done for Join (TaskDone is not needed for them), so that
// Get fails at once too. Calling it again is allowed; an immediate call
// after a plain one still drops the items. Loop only.
func (q *Queue[V]) Shutdown(immediate bool) {
	q.shutdown = true
	if immediate {
		for !q.Empty() {
			q.get()
			if q.unfinished > 0 {
				q.unfinished--
			}
		}
		if q.unfinished == 0 {
			q.finished.Set()
		}
	}
	// Every waiter re-checks: getters fail once the queue is empty,
	// putters at once.
	for w := q.getters.pop(); w != nil; w = q.getters.pop() {
		w.wake()
	}
	for w := q.putters.pop(); w != nil; w = q.putters.pop() {
		w.wake()
	}
}

// IsShutdown reports whether Shutdown has been called (Python 3.13 keeps
// this private as _is_shutdown).
func (q *Queue[V]) IsShutdown() bool { return q.shutdown }

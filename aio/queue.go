package aio

import "errors"

// Errors of Queue.
var (
	// ErrQueueFull is returned by PutNowait on a full queue (asyncio.QueueFull).
	ErrQueueFull = errors.New("aio: queue full")
	// ErrQueueEmpty is returned by GetNowait on an empty queue (asyncio.QueueEmpty).
	ErrQueueEmpty = errors.New("aio: queue empty")
	// ErrTaskDoneTooMany is returned by TaskDone called more often than items
	// were put (Python's ValueError).
	ErrTaskDoneTooMany = errors.New("aio: TaskDone called more times than there were items")
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
	getters    waitQueue
	putters    waitQueue
	finished   Event
}

// NewQueue returns a queue holding at most maxsize items (0 or less:
// unbounded).
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

// Put adds v, suspending while the queue is full (Python's put).
func (q *Queue[V]) Put(t *T, v V) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&q.loop, t); err != nil {
		return err
	}
	for q.Full() {
		w, err := t.waitIn(&q.putters)
		if err != nil {
			if w.granted && !q.Full() {
				q.wakeOne(&q.putters) // pass the wake-up on
			}
			return err
		}
	}
	q.put(v)
	return nil
}

// PutNowait adds v or returns ErrQueueFull (Python's put_nowait, which
// raises QueueFull).
func (q *Queue[V]) PutNowait(v V) error {
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
// empty (Python's get).
func (q *Queue[V]) Get(t *T) (V, error) {
	var zero V
	if err := t.enter(); err != nil {
		return zero, err
	}
	if err := bind(&q.loop, t); err != nil {
		return zero, err
	}
	for q.Empty() {
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
// (Python's get_nowait, which raises QueueEmpty).
func (q *Queue[V]) GetNowait() (V, error) {
	if q.Empty() {
		var zero V
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

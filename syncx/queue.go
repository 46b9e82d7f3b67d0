package syncx

import (
	"cmp"
	"context"
	"errors"
	"sync"
)

// Queue is a multi-producer, multi-consumer queue of T with Python's task
// accounting: every Put counts an unfinished task, consumers call TaskDone
// when they have processed an item, and Join waits until every item put has
// been processed. It can be unbounded or bounded (maxsize), and it can be
// shut down so that blocked producers and consumers wake up with
// ErrQueueShutdown. Create it with NewQueue (FIFO), NewLifoQueue (LIFO),
// NewPriorityQueue or NewOrderedPriorityQueue (smallest first).
//
// Python: queue.Queue, queue.LifoQueue and queue.PriorityQueue in one
// generic type. Differences: Get, Put and Join take a context instead of
// block/timeout arguments and return ctx.Err() when it ends (a cancelled Get
// takes no item, a cancelled Put inserts none); get_nowait/put_nowait are
// GetNowait/PutNowait and report ErrQueueEmpty/ErrQueueFull as errors; too many
// TaskDone calls return ErrTaskDoneTooMany instead of raising ValueError;
// priority order comes from a less function (or cmp.Less) instead of tuple
// comparison.
//
// Waiting consumers are served in arrival order, and so are waiting
// producers: an item put while consumers wait is handed straight to the one
// that has waited longest.
type Queue[T any] struct {
	mu         sync.Mutex
	items      store[T]
	max        int // 0: unbounded
	getters    waitList[T]
	putters    waitList[T] // each holds the item it wants to put
	unfinished int
	joinCh     chan struct{} // closed when unfinished reaches 0; nil if nobody joined
	shutdown   bool
	pool       sync.Pool // of *waiter[T]
}

func newQueue[T any](s store[T], maxsize int) *Queue[T] {
	return &Queue[T]{items: s, max: max(maxsize, 0)}
}

// NewQueue returns a first-in, first-out queue holding at most maxsize
// items (0 or less: unbounded). Python: queue.Queue(maxsize).
func NewQueue[T any](maxsize int) *Queue[T] {
	return newQueue[T](&ring[T]{}, maxsize)
}

// NewLifoQueue returns a last-in, first-out queue (a stack) holding at
// most maxsize items (0 or less: unbounded). Python:
// queue.LifoQueue(maxsize).
func NewLifoQueue[T any](maxsize int) *Queue[T] {
	return newQueue[T](&stack[T]{}, maxsize)
}

// NewPriorityQueue returns a queue holding at most maxsize items (0 or
// less: unbounded) that hands out the smallest item first, by less
// (less(a, b) reports whether a must come out before b). Items that compare
// equal come out in no particular order. Python:
// queue.PriorityQueue(maxsize), which orders by the items' own comparison
// instead. A nil less is an error.
func NewPriorityQueue[T any](maxsize int, less func(a, b T) bool) (*Queue[T], error) {
	if less == nil {
		return nil, errors.New("syncx: NewPriorityQueue needs a less function, got nil")
	}
	return newQueue[T](&heap[T]{less: less}, maxsize), nil
}

// NewOrderedPriorityQueue returns a priority queue of an ordered type,
// holding at most maxsize items (0 or less: unbounded), that hands out the
// smallest item first, as cmp.Less orders them. Python:
// queue.PriorityQueue(maxsize).
func NewOrderedPriorityQueue[T cmp.Ordered](maxsize int) *Queue[T] {
	return newQueue[T](&heap[T]{less: cmp.Less[T]}, maxsize)
}

func (q *Queue[T]) getWaiter() *waiter[T] {
	if w, ok := q.pool.Get().(*waiter[T]); ok {
		return w
	}
	return &waiter[T]{ch: make(chan struct{}, 1)}
}

// putWaiter recycles w; only call it when no signal is pending on w.ch.
func (q *Queue[T]) putWaiter(w *waiter[T]) {
	var zero T
	w.val, w.err = zero, nil
	q.pool.Put(w)
}

// Put adds v to the queue, blocking while a bounded queue is full. It
// returns ErrQueueShutdown if the queue is, or is shut down while Put waits,
// and ctx.Err() if ctx ends before v could be added, in which case v was not
// added. Python: Queue.put(item, block=True, timeout).
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	q.mu.Lock()
	if q.shutdown {
		q.mu.Unlock()
		return ErrQueueShutdown
	}
	if w := q.getters.popFront(); w != nil {
		// The queue is empty: hand v to the longest-waiting consumer.
		q.unfinished++
		w.val = v
		q.mu.Unlock()
		w.ch <- struct{}{}
		return nil
	}
	if q.max == 0 || q.items.len() < q.max {
		q.items.push(v)
		q.unfinished++
		q.mu.Unlock()
		return nil
	}
	w := q.getWaiter()
	w.val = v
	q.putters.pushBack(w)
	q.mu.Unlock()

	select {
	case <-w.ch:
	case <-ctx.Done():
		q.mu.Lock()
		if w.listed {
			q.putters.remove(w)
			q.mu.Unlock()
			q.putWaiter(w)
			return ctx.Err()
		}
		// Served at the same moment: the outcome is in w.err.
		err := w.err
		q.mu.Unlock()
		return err
	}
	err := w.err
	q.putWaiter(w)
	return err
}

// PutNowait adds v if that can be done without blocking. It returns
// ErrQueueFull if a bounded queue is full and ErrQueueShutdown after
// Shutdown. Python: Queue.put_nowait.
func (q *Queue[T]) PutNowait(v T) error {
	q.mu.Lock()
	if q.shutdown {
		q.mu.Unlock()
		return ErrQueueShutdown
	}
	if w := q.getters.popFront(); w != nil {
		q.unfinished++
		w.val = v
		q.mu.Unlock()
		w.ch <- struct{}{}
		return nil
	}
	if q.max == 0 || q.items.len() < q.max {
		q.items.push(v)
		q.unfinished++
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	return ErrQueueFull
}

// takeLocked pops the next item and lets the longest-waiting producer, if
// any, put its item in the freed slot. It returns that producer so that the
// caller can wake it after unlocking.
func (q *Queue[T]) takeLocked() (T, *waiter[T]) {
	v := q.items.pop()
	w := q.putters.popFront()
	if w != nil {
		q.items.push(w.val)
		q.unfinished++
		var zero T
		w.val = zero
	}
	return v, w
}

// Get removes and returns the next item, blocking while the queue is empty.
// It returns ErrQueueShutdown once the queue is shut down and empty, and
// ctx.Err() if ctx ends before an item is handed to it, in which case no
// item was taken. Python: Queue.get(block=True, timeout).
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	var zero T
	q.mu.Lock()
	if q.items.len() > 0 {
		v, p := q.takeLocked()
		q.mu.Unlock()
		if p != nil {
			p.ch <- struct{}{}
		}
		return v, nil
	}
	if q.shutdown {
		q.mu.Unlock()
		return zero, ErrQueueShutdown
	}
	w := q.getWaiter()
	q.getters.pushBack(w)
	q.mu.Unlock()

	select {
	case <-w.ch:
	case <-ctx.Done():
		q.mu.Lock()
		if w.listed {
			q.getters.remove(w)
			q.mu.Unlock()
			q.putWaiter(w)
			return zero, ctx.Err()
		}
		// An item (or the shutdown) was handed over at the same moment:
		// return it rather than lose it.
		v, err := w.val, w.err
		q.mu.Unlock()
		return v, err
	}
	v, err := w.val, w.err
	q.putWaiter(w)
	return v, err
}

// GetNowait removes and returns the next item if one is available. It returns
// ErrQueueEmpty if none is, or ErrQueueShutdown if the queue is shut down
// and empty. Python: Queue.get_nowait.
func (q *Queue[T]) GetNowait() (T, error) {
	var zero T
	q.mu.Lock()
	if q.items.len() > 0 {
		v, p := q.takeLocked()
		q.mu.Unlock()
		if p != nil {
			p.ch <- struct{}{}
		}
		return v, nil
	}
	sd := q.shutdown
	q.mu.Unlock()
	if sd {
		return zero, ErrQueueShutdown
	}
	return zero, ErrQueueEmpty
}

// TaskDone tells the queue that one item taken with Get has been processed.
// When every item put has been marked done, Join returns. It returns
// ErrTaskDoneTooMany, and changes nothing, if there is no unfinished task.
// Python: Queue.task_done, which raises ValueError instead.
func (q *Queue[T]) TaskDone() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.unfinished <= 0 {
		return ErrTaskDoneTooMany
	}
	q.unfinished--
	if q.unfinished == 0 && q.joinCh != nil {
		close(q.joinCh)
		q.joinCh = nil
	}
	return nil
}

// Join blocks until every item that was put has been marked with TaskDone
// (or was discarded by an immediate Shutdown), or until ctx ends, in which
// case it returns ctx.Err(). Python: Queue.join, which cannot time out.
func (q *Queue[T]) Join(ctx context.Context) error {
	q.mu.Lock()
	if q.unfinished == 0 {
		q.mu.Unlock()
		return nil
	}
	if q.joinCh == nil {
		q.joinCh = make(chan struct{})
	}
	ch := q.joinCh
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown shuts the queue down, as Python 3.13's Queue.shutdown does: Put
// and PutNowait fail with ErrQueueShutdown from now on, producers blocked in Put
// wake up with ErrQueueShutdown (their items are not added), and Get keeps
// returning the remaining items, then ErrQueueShutdown once the queue is
// empty (consumers blocked on an empty queue wake up with it at once). If
// immediate is true, the remaining items are discarded as well and each
// counts as done for Join. Calling Shutdown again is allowed; an immediate
// call after a non-immediate one still discards the items.
func (q *Queue[T]) Shutdown(immediate bool) {
	q.mu.Lock()
	q.shutdown = true
	if immediate {
		n := q.items.len()
		q.items.clear()
		q.unfinished -= n
		if q.unfinished < 0 {
			q.unfinished = 0
		}
		if q.unfinished == 0 && q.joinCh != nil {
			close(q.joinCh)
			q.joinCh = nil
		}
	}
	var wake []*waiter[T]
	for w := q.getters.popFront(); w != nil; w = q.getters.popFront() {
		w.err = ErrQueueShutdown
		wake = append(wake, w)
	}
	for w := q.putters.popFront(); w != nil; w = q.putters.popFront() {
		var zero T
		w.val = zero
		w.err = ErrQueueShutdown
		wake = append(wake, w)
	}
	q.mu.Unlock()
	for _, w := range wake {
		w.ch <- struct{}{}
	}
}

// Len returns the number of items in the queue. As in Python (qsize), the
// answer may be stale by the time it is used.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.items.len()
}

// Empty reports whether the queue holds no items (Python: Queue.empty); the
// answer may be stale by the time it is used.
func (q *Queue[T]) Empty() bool { return q.Len() == 0 }

// Full reports whether a bounded queue holds MaxSize items; it is always
// false for an unbounded queue (Python: Queue.full).
func (q *Queue[T]) Full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.max > 0 && q.items.len() >= q.max
}

// MaxSize returns the bound of the queue, or 0 if it is unbounded. Python:
// Queue.maxsize.
func (q *Queue[T]) MaxSize() int { return q.max }

// Unfinished returns the number of items put and not yet marked with
// TaskDone. Python: Queue.unfinished_tasks.
func (q *Queue[T]) Unfinished() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.unfinished
}

// waiter is a goroutine blocked in Get or Put. It is signalled at most once
// per wait through ch, after the signaller has set val/err under the queue's
// lock and removed it from its list.
type waiter[T any] struct {
	ch         chan struct{} // capacity 1
	val        T
	err        error
	prev, next *waiter[T]
	listed     bool
}

// waitList is an intrusive doubly linked FIFO of waiters.
type waitList[T any] struct {
	head, tail *waiter[T]
}

func (l *waitList[T]) pushBack(w *waiter[T]) {
	w.prev, w.next, w.listed = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
}

func (l *waitList[T]) popFront() *waiter[T] {
	w := l.head
	if w != nil {
		l.remove(w)
	}
	return w
}

func (l *waitList[T]) remove(w *waiter[T]) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next, w.listed = nil, nil, false
}

// store is the ordering policy of a Queue.
type store[T any] interface {
	push(v T)
	pop() T // only called when len() > 0
	len() int
	clear()
}

// ring is a growable circular buffer: FIFO order.
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		nb := make([]T, max(16, 2*len(r.buf)))
		k := copy(nb, r.buf[r.head:])
		copy(nb[k:], r.buf[:r.head])
		r.buf, r.head = nb, 0
	}
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = v
	r.n++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	return v
}

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) clear() { *r = ring[T]{} }

// stack: LIFO order.
type stack[T any] struct{ s []T }

func (s *stack[T]) push(v T) { s.s = append(s.s, v) }

func (s *stack[T]) pop() T {
	var zero T
	n := len(s.s) - 1
	v := s.s[n]
	s.s[n] = zero
	s.s = s.s[:n]
	return v
}

func (s *stack[T]) len() int { return len(s.s) }

func (s *stack[T]) clear() { s.s = nil }

// heap is a binary min-heap by less: priority order.
type heap[T any] struct {
	s    []T
	less func(a, b T) bool
}

func (h *heap[T]) push(v T) {
	h.s = append(h.s, v)
	i := len(h.s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.s[i], h.s[p]) {
			break
		}
		h.s[i], h.s[p] = h.s[p], h.s[i]
		i = p
	}
}

func (h *heap[T]) pop() T {
	var zero T
	n := len(h.s) - 1
	v := h.s[0]
	h.s[0] = h.s[n]
	h.s[n] = zero
	h.s = h.s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(h.s[r], h.s[l]) {
			m = r
		}
		if !h.less(h.s[m], h.s[i]) {
			break
		}
		h.s[i], h.s[m] = h.s[m], h.s[i]
		i = m
	}
	return v
}

func (h *heap[T]) len() int { return len(h.s) }

func (h *heap[T]) clear() { h.s = nil }

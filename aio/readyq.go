package aio

// readyQueue is the loop's FIFO of runnable tasks and callbacks: a list of
// fixed-size blocks, so that it grows without copying and a drained block is
// reused.
type readyQueue struct {
	head, tail *qblock
	hi, ti     int // next pop index in head, next push index in tail
	n          int
	spare      *qblock
}

const qblockSize = 256

type qblock struct {
	items [qblockSize]item
	next  *qblock
}

func (q *readyQueue) len() int { return q.n }

func (q *readyQueue) push(it item) {
	if q.tail == nil || q.ti == qblockSize {
		b := q.spare
		if b != nil {
			q.spare = nil
		} else {
			b = &qblock{}
		}
		if q.tail == nil {
			q.head, q.hi = b, 0
		} else {
			q.tail.next = b
		}
		q.tail, q.ti = b, 0
	}
	q.tail.items[q.ti] = it
	q.ti++
	q.n++
}

// peek returns the next item without removing it; the queue must not be empty.
func (q *readyQueue) peek() item { return q.head.items[q.hi] }

// pop removes and returns the next item; the queue must not be empty.
func (q *readyQueue) pop() item {
	b := q.head
	it := b.items[q.hi]
	b.items[q.hi] = item{}
	q.hi++
	q.n--
	if q.n == 0 {
		// Empty: rewind the block in place.
		q.hi, q.ti = 0, 0
		if b.next != nil { // cannot happen when empty, kept for safety
			b.next = nil
		}
		q.tail = b
		return it
	}
	if q.hi == qblockSize {
		q.head, q.hi = b.next, 0
		b.next = nil
		q.spare = b
	}
	return it
}

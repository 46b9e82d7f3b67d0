package threadpool

import "sync/atomic"

// ring is a growable FIFO of tasks in a power-of-two circular buffer. It is
// guarded by Pool.mu.
type ring struct {
	buf  []task
	head int
	n    int
	peak int // most tasks queued since the queue was last empty
	// mirror, when set, is kept equal to n for lock-free readers.
	mirror *atomic.Int64
}

// ringMin is the smallest buffer. The buffer doubles when full and halves
// when the queue empties after a burst that used less than a quarter of
// it, so a steady bursty load keeps its buffer (no regrowth, no garbage
// per burst) while the memory of a one-off huge burst is given back over
// the following ones.
const ringMin = 16

func (r *ring) push(t task) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = t
	r.n++
	r.peak = max(r.peak, r.n)
	r.mirror.Store(int64(r.n))
}

func (r *ring) pop() task {
	t := r.buf[r.head]
	r.buf[r.head] = task{}
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	r.mirror.Store(int64(r.n))
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > ringMin && r.peak < len(r.buf)/4 {
			r.buf = make([]task, len(r.buf)/2)
		}
		r.peak = 0
	}
	return t
}

func (r *ring) grow() {
	size := max(ringMin, 2*len(r.buf))
	nb := make([]task, size)
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf = nb
	r.head = 0
}

// drain removes and returns every queued task in FIFO order.
func (r *ring) drain() []task {
	if r.n == 0 {
		return nil
	}
	out := make([]task, r.n)
	for i := range out {
		out[i] = r.pop()
	}
	return out
}

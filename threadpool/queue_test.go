package threadpool

import (
	"context"
	"math/rand/v2"
	"testing"
)

// qtask makes a distinguishable task: its ctx carries the sequence number.
type seqKey struct{}

func qtask(i int) task {
	return task{x: context.WithValue(context.Background(), seqKey{}, i)}
}

func qseq(t task) int { return t.x.(context.Context).Value(seqKey{}).(int) }

func checkQueue(t *testing.T, q *queue) {
	t.Helper()
	if q.nonEmpty.Load() != (q.n > 0) {
		t.Fatalf("nonEmpty %v, n %d", q.nonEmpty.Load(), q.n)
	}
	nfree := 0
	for c := q.free; c != nil; c = c.next {
		nfree++
		if c.r != 0 || c.w != 0 {
			t.Fatalf("free chunk not reset: r=%d w=%d", c.r, c.w)
		}
		for i := range c.t {
			if c.t[i] != (task{}) {
				t.Fatalf("free chunk still references a task at %d", i)
			}
		}
	}
	if nfree != q.nfree {
		t.Fatalf("free list has %d chunks, nfree says %d", nfree, q.nfree)
	}
	n, inUse := 0, 0
	for c := q.head; c != nil; c = c.next {
		inUse++
		n += c.w - c.r
		if c.next == nil && c != q.tail {
			t.Fatal("tail is not the last chunk")
		}
	}
	if n != q.n || inUse != q.inUse {
		t.Fatalf("chunks hold %d tasks in %d chunks; n=%d inUse=%d", n, inUse, q.n, q.inUse)
	}
}

// TestQueueFIFO pushes and pops in random runs across chunk boundaries and
// checks order, bookkeeping, and that consumed slots drop their references.
func TestQueueFIFO(t *testing.T) {
	q := &queue{}
	rng := rand.New(rand.NewPCG(1, 2))
	next, want := 0, 0
	for range 300 {
		for range rng.IntN(3 * chunkSize) {
			q.push(qtask(next))
			next++
		}
		checkQueue(t, q)
		for k := rng.IntN(3*chunkSize + 1); k > 0 && q.n > 0; k-- {
			if got := qseq(q.pop()); got != want {
				t.Fatalf("popped %d, want %d", got, want)
			}
			want++
		}
		checkQueue(t, q)
	}
	rest := q.drain()
	for _, tk := range rest {
		if got := qseq(tk); got != want {
			t.Fatalf("drained %d, want %d", got, want)
		}
		want++
	}
	if want != next || q.n != 0 {
		t.Fatalf("got %d tasks back of %d; %d left", want, next, q.n)
	}
	checkQueue(t, q)
}

// TestQueueMemoryFollowsBacklog checks that a steady bursty load reuses its
// chunks (no allocation once warm), and that the memory of a one-off huge
// burst is given back as smaller bursts follow, and all of it on
// releaseAll.
func TestQueueMemoryFollowsBacklog(t *testing.T) {
	q := &queue{}
	tk := qtask(0)
	burst := func(n int) {
		for range n {
			q.push(tk)
		}
		for range n {
			q.pop()
		}
	}
	burst(10 * chunkSize)
	if allocs := testing.AllocsPerRun(20, func() { burst(10 * chunkSize) }); allocs != 0 {
		t.Errorf("steady bursts allocate %.1f chunks per burst, want 0", allocs)
	}
	burst(200 * chunkSize) // one-off big burst
	if q.nfree < 150 {
		t.Fatalf("after a big burst the free list holds %d chunks; expected it kept for reuse", q.nfree)
	}
	// The surplus is halved each time the tasks taken since the last trim
	// amount to trimEvery times the free list's capacity: 2000 bursts of
	// two chunks are enough to shed nearly all of it.
	for range 2000 {
		burst(2 * chunkSize)
	}
	if q.nfree > 8 {
		t.Errorf("after many small bursts the free list still holds %d chunks", q.nfree)
	}
	checkQueue(t, q)
	q.releaseAll()
	if q.nfree != 0 || q.head != nil || q.inUse != 0 {
		t.Errorf("releaseAll kept nfree=%d head=%v inUse=%d", q.nfree, q.head != nil, q.inUse)
	}
	burst(3)
	checkQueue(t, q)
}

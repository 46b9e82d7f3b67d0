package syncx

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestQueueConstructorMaxSize: a maxsize of 0 or less makes an unbounded
// queue, as Python's queue.Queue(maxsize) does; a nil less function is an
// error.
func TestQueueConstructorMaxSize(t *testing.T) {
	for _, n := range []int{0, -1} {
		for name, q := range map[string]*Queue[int]{
			"NewQueue":                NewQueue[int](n),
			"NewLifoQueue":            NewLifoQueue[int](n),
			"NewOrderedPriorityQueue": NewOrderedPriorityQueue[int](n),
		} {
			for i := range 100 {
				if err := q.PutNowait(i); err != nil {
					t.Fatalf("%s(%d): PutNowait #%d: %v, want an unbounded queue", name, n, i, err)
				}
			}
			if q.MaxSize() != 0 || q.Full() {
				t.Fatalf("%s(%d): MaxSize %d, Full %v; want 0, false", name, n, q.MaxSize(), q.Full())
			}
		}
	}
	if _, err := NewPriorityQueue[int](0, nil); err == nil {
		t.Fatal("NewPriorityQueue(0, nil): no error")
	}
}

// mustQ unwraps a constructor result; a failure is a bug in the test.
func mustQ[T any](q *Queue[T], err error) *Queue[T] {
	if err != nil {
		panic(err)
	}
	return q
}

func drain[T any](t *testing.T, q *Queue[T]) []T {
	t.Helper()
	var out []T
	for {
		v, err := q.GetNowait()
		if errors.Is(err, ErrQueueEmpty) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

func TestQueueOrders(t *testing.T) {
	in := []int{5, 1, 4, 2, 3, 9, 0}
	cases := []struct {
		name string
		q    *Queue[int]
		want []int
	}{
		{"fifo", NewQueue[int](0), []int{5, 1, 4, 2, 3, 9, 0}},
		{"lifo", NewLifoQueue[int](0), []int{0, 9, 3, 2, 4, 1, 5}},
		{"ordered priority", NewOrderedPriorityQueue[int](0), []int{0, 1, 2, 3, 4, 5, 9}},
		{"priority, largest first", mustQ(NewPriorityQueue(0, func(a, b int) bool { return a > b })), []int{9, 5, 4, 3, 2, 1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := guardCtx(t)
			for _, v := range in {
				if err := c.q.Put(ctx, v); err != nil {
					t.Fatal(err)
				}
			}
			if c.q.Len() != len(in) {
				t.Fatalf("Len = %d", c.q.Len())
			}
			got := drain(t, c.q)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

// The ring buffer must keep FIFO order across wrap-around and growth.
func TestQueueRingWrap(t *testing.T) {
	q := NewQueue[int](0)
	next, want := 0, 0
	for round := range 200 {
		for range round%37 + 1 {
			_ = q.PutNowait(next)
			next++
		}
		for range round % 23 {
			v, err := q.GetNowait()
			if errors.Is(err, ErrQueueEmpty) {
				break
			}
			if v != want {
				t.Fatalf("got %d, want %d", v, want)
			}
			want++
		}
	}
	for _, v := range drain(t, q) {
		if v != want {
			t.Fatalf("got %d, want %d", v, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("drained up to %d, put %d", want, next)
	}
}

func TestQueueBounded(t *testing.T) {
	q := NewQueue[string](2)
	if q.MaxSize() != 2 || !q.Empty() || q.Full() {
		t.Fatal("bad initial state")
	}
	ctx := guardCtx(t)
	_ = q.Put(ctx, "a")
	_ = q.Put(ctx, "b")
	if !q.Full() {
		t.Fatal("not Full with 2 of 2")
	}
	if err := q.PutNowait("c"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("PutNowait on full = %v", err)
	}
	// A blocked Put whose ctx ends inserts nothing.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if err := q.Put(short, "lost"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put on full with short ctx = %v", err)
	}
	// Blocked putters are served in order as room appears.
	done := make(chan error, 2)
	go func() { done <- q.Put(ctx, "c") }()
	eventually(t, "putter c waiting", func() bool { return q.waitingPutters() == 1 })
	go func() { done <- q.Put(ctx, "d") }()
	eventually(t, "putter d waiting", func() bool { return q.waitingPutters() == 2 })
	var got []string
	for range 4 {
		v, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if want := "a b c d"; join(got) != want {
		t.Fatalf("got %q, want %q", join(got), want)
	}
	if q.Unfinished() != 4 {
		t.Fatalf("Unfinished = %d, want 4 (the cancelled put must not count)", q.Unfinished())
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

func (q *Queue[T]) waitingPutters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for w := q.putters.head; w != nil; w = w.next {
		n++
	}
	return n
}

func (q *Queue[T]) waitingGetters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for w := q.getters.head; w != nil; w = w.next {
		n++
	}
	return n
}

func TestQueueGetWaitsAndHandsOff(t *testing.T) {
	q := NewQueue[int](0)
	ctx := guardCtx(t)
	got := make(chan int, 2)
	for range 2 {
		go func() {
			v, err := q.Get(ctx)
			if err != nil {
				t.Error(err)
			}
			got <- v
		}()
	}
	eventually(t, "2 getters waiting", func() bool { return q.waitingGetters() == 2 })
	_ = q.Put(ctx, 1)
	_ = q.PutNowait(2)
	a, b := <-got, <-got
	if a+b != 3 || q.Len() != 0 {
		t.Fatalf("got %d and %d, Len %d", a, b, q.Len())
	}
	if _, err := q.Get(cancelledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get on empty with cancelled ctx = %v", err)
	}
	if q.waitingGetters() != 0 {
		t.Fatal("cancelled getter left in the wait list")
	}
}

func TestQueueTaskDoneJoin(t *testing.T) {
	q := NewQueue[int](0)
	ctx := guardCtx(t)
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join on fresh queue = %v", err)
	}
	if err := q.TaskDone(); !errors.Is(err, ErrTaskDoneTooMany) {
		t.Fatalf("TaskDone on fresh queue = %v", err)
	}
	for i := range 3 {
		_ = q.Put(ctx, i)
	}
	if err := q.Join(cancelledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Join with cancelled ctx = %v", err)
	}
	joined := make(chan error, 2)
	for range 2 {
		go func() { joined <- q.Join(ctx) }()
	}
	for range 3 {
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.TaskDone()
	_ = q.TaskDone()
	select {
	case err := <-joined:
		t.Fatalf("Join returned %v with one task unfinished", err)
	case <-time.After(10 * time.Millisecond):
	}
	_ = q.TaskDone()
	for range 2 {
		if err := <-joined; err != nil {
			t.Fatal(err)
		}
	}
	if err := q.TaskDone(); !errors.Is(err, ErrTaskDoneTooMany) {
		t.Fatalf("4th TaskDone = %v", err)
	}
	if q.Unfinished() != 0 {
		t.Fatalf("Unfinished = %d after too many TaskDone", q.Unfinished())
	}
	// Join can be used again.
	_ = q.Put(ctx, 7)
	go func() { joined <- q.Join(ctx) }()
	_, _ = q.Get(ctx)
	_ = q.TaskDone()
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
}

func TestQueueShutdown(t *testing.T) {
	ctx := guardCtx(t)
	q := NewQueue[int](2)
	_ = q.Put(ctx, 1)
	_ = q.Put(ctx, 2)
	putErr := make(chan error)
	go func() { putErr <- q.Put(ctx, 3) }()
	eventually(t, "putter waiting", func() bool { return q.waitingPutters() == 1 })
	q.Shutdown(false)
	if err := <-putErr; !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("blocked Put after Shutdown = %v", err)
	}
	if err := q.Put(ctx, 4); !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("Put after Shutdown = %v", err)
	}
	if err := q.PutNowait(4); !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("PutNowait after Shutdown = %v", err)
	}
	for want := 1; want <= 2; want++ {
		v, err := q.Get(ctx)
		if err != nil || v != want {
			t.Fatalf("Get after Shutdown = %d, %v; want %d", v, err, want)
		}
	}
	if _, err := q.Get(ctx); !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("Get on empty shut-down queue = %v", err)
	}
	if _, err := q.GetNowait(); !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("GetNowait on empty shut-down queue = %v", err)
	}
	if q.Unfinished() != 2 {
		t.Fatalf("Unfinished = %d, want 2", q.Unfinished())
	}
}

func TestQueueShutdownWakesGetters(t *testing.T) {
	ctx := guardCtx(t)
	q := NewLifoQueue[int](0)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := q.Get(ctx)
			errs <- err
		}()
	}
	eventually(t, "5 getters waiting", func() bool { return q.waitingGetters() == 5 })
	q.Shutdown(false)
	for range 5 {
		if err := <-errs; !errors.Is(err, ErrQueueShutdown) {
			t.Fatalf("getter = %v", err)
		}
	}
}

func TestQueueShutdownImmediate(t *testing.T) {
	ctx := guardCtx(t)
	q := NewOrderedPriorityQueue[int](0)
	for i := range 5 {
		_ = q.Put(ctx, i)
	}
	if _, err := q.Get(ctx); err != nil { // taken, not yet done
		t.Fatal(err)
	}
	joined := make(chan error)
	go func() { joined <- q.Join(ctx) }()
	q.Shutdown(true)
	if q.Len() != 0 {
		t.Fatalf("Len = %d after immediate shutdown", q.Len())
	}
	if _, err := q.Get(ctx); !errors.Is(err, ErrQueueShutdown) {
		t.Fatalf("Get = %v", err)
	}
	if q.Unfinished() != 1 {
		t.Fatalf("Unfinished = %d, want 1 (the item taken before)", q.Unfinished())
	}
	_ = q.TaskDone()
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
}

// TestQueueStressNoLoss runs producers and consumers on a small bounded queue
// where some Puts and Gets are cancelled at random. Every value whose Put
// returned nil must be received exactly once; no value whose Put failed may
// be received.
func TestQueueStressNoLoss(t *testing.T) {
	for _, kind := range []string{"fifo", "lifo", "priority"} {
		t.Run(kind, func(t *testing.T) {
			var q *Queue[int]
			switch kind {
			case "fifo":
				q = NewQueue[int](4)
			case "lifo":
				q = NewLifoQueue[int](4)
			default:
				q = NewOrderedPriorityQueue[int](4)
			}
			stressQueue(t, q)
		})
	}
}

func stressQueue(t *testing.T, q *Queue[int]) {
	const producers, consumers, perProducer = 8, 8, 500
	ctx := guardCtx(t)
	var putOK sync.Map
	var nPut atomic.Int64
	var pwg sync.WaitGroup
	for p := range producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range perProducer {
				v := p*perProducer + i
				c, cancel := ctx, context.CancelFunc(func() {})
				if rand.IntN(4) == 0 {
					c, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(50))*time.Microsecond)
				}
				err := q.Put(c, v)
				cancel()
				switch {
				case err == nil:
					putOK.Store(v, true)
					nPut.Add(1)
				case errors.Is(err, context.DeadlineExceeded):
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make(chan int, producers*perProducer)
	var cwg sync.WaitGroup
	for range consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				c, cancel := ctx, context.CancelFunc(func() {})
				if rand.IntN(3) == 0 {
					c, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(50))*time.Microsecond)
				}
				v, err := q.Get(c)
				cancel()
				switch {
				case err == nil:
					got <- v
					if err := q.TaskDone(); err != nil {
						t.Error(err)
					}
				case errors.Is(err, context.DeadlineExceeded):
				case errors.Is(err, ErrQueueShutdown):
					return
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	if err := q.Join(ctx); err != nil {
		t.Fatal(err)
	}
	q.Shutdown(false)
	cwg.Wait()
	close(got)
	var vals []int
	for v := range got {
		vals = append(vals, v)
	}
	if int64(len(vals)) != nPut.Load() {
		t.Fatalf("received %d values, %d Puts succeeded", len(vals), nPut.Load())
	}
	sort.Ints(vals)
	for i, v := range vals {
		if i > 0 && vals[i-1] == v {
			t.Fatalf("value %d received twice", v)
		}
		if _, ok := putOK.Load(v); !ok {
			t.Fatalf("value %d received but its Put failed", v)
		}
	}
	if q.Len() != 0 || q.Unfinished() != 0 {
		t.Fatalf("Len %d Unfinished %d at the end", q.Len(), q.Unfinished())
	}
}

// FuzzQueueModel drives a queue with PutNowait/GetNowait/TaskDone from fuzz input
// and compares it with a plain slice model.
func FuzzQueueModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x81, 0x82, 4, 0x83, 0x40})
	f.Add([]byte{9, 8, 7, 6, 5, 4, 3, 0x80, 0x80, 0x80, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		for kind := range 3 {
			var q *Queue[byte]
			switch kind {
			case 0:
				q = NewQueue[byte](5)
			case 1:
				q = NewLifoQueue[byte](5)
			default:
				q = NewOrderedPriorityQueue[byte](5)
			}
			var model []byte
			unfinished := 0
			for _, op := range ops {
				switch {
				case op&0xC0 == 0x40: // TaskDone
					err := q.TaskDone()
					if unfinished == 0 {
						if !errors.Is(err, ErrTaskDoneTooMany) {
							t.Fatalf("TaskDone with none unfinished = %v", err)
						}
					} else {
						if err != nil {
							t.Fatal(err)
						}
						unfinished--
					}
				case op&0x80 != 0: // get
					v, err := q.GetNowait()
					if len(model) == 0 {
						if !errors.Is(err, ErrQueueEmpty) {
							t.Fatalf("GetNowait on empty = %v, %v", v, err)
						}
						continue
					}
					var want byte
					switch kind {
					case 0:
						want, model = model[0], model[1:]
					case 1:
						want, model = model[len(model)-1], model[:len(model)-1]
					default:
						m := 0
						for i := range model {
							if model[i] < model[m] {
								m = i
							}
						}
						want = model[m]
						model = append(model[:m:m], model[m+1:]...)
					}
					if err != nil || v != want {
						t.Fatalf("kind %d: GetNowait = %d, %v; want %d", kind, v, err, want)
					}
				default: // put
					err := q.PutNowait(op)
					if len(model) == 5 {
						if !errors.Is(err, ErrQueueFull) {
							t.Fatalf("PutNowait on full = %v", err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					model = append(model, op)
					unfinished++
				}
				if q.Len() != len(model) || q.Unfinished() != unfinished {
					t.Fatalf("Len %d Unfinished %d, model %d %d", q.Len(), q.Unfinished(), len(model), unfinished)
				}
			}
		}
	})
}

package syncx_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/trident-go/trident/syncx"
)

// A producer/consumer pipeline: the consumer marks each item done, the
// producer joins the queue, then shuts it down so the consumer stops.
func ExampleQueue() {
	ctx := context.Background()
	q := syncx.NewQueue[string](2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			msg, err := q.Get(ctx)
			if errors.Is(err, syncx.ErrQueueShutdown) {
				fmt.Println("consumer: queue shut down and empty")
				return
			}
			fmt.Println("consumer got", msg)
			_ = q.TaskDone()
		}
	}()
	for _, m := range []string{"a", "b", "c"} {
		_ = q.Put(ctx, m) // blocks while 2 items wait
	}
	_ = q.Join(ctx) // every item processed
	q.Shutdown(false)
	wg.Wait()
	// Output:
	// consumer got a
	// consumer got b
	// consumer got c
	// consumer: queue shut down and empty
}

func ExampleNewOrderedPriorityQueue() {
	q := syncx.NewOrderedPriorityQueue[int](0)
	for _, v := range []int{3, 1, 2} {
		_ = q.PutNowait(v)
	}
	for q.Len() > 0 {
		v, _ := q.GetNowait()
		fmt.Print(v, " ")
	}
	fmt.Println()
	// Output: 1 2 3
}

func ExampleNewPriorityQueue() {
	type job struct {
		prio int
		name string
	}
	q, _ := syncx.NewPriorityQueue(0, func(a, b job) bool { return a.prio < b.prio })
	_ = q.PutNowait(job{2, "write report"})
	_ = q.PutNowait(job{0, "fix outage"})
	_ = q.PutNowait(job{1, "review"})
	for range 3 {
		j, _ := q.GetNowait()
		fmt.Println(j.prio, j.name)
	}
	// Output:
	// 0 fix outage
	// 1 review
	// 2 write report
}

// A context with a deadline plays the part of Python's timeout argument.
func ExampleQueue_Get_timeout() {
	q := syncx.NewQueue[int](0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := q.Get(ctx)
	fmt.Println(err)
	// Output: context deadline exceeded
}

func ExampleEvent() {
	var ready syncx.Event
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ready.Wait(context.Background())
			_ = i // each worker starts only once ready is set
		}()
	}
	fmt.Println("set:", ready.IsSet())
	ready.Set()
	wg.Wait()
	fmt.Println("set:", ready.IsSet())
	// Output:
	// set: false
	// set: true
}

func ExampleBarrier() {
	const workers = 3
	b, _ := syncx.NewBarrier(workers, func() error {
		fmt.Println("all arrived; the action runs once per generation")
		return nil
	})
	var mu sync.Mutex
	var idx []int
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i, err := b.Wait(context.Background())
			if err != nil {
				panic(err)
			}
			mu.Lock()
			idx = append(idx, i)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Ints(idx)
	fmt.Println("arrival indexes:", idx)
	// Output:
	// all arrived; the action runs once per generation
	// arrival indexes: [0 1 2]
}

// A party that gives up breaks the barrier for everybody, like a Python
// timeout.
func ExampleBarrier_Wait_timeout() {
	b, _ := syncx.NewBarrier(2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := b.Wait(ctx) // the second party never comes
	fmt.Println(err)
	_, err = b.Wait(context.Background())
	fmt.Println(err)
	b.Reset()
	fmt.Println("broken after Reset:", b.Broken())
	// Output:
	// context deadline exceeded
	// syncx: barrier is broken
	// broken after Reset: false
}

func ExampleBoundedSemaphore() {
	s, _ := syncx.NewBoundedSemaphore(2)
	fmt.Println(s.TryAcquire(), s.TryAcquire(), s.TryAcquire())
	fmt.Println(s.Release(), s.Release())
	fmt.Println(s.Release())
	// Output:
	// true true false
	// <nil> <nil>
	// syncx: semaphore released too many times
}

func ExampleSemaphore() {
	s, _ := syncx.NewSemaphore(2) // at most two downloads at a time
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Acquire(context.Background()); err != nil {
				return
			}
			defer s.Release()
			// ... download ...
		}()
	}
	wg.Wait()
	fmt.Println("free permits:", s.Value())
	// Output: free permits: 2
}

func ExampleAfterFunc() {
	t, _ := syncx.AfterFunc(time.Hour, func() { fmt.Println("never printed") })
	fmt.Println("stopped before it ran:", t.Cancel())

	done := make(chan struct{})
	t2, _ := syncx.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	_ = t2.Wait(context.Background())
	fmt.Println("stopped before it ran:", t2.Cancel())
	// Output:
	// stopped before it ran: true
	// stopped before it ran: false
}

func ExampleCond() {
	c := syncx.NewCondition(nil)
	items := 0
	go func() {
		c.L.Lock()
		items = 3
		c.L.Unlock()
		c.NotifyAll()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.L.Lock()
	err := c.WaitFor(ctx, func() bool { return items > 0 })
	c.L.Unlock()
	fmt.Println(items, err)
	// Output: 3 <nil>
}

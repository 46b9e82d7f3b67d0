package aio_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trident-go/trident/aio"
)

// Three workers meet at a Barrier after each phase (asyncio.Barrier):
//
//	b = asyncio.Barrier(3)
//	async def worker(i):
//	    await asyncio.sleep(i)
//	    await b.wait()
func ExampleBarrier() {
	aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		b, _ := aio.NewBarrier(3)
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			for i := range 3 {
				g.Go(func(t *aio.T) error {
					if err := aio.Sleep(t, time.Duration(i)*time.Second); err != nil {
						return err
					}
					idx, err := b.Wait(t)
					if idx == b.Parties()-1 {
						fmt.Printf("the last arrived at %v and released the others\n", t.Now().Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)))
					}
					return err
				})
			}
			return nil
		})
		return struct{}{}, err
	}, aio.WithVirtualTime())
	// Output:
	// the last arrived at 2s and released the others
}

// A deadline that moves: each message received pushes it back
// (asyncio.timeout() with cm.reschedule).
//
//	async with asyncio.timeout(10) as cm:
//	    async for msg in stream:
//	        cm.reschedule(loop.time() + 10)
func ExampleTimeoutWith() {
	aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		q := aio.NewQueue[string](0)
		aio.Go(t, func(t *aio.T) (int, error) {
			for _, m := range []string{"a", "b", "c"} {
				aio.Sleep(t, 8*time.Second) // each within 10 s of the last
				q.PutNowait(m)
			}
			return 0, nil // then silence
		})
		start := t.Now()
		err := aio.TimeoutWith(t, t.Now().Add(10*time.Second), func(s *aio.TimeoutScope) error {
			for {
				m, err := q.Get(t)
				if err != nil {
					return err
				}
				fmt.Println("got", m)
				s.Reschedule(t.Now().Add(10 * time.Second))
			}
		})
		fmt.Println(errors.Is(err, aio.ErrTimeout), "after", t.Now().Sub(start))
		return struct{}{}, nil
	}, aio.WithVirtualTime())
	// Output:
	// got a
	// got b
	// got c
	// true after 34s
}

// Shutdown ends consumers once the queue is drained (Python 3.13's
// Queue.shutdown).
func ExampleQueue_Shutdown() {
	aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		q := aio.NewQueue[int](0)
		consumer := aio.Go(t, func(t *aio.T) (int, error) {
			sum := 0
			for {
				v, err := q.Get(t)
				if errors.Is(err, aio.ErrQueueShutdown) {
					return sum, nil // shut down and drained
				}
				if err != nil {
					return sum, err
				}
				sum += v
			}
		})
		for i := 1; i <= 4; i++ {
			q.PutNowait(i)
		}
		q.Shutdown(false)
		fmt.Println(q.PutNowait(5))
		sum, err := aio.Await(t, consumer)
		fmt.Println(sum, err)
		return struct{}{}, nil
	})
	// Output:
	// aio: queue shut down
	// 10 <nil>
}

// One loop for several calls (asyncio.Runner): a task started by the first
// call keeps running during the second.
//
//	with asyncio.Runner() as runner:
//	    runner.run(first())
//	    runner.run(second())
func ExampleRunner() {
	ctx := context.Background()
	r := aio.NewRunner(ctx, aio.WithVirtualTime())
	defer r.Close()
	ticks := 0
	r.Run(ctx, func(t *aio.T) error {
		aio.Go(t, func(t *aio.T) (int, error) {
			for {
				if err := aio.Sleep(t, time.Second); err != nil {
					return 0, err
				}
				ticks++
			}
		})
		return nil
	})
	n, _ := aio.RunOn(r, ctx, func(t *aio.T) (int, error) {
		err := aio.Sleep(t, 3500*time.Millisecond)
		return ticks, err
	})
	fmt.Println("ticks during the second call:", n)
	// Output:
	// ticks during the second call: 3
}

// With eager start, a task that can answer at once (a cache hit) is done
// when Go returns (Python 3.12's eager_task_factory).
func ExampleWithEagerTasks() {
	aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		cache := map[string]string{"a": "cached"}
		get := func(key string) func(*aio.T) (string, error) {
			return func(t *aio.T) (string, error) {
				if v, ok := cache[key]; ok {
					return v, nil
				}
				if err := aio.Sleep(t, time.Second); err != nil {
					return "", err
				}
				return "fetched", nil
			}
		}
		hit, miss := aio.Go(t, get("a")), aio.Go(t, get("b"))
		fmt.Println(hit.Finished(), miss.Finished())
		v, _ := aio.Await(t, miss)
		fmt.Println(v)
		return struct{}{}, nil
	}, aio.WithVirtualTime(), aio.WithEagerTasks())
	// Output:
	// true false
	// fetched
}

package aio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trident-go/trident/aio"
)

// fetchData is the articles' coroutine:
//
//	async def fetch_data():
//	    print("Fetching data...")
//	    await asyncio.sleep(1)  # Simulate a network call
//	    print("Data fetched")
//	    return "data"
func fetchData(t *aio.T) (string, error) {
	fmt.Println("Fetching data...")
	if err := aio.Sleep(t, time.Second); err != nil { // simulate a network call
		return "", err
	}
	fmt.Println("Data fetched")
	return "data", nil
}

// Method 1 of the articles: await a coroutine directly. In Go that is a plain
// call; the current coroutine pauses at each of fetchData's awaits while the
// rest of the loop keeps running.
//
//	async def main():
//	    result = await fetch_data()
//	    print(f"Result: {result}")
//	asyncio.run(main())
func Example() {
	_, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		result, err := fetchData(t) // the current coroutine pauses here
		if err != nil {
			return struct{}{}, err
		}
		fmt.Printf("Result: %s\n", result)
		return struct{}{}, nil
	}, aio.WithVirtualTime()) // virtual time: the one-second sleep takes no real time
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// Fetching data...
	// Data fetched
	// Result: data
}

// Method 2 of the articles: create_task schedules the coroutine to run
// concurrently; main keeps going and awaits the task later.
//
//	async def main():
//	    task = asyncio.create_task(fetch_data())
//	    await asyncio.sleep(5)   # simulate doing other work
//	    result = await task
//	    print(result)
func Example_createTask() {
	elapsed, err := aio.Run(context.Background(), func(t *aio.T) (time.Duration, error) {
		start := t.Now()
		task := aio.CreateTask(t, fetchData) // scheduled, not yet running
		fmt.Println("task created")
		if err := aio.Sleep(t, 5*time.Second); err != nil { // the task runs meanwhile
			return 0, err
		}
		result, err := aio.Await(t, task)
		if err != nil {
			return 0, err
		}
		fmt.Println(result)
		return t.Now().Sub(start), nil
	}, aio.WithVirtualTime())
	fmt.Println(elapsed, err)
	// Output:
	// task created
	// Fetching data...
	// Data fetched
	// data
	// 5s <nil>
}

// Blocking code goes to another goroutine with ToThread (asyncio.to_thread),
// so the loop is not blocked.
func ExampleToThread() {
	syncTask := func(ctx context.Context) (string, error) {
		time.Sleep(10 * time.Millisecond) // a blocking call
		return "Completed", nil
	}
	result, err := aio.Run(context.Background(), func(t *aio.T) (string, error) {
		return aio.ToThread(t, syncTask)
	})
	fmt.Println(result, err)
	// Output: Completed <nil>
}

// Many slow waits overlap on one loop: ten thousand one-second "requests"
// finish in one second (of virtual time here).
func ExampleGather() {
	elapsed, err := aio.Run(context.Background(), func(t *aio.T) (time.Duration, error) {
		start := t.Now()
		tasks := make([]*aio.Task[string], 10000)
		for i := range tasks {
			tasks[i] = aio.Go(t, fetchQuietly)
		}
		results, err := aio.Gather(t, tasks...)
		if err != nil {
			return 0, err
		}
		fmt.Println(len(results), results[0])
		return t.Now().Sub(start), nil
	}, aio.WithVirtualTime())
	fmt.Println(elapsed, err)
	// Output:
	// 10000 data
	// 1s <nil>
}

func fetchQuietly(t *aio.T) (string, error) {
	if err := aio.Sleep(t, time.Second); err != nil {
		return "", err
	}
	return "data", nil
}

// A TaskGroup does not return before its children; the first failure
// cancels the others.
func ExampleTaskGroup() {
	_, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		err := aio.TaskGroup(t, func(g *aio.Group) error {
			g.Go(func(t *aio.T) error {
				defer fmt.Println("slow child cleaned up")
				return aio.Sleep(t, time.Hour)
			})
			g.Go(func(t *aio.T) error {
				aio.Sleep(t, time.Second)
				return errors.New("child failed")
			})
			return nil
		})
		fmt.Println("group:", err)
		return struct{}{}, nil
	}, aio.WithVirtualTime())
	fmt.Println(err)
	// Output:
	// slow child cleaned up
	// group: child failed
	// <nil>
}

// Timeout cancels what it wraps and reports context.DeadlineExceeded.
func ExampleTimeout() {
	_, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		err := aio.Timeout(t, 2*time.Second, func() error {
			return aio.Sleep(t, time.Hour)
		})
		fmt.Println(err, errors.Is(err, context.DeadlineExceeded))
		return struct{}{}, nil
	}, aio.WithVirtualTime())
	fmt.Println(err)
	// Output:
	// aio: timeout: context deadline exceeded true
	// <nil>
}

// A producer and workers share a Queue; Join waits until every item has
// been processed.
func ExampleQueue() {
	_, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		q := aio.NewQueue[int](0)
		total := 0 // shared by the workers without a mutex: one coroutine runs at a time
		for w := 0; w < 3; w++ {
			aio.Go(t, func(t *aio.T) (struct{}, error) {
				for {
					n, err := q.Get(t)
					if err != nil {
						return struct{}{}, err
					}
					aio.Sleep(t, time.Duration(n)*time.Millisecond)
					total += n
					q.TaskDone()
				}
			})
		}
		for i := 1; i <= 10; i++ {
			q.PutNowait(i)
		}
		err := q.Join(t)
		fmt.Println("total", total)
		return struct{}{}, err // the idle workers are cancelled as Run ends
	}, aio.WithVirtualTime())
	fmt.Println(err)
	// Output:
	// total 55
	// <nil>
}

// An echo server and a client on one loop (asyncio.start_server and
// open_connection).
func ExampleStartServer() {
	_, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		srv, err := aio.StartServer(t, "127.0.0.1:0", func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) error {
			for {
				line, err := r.ReadLine(t)
				if err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				w.Write(line)
				if err := w.Drain(t); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return struct{}{}, err
		}
		defer srv.Close()
		r, w, err := aio.OpenConnection(t, srv.Addr().String())
		if err != nil {
			return struct{}{}, err
		}
		defer w.Close(t)
		w.WriteString("hello, loop\n")
		reply, err := r.ReadLine(t)
		fmt.Printf("%q %v\n", reply, err)
		return struct{}{}, nil
	})
	fmt.Println(err)
	// Output:
	// "hello, loop\n" <nil>
	// <nil>
}

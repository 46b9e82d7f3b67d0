package threadpool_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/threadpool"
)

// Submit returns a future per task, like Python's executor.submit.
func ExampleSubmit() {
	p, err := threadpool.New(threadpool.WithWorkers(4))
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(context.Background())

	ctx := context.Background()
	var fs []*future.Future[int]
	for _, s := range []string{"a", "bb", "ccc"} {
		fs = append(fs, threadpool.Submit(p, ctx, func(ctx context.Context) (int, error) {
			return len(s), nil
		}))
	}
	lens, err := future.Results(ctx, fs)
	fmt.Println(lens, err)
	// Output: [1 2 3] <nil>
}

// Map yields results in input order and reads its input lazily.
func ExampleMap() {
	p, _ := threadpool.New(threadpool.WithWorkers(2))
	defer p.Shutdown(context.Background())

	words := slices.Values([]string{"go", "python", "shell"})
	for up, err := range threadpool.Map(p, context.Background(), words, func(_ context.Context, w string) (string, error) {
		return strings.ToUpper(w), nil
	}, threadpool.WithWindow(2)) {
		fmt.Println(up, err)
	}
	// Output:
	// GO <nil>
	// PYTHON <nil>
	// SHELL <nil>
}

// A Group runs fire-and-forget tasks and keeps the first error.
func ExamplePool_NewGroup() {
	p, _ := threadpool.New(threadpool.WithWorkers(2))
	defer p.Shutdown(context.Background())

	g := p.NewGroup(context.Background())
	for i := range 5 {
		g.Go(func(ctx context.Context) error {
			if i == 3 {
				return errors.New("task 3 failed")
			}
			return nil
		})
	}
	fmt.Println(g.Wait())
	// Output: task 3 failed
}

// A failing initializer breaks the pool, as in Python.
func ExampleWithInitializer() {
	p, _ := threadpool.New(threadpool.WithInitializer(func(ctx context.Context) error {
		return errors.New("no database")
	}))
	defer p.Shutdown(context.Background())

	_, err := threadpool.Submit(p, context.Background(), func(ctx context.Context) (int, error) { return 1, nil }).
		Result(context.Background())
	fmt.Println(errors.Is(err, threadpool.ErrBrokenPool), err)
	// Output: true threadpool: pool is broken: initializer failed: no database
}

// TrySubmit does not wait for room in a bounded queue.
func ExampleTrySubmit() {
	p, _ := threadpool.New(threadpool.WithWorkers(1), threadpool.WithQueueSize(1))
	defer p.Shutdown(context.Background())

	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	threadpool.Submit(p, ctx, func(context.Context) (int, error) { close(started); <-release; return 0, nil })
	<-started
	threadpool.Submit(p, ctx, func(context.Context) (int, error) { return 1, nil }) // fills the queue
	_, err := threadpool.TrySubmit(p, ctx, func(context.Context) (int, error) { return 2, nil })
	fmt.Println(err)
	close(release)
	// Output: threadpool: queue is full
}

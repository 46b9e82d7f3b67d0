package aio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/threadpool"
)

func TestToThread(t *testing.T) {
	v, err := aio.Run(context.Background(), func(t *aio.T) (string, error) {
		return aio.ToThread(t, func(ctx context.Context) (string, error) {
			time.Sleep(5 * time.Millisecond) // a blocking call, off the loop
			return "Completed", nil
		})
	})
	if v != "Completed" || err != nil {
		t.Fatalf("got %q %v", v, err)
	}
}

func TestToThreadCancelledCancelsContext(t *testing.T) {
	sawCancel := make(chan bool, 1)
	var started atomic.Bool
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		task := aio.Go(t, func(t *aio.T) (int, error) {
			return aio.ToThread(t, func(ctx context.Context) (int, error) {
				started.Store(true)
				select {
				case <-ctx.Done():
					sawCancel <- true
					return 0, ctx.Err()
				case <-time.After(10 * time.Second):
					sawCancel <- false
					return 1, nil
				}
			})
		})
		for !started.Load() { // cancel a running call, not a pending one
			if err := aio.Sleep(t, time.Millisecond); err != nil {
				return 0, err
			}
		}
		task.Cancel()
		_, err := aio.Await(t, task)
		if !errors.Is(err, aio.ErrCancelled) {
			return 0, errors.New("task error " + errString(err))
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !<-sawCancel {
		t.Fatal("blocking function never saw its context cancelled")
	}
}

func TestVirtualClockWaitsForOutsideWork(t *testing.T) {
	var order []string
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		sleeper := aio.Go(t, func(t *aio.T) (int, error) {
			err := aio.Sleep(t, time.Hour)
			order = append(order, "slept 1h")
			return 0, err
		})
		_, err := aio.ToThread(t, func(ctx context.Context) (int, error) {
			time.Sleep(20 * time.Millisecond)
			return 0, nil
		})
		order = append(order, "thread done")
		if err != nil {
			return 0, err
		}
		return aio.Await(t, sleeper)
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(order, ","); s != "thread done,slept 1h" {
		t.Fatalf("order %q: the virtual clock jumped while a thread was working", s)
	}
}

type goExecutor struct{ n int }

func (e *goExecutor) Go(ctx context.Context, fn func(context.Context) error) error {
	e.n++
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	<-done // a synchronous "pool": simplest executor that still runs on another goroutine
	return nil
}

type brokenExecutor struct{}

var errBroken = errors.New("pool shut down")

func (brokenExecutor) Go(context.Context, func(context.Context) error) error { return errBroken }

func TestRunInExecutor(t *testing.T) {
	ex := &goExecutor{}
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		v, err := aio.RunInExecutor(t, ex, func(ctx context.Context) (int, error) { return 6 * 7, nil })
		if err != nil {
			return 0, err
		}
		if _, err := aio.RunInExecutor(t, brokenExecutor{}, func(ctx context.Context) (int, error) { return 0, nil }); !errors.Is(err, errBroken) {
			return 0, errors.New("broken executor: " + errString(err))
		}
		_, perr := aio.RunInExecutor(t, ex, func(ctx context.Context) (int, error) { panic("in pool") })
		var pe *future.PanicError
		if !errors.As(perr, &pe) {
			return 0, errors.New("panic in executor: " + errString(perr))
		}
		return v, nil
	})
	if v != 42 || err != nil || ex.n != 2 {
		t.Fatalf("got %v %v n=%d", v, err, ex.n)
	}
}

func TestAwaitForeignFuture(t *testing.T) {
	f, r := future.New[int](context.Background())
	go func() {
		time.Sleep(5 * time.Millisecond)
		r.Run(func(context.Context) (int, error) { return 9, nil })
	}()
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		ready := future.Resolved(1, nil)
		if v, err := aio.Await(t, ready); v != 1 || err != nil {
			return 0, errors.New("ready future")
		}
		return aio.Await(t, f)
	})
	if v != 9 || err != nil {
		t.Fatalf("got %v %v", v, err)
	}
}

func TestSubmitFromAnotherGoroutine(t *testing.T) {
	loopCh := make(chan *aio.Loop)
	results := make(chan error, 1)
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		stop := false
		go func() {
			l := <-loopCh
			f := aio.Submit(l, context.Background(), func(t *aio.T) (int, error) {
				return 5, aio.Sleep(t, time.Millisecond)
			})
			v, err := f.Result(context.Background())
			if err == nil && v != 5 {
				err = errors.New("wrong value")
			}
			if err == nil {
				// Cancelling the future cancels the task.
				g := aio.Submit(l, context.Background(), func(t *aio.T) (int, error) {
					return 0, aio.Sleep(t, time.Hour)
				})
				time.Sleep(5 * time.Millisecond)
				g.Cancel()
				if _, gerr := g.Result(context.Background()); !errors.Is(gerr, future.ErrCancelled) {
					err = errors.New("cancelled submit: " + errString(gerr))
				}
			}
			results <- err
			aio.Submit(l, context.Background(), func(t *aio.T) (int, error) { stop = true; return 0, nil })
		}()
		loopCh <- t.Loop()
		for !stop {
			if err := aio.Sleep(t, time.Millisecond); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
}

func TestThreadpoolAsExecutorAndFutures(t *testing.T) {
	p, err := threadpool.New(threadpool.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	var _ aio.Executor = p
	v, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		a, err := aio.RunInExecutor(t, p, func(ctx context.Context) (int, error) { return 40, nil })
		if err != nil {
			return 0, err
		}
		// Any executor's *future.Future is awaitable: the general bridge.
		b, err := aio.Await(t, threadpool.Submit(p, t.Context(), func(ctx context.Context) (int, error) { return 2, nil }))
		return a + b, err
	})
	if v != 42 || err != nil {
		t.Fatalf("got %v %v", v, err)
	}
}

func TestTasksWaitedFromOtherGoroutines(t *testing.T) {
	var tasks []*aio.Task[int]
	results := make(chan error, 1)
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		for i := 0; i < 50; i++ {
			tasks = append(tasks, aio.Go(t, func(t *aio.T) (int, error) {
				if err := aio.Sleep(t, time.Duration(i%5)*time.Millisecond); err != nil {
					return 0, err
				}
				return i, nil
			}))
		}
		ts := append([]*aio.Task[int](nil), tasks...)
		go func() {
			// From a plain goroutine, while the loop runs: Result, Done, future.Wait.
			sum := 0
			for _, task := range ts {
				v, err := task.Result(context.Background())
				if err != nil {
					results <- err
					return
				}
				sum += v
			}
			done, pending, err := future.Wait(context.Background(), ts, future.AllCompleted)
			if err == nil && (len(done) != 50 || len(pending) != 0 || sum != 49*50/2) {
				err = fmt.Errorf("done %d pending %d sum %d", len(done), len(pending), sum)
			}
			if err == nil {
				vals, ferr := future.Results(context.Background(), []*future.Future[int]{ts[3].Future(), ts[7].Future()})
				if ferr != nil || vals[0]+vals[1] != 10 {
					err = fmt.Errorf("Future(): %v %v", vals, ferr)
				}
			}
			results <- err
		}()
		_, err := aio.Gather(t, ts...)
		return 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		<-task.Done()
	}
}

func TestStressThreadsafeSubmissions(t *testing.T) {
	const goroutines, each = 8, 200
	total := 0 // touched only by coroutines of the loop: no lock
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		l := t.Loop()
		var done aio.Event
		remaining := goroutines * each * 2
		finish := func() {
			remaining--
			if remaining == 0 {
				done.Set()
			}
		}
		for g := 0; g < goroutines; g++ {
			go func() {
				for i := 0; i < each; i++ {
					l.CallSoonThreadsafe(func() { total++; finish() })
					f := aio.Submit(l, context.Background(), func(t *aio.T) (int, error) {
						if err := aio.Yield(t); err != nil {
							return 0, err
						}
						total++
						finish()
						return 1, nil
					})
					if i%50 == 0 {
						f.Result(context.Background())
					}
				}
			}()
		}
		return 0, done.Wait(t)
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != goroutines*each*2 {
		t.Fatalf("total %d", total)
	}
}

func TestStressDoneRacesCompletion(t *testing.T) {
	const n = 2000
	ch := make(chan *aio.Task[int], n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for task := range ch {
			<-task.Done() // races the loop finishing the task
			task.OnDone(func() {})
		}
	}()
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		var ts []*aio.Task[int]
		for i := 0; i < n; i++ {
			task := aio.Go(t, func(t *aio.T) (int, error) { return i, nil })
			ch <- task
			ts = append(ts, task)
			if i%10 == 0 {
				if err := aio.Yield(t); err != nil {
					return 0, err
				}
			}
		}
		close(ch)
		_, err := aio.Gather(t, ts...)
		return 0, err
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
}

package aio_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trident-go/trident/aio"
)

// queueShutdownCPython313 is what testdata/python/queue_shutdown.py prints
// on CPython 3.13.0 (Queue.shutdown is new in 3.13, so python3 3.11 cannot
// run it): a plain shutdown fails the waiting putter and later puts, lets
// the items left be got, then fails gets; getters waiting on an empty
// queue fail at once; an immediate shutdown drops the items, which count
// as done for join.
var queueShutdownCPython313 = []string{
	"blocked putter: QueueShutDown; get a: got 1; get b: got 2; get c: QueueShutDown; put_nowait: QueueShutDown; get_nowait: QueueShutDown",
	"waiting getter 0: QueueShutDown; waiting getter 1: QueueShutDown",
	"got 0, unfinished 3; join done: False (one item taken and not marked done); after task_done: join done True, qsize 0; get: QueueShutDown",
}

func TestQueueShutdownAsInPython313(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace lineTrace
	add, flush := trace.add, trace.flush
	// logged records what one Get or Put of the scenario did, as the Python
	// script prints it.
	logged := func(name string, err error, format string, a ...any) error {
		switch {
		case err == nil:
			add("%s: "+format, append([]any{name}, a...)...)
		case errors.Is(err, aio.ErrQueueShutdown):
			add("%s: QueueShutDown", name)
		default:
			return err
		}
		return nil
	}
	getter := func(q *aio.Queue[int], name string) func(*aio.T) (int, error) {
		return func(t *aio.T) (int, error) {
			v, err := q.Get(t)
			return v, logged(name, err, "got %d", v)
		}
	}
	putter := func(q *aio.Queue[int], name string, v int) func(*aio.T) (int, error) {
		return func(t *aio.T) (int, error) {
			return 0, logged(name, q.Put(t, v), "put %d", v)
		}
	}
	runV(t, func(t *aio.T) error {
		q := aio.NewQueue[int](2)
		q.PutNowait(1)
		q.PutNowait(2)
		p := aio.Go(t, putter(q, "blocked putter", 3))
		aio.Yield(t)
		q.Shutdown(false)
		if _, err := aio.Await(t, p); err != nil {
			return err
		}
		for _, name := range []string{"get a", "get b", "get c"} {
			if _, err := getter(q, name)(t); err != nil {
				return err
			}
		}
		if err := q.PutNowait(4); errors.Is(err, aio.ErrQueueShutdown) {
			add("put_nowait: QueueShutDown")
		}
		if _, err := q.GetNowait(); errors.Is(err, aio.ErrQueueShutdown) {
			add("get_nowait: QueueShutDown")
		}
		flush()

		q = aio.NewQueue[int](0)
		gs := []*aio.Task[int]{aio.Go(t, getter(q, "waiting getter 0")), aio.Go(t, getter(q, "waiting getter 1"))}
		aio.Yield(t)
		q.Shutdown(false)
		if _, err := aio.Gather(t, gs...); err != nil {
			return err
		}
		flush()

		q = aio.NewQueue[int](0)
		for i := range 3 {
			q.PutNowait(i)
		}
		v, err := q.Get(t)
		if err != nil {
			return err
		}
		add("got %d, unfinished 3", v)
		j := aio.Go(t, func(t *aio.T) (int, error) { return 0, q.Join(t) })
		aio.Yield(t)
		q.Shutdown(true)
		aio.Yield(t)
		add("join done: %s (one item taken and not marked done)", pyBool(j.Finished()))
		if err := q.TaskDone(); err != nil {
			return err
		}
		aio.Yield(t)
		add("after task_done: join done %s, qsize %d", pyBool(j.Finished()), q.Len())
		if _, err := getter(q, "get")(t); err != nil {
			return err
		}
		flush()
		if !q.IsShutdown() {
			return errors.New("IsShutdown false after Shutdown")
		}
		return nil
	})
	diffTraces(t, "queue_shutdown (recorded from CPython 3.13.0)", trace.traceLog, queueShutdownCPython313)
	diffTraces(t, "queue_shutdown", trace.traceLog, pythonTraceWith(t, python313(t), "queue_shutdown"))
}

// A producer/consumer pipeline ends cleanly with Shutdown: consumers drain
// what was put and stop at ErrQueueShutdown; nothing is lost; a producer
// blocked on the full queue is released.
func TestQueueShutdownEndsConsumers(t *testing.T) {
	runV(t, func(t *aio.T) error {
		q := aio.NewQueue[int](4)
		sum := 0
		var cs []*aio.Task[int]
		for range 3 {
			cs = append(cs, aio.Go(t, func(t *aio.T) (int, error) {
				n := 0
				for {
					v, err := q.Get(t)
					if errors.Is(err, aio.ErrQueueShutdown) {
						return n, nil
					}
					if err != nil {
						return n, err
					}
					sum += v
					n++
					q.TaskDone()
					aio.Yield(t)
				}
			}))
		}
		for i := 1; i <= 100; i++ {
			if err := q.Put(t, i); err != nil {
				return err
			}
		}
		if err := q.Join(t); err != nil {
			return err
		}
		q.Shutdown(false)
		counts, err := aio.Gather(t, cs...)
		if err != nil {
			return err
		}
		if got := counts[0] + counts[1] + counts[2]; got != 100 || sum != 5050 {
			return fmt.Errorf("consumers got %d items summing to %d, want 100 and 5050", got, sum)
		}
		// A producer blocked on a full queue wakes up with the error.
		full := aio.NewQueue[int](1)
		full.PutNowait(0)
		p := aio.Go(t, func(t *aio.T) (int, error) { return 0, full.Put(t, 1) })
		aio.Yield(t)
		full.Shutdown(true)
		if _, err := aio.Await(t, p); !errors.Is(err, aio.ErrQueueShutdown) {
			return fmt.Errorf("blocked Put after Shutdown(true) = %v", err)
		}
		if full.Len() != 0 {
			return fmt.Errorf("Shutdown(true) left %d items", full.Len())
		}
		return nil
	})
}

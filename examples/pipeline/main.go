// Command pipeline is the articles' producer/consumer pipeline over a
// bounded syncx.Queue, stopped by a syncx.Event.
//
// The producer puts numbered messages as fast as the queue lets it; the
// consumer is slower. When main sets the stop event, the producer exits at
// once and shuts the queue down; the consumer keeps going until it has
// drained every message still in the queue (Get returns ErrQueueShutdown
// only once the queue is empty), so nothing is lost.
//
//	go run ./examples/pipeline
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/trident-go/trident/syncx"
)

func main() {
	runFor := flag.Duration("for", 50*time.Millisecond, "how long main lets the pipeline run before setting the stop event")
	work := flag.Duration("work", time.Millisecond, "consumer's time per message")
	size := flag.Int("size", 10, "queue capacity")
	flag.Parse()

	ctx := context.Background()
	if *size < 1 {
		fmt.Fprintf(os.Stderr, "pipeline: -size must be at least 1, got %d\n", *size)
		os.Exit(2)
	}
	pipeline := syncx.NewQueue[int](*size)
	var stop syncx.Event

	produced := make(chan int)
	go func() { // producer
		n := 0
		for !stop.IsSet() {
			if err := pipeline.Put(ctx, n); err != nil {
				break
			}
			n++
		}
		fmt.Printf("producer: stop event seen after %d messages; shutting the queue down\n", n)
		pipeline.Shutdown(false) // no more Puts; Gets drain what is left
		produced <- n
	}()

	type result struct{ got, sum int }
	consumed := make(chan result)
	go func() { // consumer
		var r result
		for {
			msg, err := pipeline.Get(ctx)
			if errors.Is(err, syncx.ErrQueueShutdown) {
				break
			}
			if msg != r.got {
				fmt.Printf("consumer: got message %d, expected %d\n", msg, r.got)
			}
			r.got++
			r.sum += msg
			time.Sleep(*work)
			_ = pipeline.TaskDone()
		}
		consumed <- r
	}()

	time.Sleep(*runFor)
	fmt.Println("main: setting the stop event")
	stop.Set()
	n := <-produced
	fmt.Printf("main: %d messages were still in the queue when the producer stopped\n", pipeline.Len())
	if err := pipeline.Join(ctx); err != nil { // every message processed
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	r := <-consumed
	fmt.Printf("consumer: drained the queue: consumed %d of %d messages, queue length now %d\n", r.got, n, pipeline.Len())
	if want := n * (n - 1) / 2; r.got != n || r.sum != want {
		fmt.Printf("LOST MESSAGES: consumed %d (sum %d), produced %d (sum %d)\n", r.got, r.sum, n, want)
		os.Exit(1)
	}
	fmt.Println("no message lost")
}

// Command examplemain is the smallest complete program using procpool: it
// registers a function at package level, turns itself into a worker when a
// pool starts it (procpool.Main, first line of main), and maps the function
// over a few inputs in worker processes.
//
//	go run ./procpool/internal/examplemain 25 30 32
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// Fib is registered at package level, so every worker process (this same
// binary, re-executed) knows it by the same name.
var Fib = procpool.Register("examplemain.fib", func(ctx context.Context, n int) (int, error) {
	return fib(n), nil
})

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() {
	procpool.Main() // in a worker: serve calls, never return

	inputs := []int{25, 30, 32}
	if len(os.Args) > 1 {
		inputs = inputs[:0]
		for _, a := range os.Args[1:] {
			n, err := strconv.Atoi(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, "examplemain: not a number:", a)
				os.Exit(2)
			}
			inputs = append(inputs, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := procpool.New(procpool.WithWorkers(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, "examplemain:", err)
		os.Exit(1)
	}
	defer pool.Shutdown(ctx)
	results, err := future.Results(ctx, Fib.Map(pool, ctx, inputs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "examplemain:", err)
		os.Exit(1)
	}
	for i, n := range inputs {
		fmt.Printf("fib(%d) = %d\n", n, results[i])
	}
}

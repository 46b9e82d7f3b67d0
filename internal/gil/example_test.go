package gil_test

import (
	"context"
	"fmt"
	"time"

	"github.com/trident-go/trident/internal/gil"
)

// A thread runs CPU work in slices while holding the lock, then sleeps with
// the lock released, as time.sleep does in CPython.
func Example() {
	g, err := gil.New(gil.WithSwitchInterval(5 * time.Millisecond))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	th := g.NewThread("worker")
	sum := 0
	_ = th.Run(ctx, func(i int) bool { // three "bytecode" slices
		sum += i
		return i < 2
	})
	_ = th.Sleep(ctx, time.Millisecond) // releases the GIL around the wait
	th.Release()
	for _, s := range g.Trace() {
		fmt.Println(s.Thread, s.Kind)
	}
	fmt.Println("sum", sum, "acquisitions", g.Stats().Acquisitions)
	// Output:
	// 1 gil-held
	// 1 io
	// 1 gil-held
	// sum 3 acquisitions 2
}

// With the lock off (CPython 3.13t), threads record "run" spans and never wait.
func ExampleFreeThreaded() {
	g, _ := gil.New(gil.FreeThreaded())
	th := g.NewThread("")
	_ = th.Run(context.Background(), func(i int) bool { return i < 10 })
	th.Release()
	fmt.Println(g.IsFreeThreaded(), len(g.Trace()), g.Trace()[0].Kind)
	// Output: true 1 run
}

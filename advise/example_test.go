package advise_test

import (
	"context"
	"fmt"
	"time"

	"github.com/trident-go/trident/advise"
)

// Classify a hand-made profile: each run waits 90 ms and computes 10 ms.
func ExampleClassify() {
	p := advise.Profile{Cores: 2, Samples: []advise.Sample{
		{Wall: 100 * time.Millisecond, User: 8 * time.Millisecond, Sys: 2 * time.Millisecond},
	}}
	a := advise.Classify(p)
	fmt.Println(a.Class, a.Model, a.Workers, "step", a.Step)
	// Output: io-bound-long-waits event-loop 20 step 2b
}

// Profile a Go function that sleeps: it is I/O-bound.
func ExampleProfileFunc() {
	p, err := advise.ProfileFunc(context.Background(), func(ctx context.Context) error {
		time.Sleep(5 * time.Millisecond)
		return nil
	}, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Runs(), advise.Classify(p).Class)
	// Output: 3 io-bound-short-waits
}

// Profile a command (here a sleep): a long wait, so an event loop.
func ExampleProfileCommand() {
	p, err := advise.ProfileCommand(context.Background(), []string{"sleep", "0.06"}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(advise.Classify(p).Model)
	// Output: event-loop
}

// Command barrier shows workers that start each phase together with a
// syncx.Barrier.
//
// Every worker prepares for a phase (taking a different time) and then waits
// at the barrier; the barrier's action announces the phase once all are
// ready, and only then are the workers released. The program checks from a
// log of events that no worker started a phase before every worker was ready
// for it.
//
//	go run ./examples/barrier
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/trident-go/trident/syncx"
)

type event struct {
	worker, phase int
	start         bool // false: ready; true: started
}

func main() {
	workers := flag.Int("workers", 4, "number of workers")
	phases := flag.Int("phases", 3, "number of phases")
	flag.Parse()

	var mu sync.Mutex
	var log []event
	record := func(e event) {
		mu.Lock()
		log = append(log, e)
		mu.Unlock()
	}

	phase := 0
	b, err := syncx.NewBarrier(*workers, func() error {
		phase++ // run by exactly one party, before anyone is released
		fmt.Printf("--- all %d workers ready: phase %d starts\n", *workers, phase)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "barrier:", err)
		os.Exit(2)
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := 1; p <= *phases; p++ {
				time.Sleep(time.Duration(w+1) * 2 * time.Millisecond) // preparing
				record(event{w, p, false})
				fmt.Printf("worker %d ready for phase %d\n", w, p)
				idx, err := b.Wait(ctx)
				if err != nil {
					fmt.Println("worker", w, "error:", err)
					return
				}
				record(event{w, p, true})
				if idx == 0 {
					fmt.Printf("worker %d was first to arrive for phase %d\n", w, p)
				}
			}
		}()
	}
	wg.Wait()

	// Check: for each phase, every "ready" precedes every "start".
	ok := true
	for p := 1; p <= *phases; p++ {
		lastReady, firstStart, ready, started := -1, len(log), 0, 0
		for i, e := range log {
			if e.phase != p {
				continue
			}
			if e.start {
				started++
				firstStart = min(firstStart, i)
			} else {
				ready++
				lastReady = i
			}
		}
		if ready != *workers || started != *workers || lastReady > firstStart {
			ok = false
		}
	}
	fmt.Printf("%d workers, %d phases: every worker started each phase only after all were ready: %v\n", *workers, *phases, ok)
	if !ok {
		os.Exit(1)
	}
}

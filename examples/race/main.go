// Command race shows the articles' lost-update race on a fake database, and
// the fix with a mutex.
//
// Each worker reads the database's value into a local copy, adds one, pauses
// (the articles' time.sleep, standing in for real work or I/O), and writes
// the copy back. Without a lock, the workers all read the same old value and
// overwrite each other's updates; with a lock around the whole
// read-modify-write, none is lost.
//
//	go run ./examples/race              # both parts
//	go run -race ./examples/race -unsafe  # let the race detector flag part 1
//
// A binary built with -race skips the unsafe part unless -unsafe is given,
// because the race detector would rightly report it and fail the run.
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

// FakeDatabase mirrors the articles' FakeDatabase: one shared value.
type FakeDatabase struct {
	value int
	mu    sync.Mutex
}

// Update is the racy read-modify-write, without a lock.
func (db *FakeDatabase) Update(pause time.Duration) {
	local := db.value
	local++
	time.Sleep(pause) // another worker runs here and reads the old value
	db.value = local
}

// LockedUpdate is the same update with the lock held throughout.
func (db *FakeDatabase) LockedUpdate(pause time.Duration) {
	db.mu.Lock()
	defer db.mu.Unlock()
	local := db.value
	local++
	time.Sleep(pause)
	db.value = local
}

// runWorkers starts n workers that wait for a common start signal (so that
// they really run at the same time) and then call update once each.
func runWorkers(n int, update func()) {
	var start syncx.Event
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = start.Wait(context.Background())
			update()
		}()
	}
	start.Set()
	wg.Wait()
}

func main() {
	workers := flag.Int("workers", 10, "number of concurrent workers")
	pause := flag.Duration("pause", 10*time.Millisecond, "pause between read and write")
	unsafe := flag.Bool("unsafe", !raceEnabled, "run the unlocked, racy part (default: on, except in -race builds)")
	flag.Parse()
	if *workers < 1 {
		fmt.Fprintln(os.Stderr, "race: -workers must be at least 1")
		os.Exit(2)
	}

	if *unsafe {
		db := &FakeDatabase{}
		runWorkers(*workers, func() { db.Update(*pause) })
		fmt.Printf("without a lock: %d workers each added 1: final value %d, expected %d: %d updates lost\n",
			*workers, db.value, *workers, *workers-db.value)
		fmt.Println("  (each worker read the value before another wrote it back; go run -race flags this as a DATA RACE)")
	} else {
		fmt.Println("without a lock: skipped (this binary was built with -race; pass -unsafe to see the race detector flag it)")
	}

	db := &FakeDatabase{}
	runWorkers(*workers, func() { db.LockedUpdate(*pause) })
	fmt.Printf("with a mutex: %d workers each added 1: final value %d, expected %d: %d updates lost\n",
		*workers, db.value, *workers, *workers-db.value)
	if db.value != *workers {
		os.Exit(1)
	}
}

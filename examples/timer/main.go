// Command timer shows a syncx.Timer cancelled before it fires, and one that
// fires.
//
// As in the articles, a timer shows a reminder if the user does not act in
// time; when the user acts first, the timer is cancelled. Cancel reports for
// certain whether it stopped the function before it ran.
//
//	go run ./examples/timer
package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/syncx"
)

func main() {
	ctx := context.Background()

	// 1. The user acts after 10ms, well before the 500ms reminder.
	var shown atomic.Bool
	reminder, err := syncx.AfterFunc(500*time.Millisecond, func() {
		shown.Store(true)
		fmt.Println("timer 1: reminder shown (should not happen)")
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "timer:", err)
		os.Exit(1)
	}
	time.Sleep(10 * time.Millisecond)
	stopped := reminder.Cancel()
	_ = reminder.Wait(ctx)
	fmt.Printf("timer 1 (500ms): user acted after 10ms; Cancel stopped it before it fired: %v; function ran: %v\n",
		stopped, shown.Load())

	// 2. Nobody acts: the 20ms timer fires.
	start := time.Now()
	var firedAfter atomic.Int64
	t2, _ := syncx.AfterFunc(20*time.Millisecond, func() {
		firedAfter.Store(int64(time.Since(start)))
	})
	_ = t2.Wait(ctx) // like Python's Timer.join()
	fmt.Printf("timer 2 (20ms): fired: %v (after at least 20ms: %v); Cancel afterwards returns %v\n",
		firedAfter.Load() > 0, time.Duration(firedAfter.Load()) >= 20*time.Millisecond, t2.Cancel())

	if !stopped || shown.Load() || firedAfter.Load() == 0 {
		os.Exit(1)
	}
}

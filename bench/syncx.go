package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/trident-go/trident/syncx"
)

func init() {
	register(Suite{
		Name:  "syncx",
		About: "syncx primitives: Queue Put+Get vs buffered channel and CPython queue.Queue; Barrier (2, 8 parties) and Event round trip vs CPython threading",
		Run:   runSyncxSuite,
	})
}

// syncxQueueCap is the bound of every queue and channel in the suite.
const syncxQueueCap = 1024

// checkSum panics if a batch lost or duplicated items: it also keeps the
// consumer's work from being optimised away.
func checkSum(s, n int) {
	if s != n*(n-1)/2 {
		panic(fmt.Sprintf("syncx bench: items lost: sum %d for n %d", s, n))
	}
}

// queueBatch: a producer goroutine puts n ints into a bounded syncx.Queue,
// the caller gets them.
func queueBatch(n int) { queueBatchCap(n, syncxQueueCap) }

// queueBatchCap is queueBatch with capacity c; with c = 1 nearly every Put
// and Get blocks, which measures the waiting path rather than the buffer.
func queueBatchCap(n, c int) {
	q := syncx.NewQueue[int](c)
	ctx := context.Background()
	go func() {
		for i := range n {
			if err := q.Put(ctx, i); err != nil {
				panic(err)
			}
		}
	}()
	s := 0
	for range n {
		v, err := q.Get(ctx)
		if err != nil {
			panic(err)
		}
		s += v
	}
	checkSum(s, n)
}

// chanBatch is queueBatch with a buffered channel of the same capacity.
func chanBatch(n int) { chanBatchCap(n, syncxQueueCap) }

func chanBatchCap(n, c int) {
	ch := make(chan int, c)
	go func() {
		for i := range n {
			ch <- i
		}
	}()
	s := 0
	for range n {
		s += <-ch
	}
	checkSum(s, n)
}

// barrierBatch: parties goroutines pass the same barrier n times (n cycles).
func barrierBatch(parties int) func(n int) {
	return func(n int) {
		b, err := syncx.NewBarrier(parties, nil)
		if err != nil {
			panic(err)
		}
		ctx := context.Background()
		party := func() {
			for range n {
				if _, err := b.Wait(ctx); err != nil {
					panic(err)
				}
			}
		}
		var wg sync.WaitGroup
		for range parties - 1 {
			wg.Go(party)
		}
		party()
		wg.Wait()
	}
}

// eventBatch: n round trips over two Events (set, wait, clear each way).
func eventBatch(n int) {
	var ping, pong syncx.Event
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range n {
			_ = ping.Wait(ctx)
			ping.Clear()
			pong.Set()
		}
	})
	for range n {
		ping.Set()
		_ = pong.Wait(ctx)
		pong.Clear()
	}
	wg.Wait()
}

func runSyncxSuite(cfg Config) (*Report, error) {
	nQueue, nSync, rounds := 2_000_000, 20_000, 7
	pyQueue, pySync, pyRounds := 200_000, 5_000, 5
	if cfg.Quick {
		nQueue, nSync, rounds = 200_000, 2_000, 3
		pyQueue, pySync, pyRounds = 20_000, 500, 3
	}
	rep := &Report{Ratios: map[string]float64{}}

	qOrder := []string{"trident-queue", "channel", "trident-queue-cap1", "channel-cap1"}
	qm := interleaved(rounds, nQueue, qOrder, map[string]func(int){
		"trident-queue":      queueBatch,
		"channel":            chanBatch,
		"trident-queue-cap1": func(n int) { queueBatchCap(n/4, 1) },
		"channel-cap1":       func(n int) { chanBatchCap(n/4, 1) },
	})
	// The cap-1 batches run n/4 items (they are slower); scale to per item.
	for _, k := range []string{"trident-queue-cap1", "channel-cap1"} {
		m := qm[k]
		m.NsPerTask *= 4
		m.AllocsPerTask *= 4
		qm[k] = m
	}
	sOrder := []string{"trident-barrier-2", "trident-barrier-8", "trident-event"}
	sm := interleaved(rounds, nSync, sOrder, map[string]func(int){
		"trident-barrier-2": barrierBatch(2),
		"trident-barrier-8": barrierBatch(8),
		"trident-event":     eventBatch,
	})
	notes := map[string]string{
		"trident-queue":      fmt.Sprintf("syncx.NewQueue(%d), 1 producer goroutine, 1 consumer; per item", syncxQueueCap),
		"channel":            fmt.Sprintf("chan int, capacity %d, same shape; per item", syncxQueueCap),
		"trident-queue-cap1": "syncx.NewQueue(1): nearly every Put/Get waits; per item",
		"channel-cap1":       "chan int, capacity 1, same shape; per item",
		"trident-barrier-2":  "syncx.Barrier, 2 parties; per cycle",
		"trident-barrier-8":  "syncx.Barrier, 8 parties; per cycle",
		"trident-event":      "two syncx.Events ping-ponged (set, wait, clear); per round trip",
	}
	for _, name := range append(qOrder, sOrder...) {
		m, ok := qm[name]
		if !ok {
			m = sm[name]
		}
		rep.Rows = append(rep.Rows, Row{Name: name, NsPerTask: m.NsPerTask, AllocsPerTask: m.AllocsPerTask, Note: notes[name]})
	}
	rep.Ratios["channel"] = qm["channel"].NsPerTask / qm["trident-queue"].NsPerTask
	rep.Ratios["channel-cap1"] = qm["channel-cap1"].NsPerTask / qm["trident-queue-cap1"].NsPerTask
	rep.Notes = append(rep.Notes,
		"Go rows: interleaved rounds in one run (median); queue and channel side by side",
		"targets: python-queue.Queue >= 20; channel >= 0.5 (trident within 2x of a buffered channel); channel-cap1 is the same comparison with capacity 1, for information")

	if cfg.Python == "" {
		rep.Notes = append(rep.Notes, "python3 not found: CPython rows skipped")
		return rep, nil
	}
	var py struct {
		Queue    float64 `json:"queue"`
		Barrier2 float64 `json:"barrier2"`
		Barrier8 float64 `json:"barrier8"`
		Event    float64 `json:"event"`
		Version  string  `json:"version"`
	}
	err := runPython(cfg, "syncx_threading.py", &py,
		strconv.Itoa(pyQueue), strconv.Itoa(pySync), strconv.Itoa(pyRounds))
	if err != nil {
		rep.Notes = append(rep.Notes, "CPython rows skipped: "+err.Error())
		return rep, nil
	}
	for _, r := range []struct {
		name, trident, note string
		ns                  float64
	}{
		{"python-queue.Queue", "trident-queue", "queue.Queue(maxsize=1024), producer thread, consumer thread; per item", py.Queue},
		{"python-threading.Barrier-2", "trident-barrier-2", "threading.Barrier(2); per cycle", py.Barrier2},
		{"python-threading.Barrier-8", "trident-barrier-8", "threading.Barrier(8); per cycle", py.Barrier8},
		{"python-threading.Event", "trident-event", "two threading.Events ping-ponged; per round trip", py.Event},
	} {
		rep.Rows = append(rep.Rows, Row{Name: r.name, NsPerTask: r.ns, AllocsPerTask: -1, Note: r.note})
		var tr float64
		if m, ok := qm[r.trident]; ok {
			tr = m.NsPerTask
		} else {
			tr = sm[r.trident].NsPerTask
		}
		if tr > 0 && r.ns > 0 {
			rep.Ratios[r.name] = r.ns / tr
		}
	}
	rep.Notes = append(rep.Notes, "CPython "+py.Version+" rows are measured in a separate process right after the Go rows")
	return rep, nil
}

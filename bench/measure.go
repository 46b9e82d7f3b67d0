package main

import (
	"runtime"
	"sort"
	"time"
)

// Measurement is the cost of one batch of n tasks.
type Measurement struct {
	NsPerTask     float64
	AllocsPerTask float64
}

// measure runs batch(n) reps times and returns the median ns per task and the
// allocations per task of the median run. Allocations are counted with
// runtime.MemStats over the whole process, so background goroutines of a
// peer library count against it, as they should.
func measure(reps, n int, batch func(n int)) Measurement {
	if reps < 1 {
		reps = 1
	}
	batch(n / 10) // warm up: start workers, grow queues
	type res struct{ ns, allocs float64 }
	var rs []res
	var ms runtime.MemStats
	for i := 0; i < reps; i++ {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		a0 := ms.Mallocs
		t0 := time.Now()
		batch(n)
		el := time.Since(t0)
		runtime.ReadMemStats(&ms)
		rs = append(rs, res{float64(el.Nanoseconds()) / float64(n), float64(ms.Mallocs-a0) / float64(n)})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ns < rs[j].ns })
	m := rs[len(rs)/2]
	return Measurement{NsPerTask: m.ns, AllocsPerTask: m.allocs}
}

// interleaved runs each named batch once per round, rounds times, so that
// every contender sees the same machine noise, and returns the median per
// name. This is how suites compare peers "side by side in one run".
func interleaved(rounds, n int, order []string, batches map[string]func(n int)) map[string]Measurement {
	all := map[string][]Measurement{}
	for _, name := range order {
		batches[name](n / 10) // warm up
	}
	for r := 0; r < rounds; r++ {
		for _, name := range order {
			all[name] = append(all[name], measure(1, n, batches[name]))
		}
	}
	out := map[string]Measurement{}
	for name, ms := range all {
		sort.Slice(ms, func(i, j int) bool { return ms[i].NsPerTask < ms[j].NsPerTask })
		out[name] = ms[len(ms)/2]
	}
	return out
}

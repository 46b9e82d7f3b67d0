package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/aio"
	"github.com/trident-go/trident/future"
)

func init() {
	register(Suite{
		Name:  "aio",
		About: "event loop: create+await tasks, 100k sleeping tasks, one switch, TCP echo; vs CPython asyncio",
		Run:   runAioSuite,
	})
}

// aioWrong records a batch that computed a wrong sum (the work is checked,
// so it cannot be optimised away either).
var aioWrong atomic.Bool

func runAioSuite(cfg Config) (*Report, error) {
	rep := &Report{Ratios: map[string]float64{}}
	n, rounds := 200_000, 5
	sleepers, sleepFor := 100_000, time.Second
	echoConns, echoReqs := 50, 400
	if cfg.Quick {
		n, rounds = 20_000, 3
		sleepers, sleepFor = 10_000, 100*time.Millisecond
		echoConns, echoReqs = 10, 100
	}
	ctx := context.Background()

	// 1. create + await many trivial tasks, 2. one switch, one await of a ready future.
	ready := future.Resolved(1, nil)
	batches := map[string]func(int){
		"create-await": func(n int) {
			v, _ := aio.Run(ctx, func(t *aio.T) (int, error) {
				ts := make([]*aio.Task[int], n)
				for i := range ts {
					ts[i] = aio.Go(t, func(*aio.T) (int, error) { return 1, nil })
				}
				s := 0
				for _, task := range ts {
					v, _ := aio.Await(t, task)
					s += v
				}
				return s, nil
			})
			if v != n {
				aioWrong.Store(true)
			}
		},
		"create-await-eager": func(n int) {
			v, _ := aio.Run(ctx, func(t *aio.T) (int, error) {
				ts := make([]*aio.Task[int], n)
				for i := range ts {
					ts[i] = aio.Go(t, func(*aio.T) (int, error) { return 1, nil })
				}
				s := 0
				for _, task := range ts {
					v, _ := aio.Await(t, task)
					s += v
				}
				return s, nil
			}, aio.WithEagerTasks())
			if v != n {
				aioWrong.Store(true)
			}
		},
		"create-await-each": func(n int) {
			v, _ := aio.Run(ctx, createAwaitEach(n))
			if v != n {
				aioWrong.Store(true)
			}
		},
		"create-await-each-eager": func(n int) {
			v, _ := aio.Run(ctx, createAwaitEach(n), aio.WithEagerTasks())
			if v != n {
				aioWrong.Store(true)
			}
		},
		"switch-yield": func(n int) {
			aio.Run(ctx, func(t *aio.T) (int, error) {
				for range n {
					aio.Yield(t)
				}
				return 0, nil
			})
		},
		"await-ready-future": func(n int) {
			v, _ := aio.Run(ctx, func(t *aio.T) (int, error) {
				s := 0
				for range n {
					v, _ := aio.Await(t, ready)
					s += v
				}
				return s, nil
			})
			if v != n {
				aioWrong.Store(true)
			}
		},
		"channel-handoff": func(n int) {
			// Round trip between two goroutines over unbuffered channels:
			// the floor of a per-task channel hand-off design.
			ping, pong := make(chan struct{}), make(chan struct{})
			go func() {
				for range ping {
					pong <- struct{}{}
				}
			}()
			for range n {
				ping <- struct{}{}
				<-pong
			}
			close(ping)
		},
	}
	order := []string{"create-await", "create-await-eager", "create-await-each", "create-await-each-eager", "switch-yield", "await-ready-future", "channel-handoff"}
	ms := interleaved(rounds, n, order, batches)
	if aioWrong.Load() {
		return nil, fmt.Errorf("a batch computed a wrong result")
	}
	notes := map[string]string{
		"create-await":            "Go + Await of a task returning at once",
		"create-await-eager":      "create-await under WithEagerTasks (3.12's eager_task_factory): each task runs inside Go",
		"create-await-each":       "Go, then Await at once, task after task (the awaiting task suspends each time)",
		"create-await-each-eager": "create-await-each under WithEagerTasks: the task is done when Go returns, Await does not suspend",
		"switch-yield":            "Yield: coroutine -> loop -> coroutine (2 coroutine switches)",
		"await-ready-future":      "Await of an already-final *future.Future: no switch",
		"channel-handoff":         "goroutine ping-pong over unbuffered channels (round trip)",
	}
	for _, name := range order {
		m := ms[name]
		rep.Rows = append(rep.Rows, Row{Name: name, NsPerTask: m.NsPerTask, AllocsPerTask: m.AllocsPerTask, Note: notes[name]})
	}
	rep.Ratios["channel-handoff"] = ms["channel-handoff"].NsPerTask / ms["switch-yield"].NsPerTask
	// Eager start against the default, same work: > 1 means eager is
	// cheaper.
	rep.Ratios["eager-create-await"] = ms["create-await"].NsPerTask / ms["create-await-eager"].NsPerTask
	rep.Ratios["eager-create-await-each"] = ms["create-await-each"].NsPerTask / ms["create-await-each-eager"].NsPerTask
	rep.Notes = append(rep.Notes, "eager-* ratios: default cost / WithEagerTasks cost on the same work (> 1: eager start is cheaper)")

	var py struct {
		CreateAwait float64 `json:"create_await_ns"`
		Switch      float64 `json:"switch_ns"`
		Version     string  `json:"version"`
	}
	if cfg.Python == "" {
		rep.Notes = append(rep.Notes, "python3 not found: CPython rows skipped")
	} else if err := runPython(cfg, "aio_tasks.py", &py, fmt.Sprint(n), fmt.Sprint(rounds)); err != nil {
		rep.Notes = append(rep.Notes, "CPython tasks: "+err.Error())
	} else {
		rep.Rows = append(rep.Rows,
			Row{Name: "python-asyncio", NsPerTask: py.CreateAwait, AllocsPerTask: -1, Note: "CPython " + py.Version + " create_task + await"},
			Row{Name: "python-asyncio-switch", NsPerTask: py.Switch, AllocsPerTask: -1, Note: "await asyncio.sleep(0)"})
		rep.Ratios["python-asyncio"] = py.CreateAwait / ms["create-await"].NsPerTask
		rep.Ratios["python-asyncio-switch"] = py.Switch / ms["switch-yield"].NsPerTask
	}
	// The cost per task depends on how many tasks are alive at once, and
	// not in the same way on both sides (CPython's cyclic GC walks every
	// live task, so its cost per task roughly doubles from 20k to 200k):
	// the full run also measures both sides at the quick run's size, so
	// that the quick ratio has a full-run counterpart to be compared with.
	if small := 20_000; n > small && cfg.Python != "" {
		mSmall := interleaved(rounds, small, []string{"create-await"}, batches)["create-await"]
		var pySmall struct {
			CreateAwait float64 `json:"create_await_ns"`
		}
		if err := runPython(cfg, "aio_tasks.py", &pySmall, fmt.Sprint(small), fmt.Sprint(rounds)); err == nil && !aioWrong.Load() {
			rep.Rows = append(rep.Rows,
				Row{Name: "create-await-20k", NsPerTask: mSmall.NsPerTask, AllocsPerTask: mSmall.AllocsPerTask, Note: "create-await with 20k tasks per batch (the quick run's size)"},
				Row{Name: "python-asyncio-20k", NsPerTask: pySmall.CreateAwait, AllocsPerTask: -1, Note: "CPython create_task + await, 20k tasks per batch"})
			rep.Ratios["python-asyncio-20k"] = pySmall.CreateAwait / mSmall.NsPerTask
		}
	}
	if cfg.Quick {
		rep.Notes = append(rep.Notes, fmt.Sprintf("quick mode: create-await with %d tasks per batch on both sides; the target is for the full run's 200k, where CPython's cost per task is about twice as high (compare python-asyncio-20k of a full run)", n))
	}

	// 3. Many tasks sleeping on the real clock: wall time and peak memory,
	// twice in one process on each side: the first run pays for memory the
	// process has never touched (page faults, fresh goroutine stacks; for
	// CPython fresh arenas), the second reuses it, as a long-running
	// program does.
	label := fmt.Sprintf("sleep-%dk-%v", sleepers/1000, sleepFor)
	var walls [2]time.Duration
	for i, suffix := range []string{"", "-again"} {
		wall, peak, err := aioSleepers(sleepers, sleepFor)
		if err != nil {
			return nil, err
		}
		walls[i] = wall
		row := Row{Name: label + suffix, NsPerTask: float64(wall.Nanoseconds()) / float64(sleepers), AllocsPerTask: -1,
			Extra: map[string]float64{"wall_s": wall.Seconds(), "peak_mem_mb": float64(peak) / (1 << 20)},
			Note:  "first run in the process; peak_mem_mb: Go runtime memory in use above the baseline, sampled"}
		if i == 1 {
			// The baseline now holds the first run's memory: no peak.
			row.Extra = map[string]float64{"wall_s": wall.Seconds()}
			row.Note = "second run in the same process (memory and goroutines reused)"
		}
		rep.Rows = append(rep.Rows, row)
	}
	if cfg.Quick {
		rep.Notes = append(rep.Notes, fmt.Sprintf("quick mode: %d tasks sleeping %v instead of 100000 x 1s", sleepers, sleepFor))
	}
	if cfg.Python != "" {
		var ps struct {
			Wall  float64 `json:"wall_s"`
			Wall2 float64 `json:"wall2_s"`
			Peak  float64 `json:"peak_rss_kb"`
			Base  float64 `json:"base_rss_kb"`
		}
		if err := runPython(cfg, "aio_sleep.py", &ps, fmt.Sprint(sleepers), fmt.Sprint(sleepFor.Seconds())); err != nil {
			rep.Notes = append(rep.Notes, "CPython sleepers: "+err.Error())
		} else {
			extra := map[string]float64{"wall_s": ps.Wall, "peak_mem_mb": (ps.Peak - ps.Base) / 1024, "peak_rss_mb": ps.Peak / 1024}
			rep.Rows = append(rep.Rows,
				Row{Name: "python-asyncio-" + label, NsPerTask: ps.Wall * 1e9 / float64(sleepers), AllocsPerTask: -1, Extra: extra,
					Note: "first asyncio.run in the process; peak_mem_mb: max RSS above the interpreter's baseline"},
				Row{Name: "python-asyncio-" + label + "-again", NsPerTask: ps.Wall2 * 1e9 / float64(sleepers), AllocsPerTask: -1,
					Extra: map[string]float64{"wall_s": ps.Wall2}, Note: "second asyncio.run in the same process"})
			rep.Ratios["python-asyncio-sleep-wall"] = ps.Wall / walls[0].Seconds()
			rep.Ratios["python-asyncio-sleep-wall-again"] = ps.Wall2 / walls[1].Seconds()
		}
	}

	// 4. Echo over loopback TCP, many connections (aio_echo.go).
	echoRounds := 5
	if cfg.Quick {
		echoRounds = 3
	}
	if err := echoRows(cfg, rep, echoConns, echoReqs, echoRounds); err != nil {
		return nil, err
	}
	return rep, nil
}

// memInUse is the Go runtime's mapped memory minus what it returned to the OS.
func memInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

func aioSleepers(n int, d time.Duration) (time.Duration, uint64, error) {
	runtime.GC()
	base := memInUse()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if m := memInUse(); m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		ts := make([]*aio.Task[int], n)
		for i := range ts {
			ts[i] = aio.Go(t, func(t *aio.T) (int, error) { return 0, aio.Sleep(t, d) })
		}
		_, err := aio.Gather(t, ts...)
		return 0, err
	})
	wall := time.Since(t0)
	if m := memInUse(); m > peak.Load() {
		peak.Store(m)
	}
	close(stop)
	wg.Wait()
	p := peak.Load()
	if p < base {
		p = base
	}
	return wall, p - base, err
}

// echoClients runs conns client goroutines, each sending reqs lines one at
// a time and reading the echo, and returns requests per second.
func echoClients(addr string, conns, reqs, depth int) (float64, error) {
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := make(chan struct{})
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			for _, c := range cs[:i] {
				c.Close()
			}
			return 0, err
		}
		cs[i] = c
	}
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			<-start
			r := bufio.NewReader(c)
			msg := bytes.Repeat([]byte("hello from the echo benchmark\n"), depth)
			for range reqs / depth {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				for range depth {
					if _, err := r.ReadSlice('\n'); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(conns*(reqs/depth)*depth) / el.Seconds(), nil
}

// createAwaitEach creates n tasks that return at once, awaiting each right
// after creating it.
func createAwaitEach(n int) func(t *aio.T) (int, error) {
	return func(t *aio.T) (int, error) {
		s := 0
		for range n {
			v, _ := aio.Await(t, aio.Go(t, func(*aio.T) (int, error) { return 1, nil }))
			s += v
		}
		return s, nil
	}
}

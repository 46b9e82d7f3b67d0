package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
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
	order := []string{"create-await", "switch-yield", "await-ready-future", "channel-handoff"}
	ms := interleaved(rounds, n, order, batches)
	if aioWrong.Load() {
		return nil, fmt.Errorf("a batch computed a wrong result")
	}
	notes := map[string]string{
		"create-await":       "Go + Await of a task returning at once",
		"switch-yield":       "Yield: coroutine -> loop -> coroutine (2 coroutine switches)",
		"await-ready-future": "Await of an already-final *future.Future: no switch",
		"channel-handoff":    "goroutine ping-pong over unbuffered channels (round trip)",
	}
	for _, name := range order {
		m := ms[name]
		rep.Rows = append(rep.Rows, Row{Name: name, NsPerTask: m.NsPerTask, AllocsPerTask: m.AllocsPerTask, Note: notes[name]})
	}
	rep.Ratios["channel-handoff"] = ms["channel-handoff"].NsPerTask / ms["switch-yield"].NsPerTask

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

	// 3. Many tasks sleeping on the real clock: wall time and peak memory.
	wall, peak, err := aioSleepers(sleepers, sleepFor)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("sleep-%dk-%v", sleepers/1000, sleepFor)
	rep.Rows = append(rep.Rows, Row{Name: label, NsPerTask: float64(wall.Nanoseconds()) / float64(sleepers), AllocsPerTask: -1,
		Extra: map[string]float64{"wall_s": wall.Seconds(), "peak_mem_mb": float64(peak) / (1 << 20)},
		Note:  "peak_mem_mb: Go runtime memory in use above the baseline, sampled"})
	if cfg.Quick {
		rep.Notes = append(rep.Notes, fmt.Sprintf("quick mode: %d tasks sleeping %v instead of 100000 x 1s", sleepers, sleepFor))
	}
	if cfg.Python != "" {
		var ps struct {
			Wall float64 `json:"wall_s"`
			Peak float64 `json:"peak_rss_kb"`
			Base float64 `json:"base_rss_kb"`
		}
		if err := runPython(cfg, "aio_sleep.py", &ps, fmt.Sprint(sleepers), fmt.Sprint(sleepFor.Seconds())); err != nil {
			rep.Notes = append(rep.Notes, "CPython sleepers: "+err.Error())
		} else {
			rep.Rows = append(rep.Rows, Row{Name: "python-asyncio-" + label, NsPerTask: ps.Wall * 1e9 / float64(sleepers), AllocsPerTask: -1,
				Extra: map[string]float64{"wall_s": ps.Wall, "peak_mem_mb": (ps.Peak - ps.Base) / 1024, "peak_rss_mb": ps.Peak / 1024},
				Note:  "peak_mem_mb: max RSS above the interpreter's baseline"})
			rep.Ratios["python-asyncio-sleep-wall"] = ps.Wall / wall.Seconds()
		}
	}

	// 4. Echo over loopback TCP, many connections, the same Go client load,
	// rounds alternating between the servers.
	goSrv, err := startAioEcho()
	if err != nil {
		return nil, err
	}
	defer goSrv.stop()
	var pySrv *pyEcho
	if cfg.Python != "" {
		if pySrv, err = startPyEcho(cfg); err != nil {
			rep.Notes = append(rep.Notes, "CPython echo: "+err.Error())
			pySrv = nil
		} else {
			defer pySrv.stop()
		}
	}
	plainSrv, err := startPlainEcho()
	if err != nil {
		return nil, err
	}
	defer plainSrv.Close()
	echoRounds := 5
	if cfg.Quick {
		echoRounds = 3
	}
	// Two client styles: "proc" is the load generator in a process of its
	// own (one thread, epoll, raw system calls), the fair, server-focused
	// figure; "inproc" is the older style, client goroutines inside this
	// process, next to the aio and plain Go servers (but not CPython's).
	type clientStyle struct {
		suffix, how string
		run         func(addr string, conns, reqs, depth int) (float64, error)
	}
	styles := []clientStyle{
		{"", "lean client process (1 thread, epoll)", echoClientProc},
		{"-inproc-client", "client goroutines in the bench process", echoClients},
	}
	for _, st := range styles {
		for _, depth := range []int{1, 16} {
			var goRates, pyRates, plainRates []float64
			for range echoRounds {
				r0, err := st.run(plainSrv.Addr().String(), echoConns, echoReqs, depth)
				if err != nil {
					return nil, fmt.Errorf("plain echo: %v", err)
				}
				plainRates = append(plainRates, r0)
				r, err := st.run(goSrv.addr, echoConns, echoReqs, depth)
				if err != nil {
					return nil, fmt.Errorf("aio echo: %v", err)
				}
				goRates = append(goRates, r)
				if pySrv != nil {
					r, err := st.run(pySrv.addr, echoConns, echoReqs, depth)
					if err != nil {
						return nil, fmt.Errorf("CPython echo: %v", err)
					}
					pyRates = append(pyRates, r)
				}
			}
			suffix, how := st.suffix, "one request in flight per connection; "+st.how
			if depth > 1 {
				suffix = "-pipelined" + st.suffix
				how = fmt.Sprintf("%d requests in flight per connection; %s", depth, st.how)
			}
			extra := func(rps float64) map[string]float64 {
				return map[string]float64{"req_per_s": rps, "conns": float64(echoConns), "depth": float64(depth)}
			}
			goRPS, plainRPS := median(goRates), median(plainRates)
			rep.Rows = append(rep.Rows,
				Row{Name: "echo-goroutine-per-conn" + suffix, NsPerTask: 1e9 / plainRPS, AllocsPerTask: -1, Extra: extra(plainRPS),
					Note: "plain Go net server, no loop (reference); " + how},
				Row{Name: "echo-aio" + suffix, NsPerTask: 1e9 / goRPS, AllocsPerTask: -1, Extra: extra(goRPS),
					Note: "aio StartServer line echo; " + how})
			if pySrv != nil {
				pyRPS := median(pyRates)
				rep.Rows = append(rep.Rows, Row{Name: "python-asyncio-echo" + suffix, NsPerTask: 1e9 / pyRPS, AllocsPerTask: -1, Extra: extra(pyRPS),
					Note: "asyncio.start_server line echo; " + how})
				rep.Ratios["python-asyncio-echo"+suffix] = goRPS / pyRPS
			}
		}
	}
	rep.Notes = append(rep.Notes,
		"echo: every server runs on the same 2 cores as its load; rows are medians of rounds alternating between the servers",
		"echo (rows without a suffix): the load generator is a separate process, one thread driving all connections through epoll, identical for every server, so the servers' own cost is compared",
		"echo (-inproc-client rows, the earlier method): client goroutines in the bench process, which also hosts the aio and plain Go servers (not CPython's), so client cost dilutes the difference",
		"echo, one request in flight: each request costs the server a read and a write system call on loopback TCP, the same ones CPython makes; the loop makes its writes on its one thread (the goroutine-per-connection server spreads them over both cores), so this ratio is bounded by system-call cost, not by the loop")
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

// startPlainEcho is an ordinary Go echo server, a goroutine per connection.
func startPlainEcho() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

type aioEcho struct {
	addr   string
	loop   *aio.Loop
	stopEv *aio.Event
	runErr chan error
}

// startAioEcho runs an aio echo server on its own loop (in a goroutine).
func startAioEcho() (*aioEcho, error) {
	e := &aioEcho{runErr: make(chan error, 1)}
	up := make(chan error, 1)
	go func() {
		_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
			srv, err := aio.StartServer(t, "127.0.0.1:0", func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) error {
				for {
					line, err := r.ReadLine(t)
					if err == io.EOF {
						return nil
					} else if err != nil {
						return err
					}
					w.Write(line)
					if err := w.Drain(t); err != nil {
						return err
					}
				}
			})
			if err != nil {
				up <- err
				return 0, err
			}
			e.stopEv = &aio.Event{}
			e.addr = srv.Addr().String()
			e.loop = t.Loop()
			up <- nil
			err = e.stopEv.Wait(t)
			srv.Close()
			return 0, err
		})
		e.runErr <- err
	}()
	if err := <-up; err != nil {
		<-e.runErr
		return nil, err
	}
	return e, nil
}

func (e *aioEcho) stop() {
	aio.Submit(e.loop, context.Background(), func(t *aio.T) (int, error) { e.stopEv.Set(); return 0, nil })
	<-e.runErr
}

type pyEcho struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
}

func startPyEcho(cfg Config) (*pyEcho, error) {
	src, err := pyScripts.ReadFile("python/aio_echo_server.py")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "trident-bench-aio")
	if err != nil {
		return nil, err
	}
	p := &pyEcho{dir: dir}
	path := filepath.Join(dir, "aio_echo_server.py")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.cmd = exec.Command(cfg.Python, path)
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	var hello struct {
		Port int `json:"port"`
	}
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("echo server did not start (%q): %v", line, err)
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", hello.Port)
	return p, nil
}

func (p *pyEcho) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}

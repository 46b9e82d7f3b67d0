package lab

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trident-go/trident/aio"
)

func init() {
	extraRunners = append(extraRunners,
		goRunner{name: "aio", family: FamilyEventLoop,
			about: "trident's aio event loop, one task per job: CPU runs on the loop (blocking it, as the articles warn), requests go over aio TCP streams (raw HTTP/1.1), sleeps are aio.Sleep",
			run:   func(ctx context.Context, e *env) error { return runAio(ctx, e, aioPlain) }},
		goRunner{name: "aio-tothread", family: FamilyEventLoop,
			about: "aio, with the CPU part and the blocking requests sent to aio.ToThread (asyncio.to_thread); sleeps awaited on the loop",
			run:   func(ctx context.Context, e *env) error { return runAio(ctx, e, aioToThread) }},
	)
}

type aioMode int

const (
	aioPlain aioMode = iota
	aioToThread
	aioProcesses
)

// offload runs the CPU part somewhere other than the loop (a process pool);
// set by the procpool wiring.
type offloadFunc func(t *aio.T, s taskSpec) (taskResult, error)

func runAio(ctx context.Context, e *env, mode aioMode) error {
	return runAioWith(ctx, e, mode, nil)
}

func runAioWith(ctx context.Context, e *env, mode aioMode, offload offloadFunc) error {
	if e.workers == 0 {
		e.workers = e.w.Tasks
	}
	_, err := aio.Run(ctx, func(t *aio.T) (struct{}, error) {
		tasks := make([]*aio.Task[struct{}], e.w.Tasks)
		for i := range tasks {
			tasks[i] = aio.Go(t, func(t *aio.T) (struct{}, error) {
				return struct{}{}, aioTask(t, e, i, mode, offload)
			})
		}
		_, err := aio.Gather(t, tasks...)
		return struct{}{}, err
	})
	return err
}

func aioTask(t *aio.T, e *env, i int, mode aioMode, offload offloadFunc) error {
	s := e.spec(i, e.parts())
	add := func(kind string, t0 time.Time) {
		e.rec.add(Span{Lane: i, Task: i, Kind: kind, StartUS: s.us(t0), EndUS: s.us(time.Now())})
	}
	if s.Parts&partCPU != 0 {
		switch {
		case mode == aioPlain:
			if s.Numbers > 0 {
				_, spans := computeSpans(t.Context(), s) // blocks the loop
				for j := range spans {
					spans[j].Lane = i
				}
				e.rec.add(spans...)
			}
		case mode == aioProcesses && offload != nil:
			res, err := offload(t, taskSpec{Task: i, Numbers: s.Numbers, Epoch: s.Epoch, Parts: partCPU})
			for j := range res.Spans {
				res.Spans[j].Lane = i
			}
			e.rec.add(res.Spans...)
			e.noteChild(res.Pid, res.MaxRSSKB)
			if err != nil {
				return err
			}
		default:
			cpu := s
			cpu.Parts = partCPU
			res, err := aio.ToThread(t, func(ctx context.Context) (taskResult, error) { return runPlain(ctx, cpu, nil) })
			for j := range res.Spans {
				res.Spans[j].Lane = i
			}
			e.rec.add(res.Spans...)
			if err != nil {
				return err
			}
		}
	}
	if s.Parts&partReads != 0 {
		if mode == aioToThread {
			reads := s
			reads.Parts = partReads
			res, err := aio.ToThread(t, func(ctx context.Context) (taskResult, error) { return runPlain(ctx, reads, e.fetch) })
			for j := range res.Spans {
				res.Spans[j].Lane = i
			}
			e.rec.add(res.Spans...)
			if err != nil {
				return err
			}
		} else if err := aioReads(t, e, s, add); err != nil {
			return err
		}
	}
	if s.Parts&partSleep != 0 && s.Sleep > 0 {
		t0 := time.Now()
		err := aio.Sleep(t, s.Sleep)
		add(KindWait, t0)
		if err != nil {
			return err
		}
	}
	return nil
}

// aioReads makes the task's requests over one keep-alive connection opened
// with aio.OpenConnection (asyncio.open_connection): raw HTTP/1.1, as the
// CPython asyncio script does, since neither standard library has an async
// HTTP client.
func aioReads(t *aio.T, e *env, s taskSpec, add func(string, time.Time)) error {
	r, w, err := aio.OpenConnection(t, e.srv.Addr)
	if err != nil {
		return err
	}
	defer w.Close(t)
	req := "GET /item HTTP/1.1\r\nHost: " + e.srv.Addr + "\r\n\r\n"
	for range s.Reads {
		t0 := time.Now()
		if err := w.WriteString(req); err != nil {
			return err
		}
		if err := w.Drain(t); err != nil {
			return err
		}
		head, err := r.ReadUntil(t, []byte("\r\n\r\n"))
		if err != nil {
			return err
		}
		n, err := contentLength(head)
		if err != nil {
			return err
		}
		b, err := r.ReadN(t, n)
		if err != nil {
			return err
		}
		add(KindWait, t0)
		if len(b) != len(body) {
			return fmt.Errorf("lab: local server sent %d bytes, want %d", len(b), len(body))
		}
	}
	return nil
}

// contentLength parses a response head: status 200 and its Content-Length.
func contentLength(head []byte) (int, error) {
	lines := strings.Split(string(head), "\r\n")
	if !strings.HasPrefix(lines[0], "HTTP/1.1 200 ") {
		return 0, fmt.Errorf("lab: local server answered %q", lines[0])
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("lab: bad Content-Length %q", v)
			}
			return n, nil
		}
	}
	return 0, errors.New("lab: local server's answer has no Content-Length")
}

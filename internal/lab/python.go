package lab

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed python/*.py
var pythonFiles embed.FS

// CPython models, as the scripts name them.
var pyModels = []struct{ name, family, about string }{
	{"sequential", FamilySequential, "a plain for loop"},
	{"threading", FamilyThreads, "threading.Thread per task (under CPython's real GIL)"},
	{"thread-pool", FamilyThreads, "concurrent.futures.ThreadPoolExecutor() with its default workers"},
	{"multiprocessing", FamilyProcesses, "multiprocessing.Pool() (one process per core), map with chunksize=1"},
	{"process-pool", FamilyProcesses, "concurrent.futures.ProcessPoolExecutor() with its default workers"},
	{"asyncio", FamilyEventLoop, "asyncio.gather of one coroutine per task; CPU runs on the loop, requests on asyncio streams, asyncio.sleep"},
	{"asyncio-to-thread", FamilyEventLoop, "asyncio, with CPU and blocking requests sent to asyncio.to_thread"},
	{"asyncio-processes", FamilyEventLoop, "asyncio, with the CPU part sent to a ProcessPoolExecutor (run_in_executor)"},
}

func pyModelNames() []string {
	out := make([]string, len(pyModels))
	for i, m := range pyModels {
		out[i] = m.name
	}
	return out
}

// python runs the embedded script as one long-lived interpreter ("serve"):
// one JSON request per line in, one JSON answer per line out, so that no row
// pays for starting Python and importing its modules.
type python struct {
	exe     string
	dir     string
	script  string
	version string
	perMS   float64
	gil     bool
	pid     int

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
	mu     sync.Mutex
	// unlock ends the goroutine that holds the OS thread the interpreter
	// was started from (its Pdeathsig is bound to that thread).
	unlock chan struct{}
}

// ErrNoPython is returned (and reported on stderr by the CLI) when no usable
// python3 is found; the Go rows still run.
var ErrNoPython = errors.New("lab: python3 not found")

// startPython finds the interpreter, writes the scripts out, starts the
// serving interpreter and calibrates.
func startPython(ctx context.Context, exe string) (*python, error) {
	if exe == "" {
		p, err := exec.LookPath("python3")
		if err != nil {
			return nil, fmt.Errorf("%w on PATH: %v", ErrNoPython, err)
		}
		exe = p
	}
	dir, err := os.MkdirTemp("", "trident-lab-py")
	if err != nil {
		return nil, err
	}
	py := &python{exe: exe, dir: dir, script: filepath.Join(dir, "lab_models.py")}
	entries, _ := pythonFiles.ReadDir("python")
	for _, e := range entries {
		b, err := pythonFiles.ReadFile("python/" + e.Name())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		if err != nil {
			py.close()
			return nil, err
		}
	}
	// The interpreter is told the lab's pid: it watches its parent and ends
	// its process group (itself and a row's worker processes) when the lab
	// is gone, even when the lab was killed before the interpreter got
	// going (a pyenv shim resolves the version for half a second first).
	// Pdeathsig sends SIGTERM to the started process (the shim, which it
	// ends, or the interpreter once the shim has exec'd it, which ends its
	// process group on it) at once when the lab dies; the watch is the
	// backstop. (SIGKILL would end the interpreter before it could end its
	// row's workers.)
	py.cmd = exec.Command(exe, py.script, "serve", strconv.Itoa(os.Getpid()))
	py.cmd.Dir = dir
	py.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	py.stderr = &bytes.Buffer{}
	py.cmd.Stderr = py.stderr
	py.stdin, err = py.cmd.StdinPipe()
	if err == nil {
		var rc io.ReadCloser
		rc, err = py.cmd.StdoutPipe()
		py.out = bufio.NewReaderSize(rc, 1<<20)
	}
	if err == nil {
		err = py.startLocked()
	}
	if err != nil {
		py.cmd = nil
		py.close()
		return nil, fmt.Errorf("lab: starting %s: %w", exe, err)
	}
	var hello struct {
		Ready bool `json:"ready"`
		Pid   int  `json:"pid"`
	}
	if err := py.call(ctx, &hello, map[string]any{}, true); err != nil {
		py.close()
		return nil, err
	}
	py.pid = hello.Pid
	var cal struct {
		NumbersPerMS float64 `json:"numbers_per_ms"`
		Python       string  `json:"python"`
		GIL          bool    `json:"gil"`
	}
	if err := py.call(ctx, &cal, map[string]any{"cmd": "calibrate"}, false); err != nil {
		py.close()
		return nil, err
	}
	if cal.NumbersPerMS <= 0 {
		py.close()
		return nil, fmt.Errorf("lab: %s calibration returned %v", exe, cal.NumbersPerMS)
	}
	py.version, py.perMS, py.gil = cal.Python, cal.NumbersPerMS, cal.GIL
	return py, nil
}

// startLocked starts the interpreter from an OS thread that stays locked to
// a goroutine until close: Pdeathsig fires when the thread that started the
// child ends, and a Go thread can end under a goroutine that exits while
// locked to it; this one does not exit before close.
func (py *python) startLocked() error {
	started := make(chan error, 1)
	unlock := make(chan struct{}) // the goroutine reads its own copy: close sets py.unlock to nil
	py.unlock = unlock
	go func() {
		runtime.LockOSThread()
		err := py.cmd.Start()
		started <- err
		if err == nil {
			<-unlock
		}
		runtime.UnlockOSThread()
	}()
	err := <-started
	if err != nil {
		py.unlock = nil
	}
	return err
}

// close ends the interpreter (closing its stdin ends its loop; its process
// group is killed if it does not exit within 5 s) and removes the scripts.
func (py *python) close() {
	if py.cmd != nil && py.cmd.Process != nil {
		py.stdin.Close()
		done := make(chan struct{})
		go func() { _ = py.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-py.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		py.cmd = nil
	}
	if py.unlock != nil {
		close(py.unlock)
		py.unlock = nil
	}
	os.RemoveAll(py.dir)
}

// call sends one request (unless helloOnly) and decodes the one-line answer
// into out. ctx ending kills the interpreter: a row cannot be abandoned
// half-way in a live one.
func (py *python) call(ctx context.Context, out any, req map[string]any, helloOnly bool) error {
	py.mu.Lock()
	defer py.mu.Unlock()
	if py.cmd == nil {
		return errors.New("lab: the CPython interpreter is not running")
	}
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-py.cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	if !helloOnly {
		b, err := json.Marshal(req)
		if err != nil {
			return err
		}
		if _, err := py.stdin.Write(append(b, '\n')); err != nil {
			return py.failed(ctx, err)
		}
	}
	line, err := py.out.ReadBytes('\n')
	if err != nil {
		return py.failed(ctx, err)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return fmt.Errorf("lab: CPython %v: %s", req["model"], e.Error)
	}
	if err := json.Unmarshal(line, out); err != nil {
		return fmt.Errorf("lab: reading the CPython script's JSON: %w", err)
	}
	return nil
}

func (py *python) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := strings.TrimSpace(py.stderr.String())
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	return fmt.Errorf("lab: %s stopped answering: %w: %s", filepath.Base(py.exe), err, msg)
}

type pyRun struct {
	WallS         float64 `json:"wall_s"`
	CPUS          float64 `json:"cpu_s"`
	Workers       int     `json:"workers"`
	SelfMaxRSSKB  int64   `json:"self_maxrss_kb"`
	ChildMaxRSSKB int64   `json:"children_maxrss_kb"`
	Spans         [][]any `json:"spans"`
	Python        string  `json:"python"`
	GIL           bool    `json:"gil"`
}

// run runs one workload under one CPython model.
func (py *python) run(ctx context.Context, model string, w Workload, tasks, numbers, parts int, url string) (pyRun, error) {
	var r pyRun
	err := py.call(ctx, &r, map[string]any{"model": model, "tasks": tasks, "numbers": numbers, "reads": w.Reads,
		"url": url, "sleep_ms": float64(w.Sleep) / float64(time.Millisecond), "parts": parts,
		"chunk": max(1, int(py.perMS))}, false)
	return r, err
}

// spans converts the script's [lane, task, kind, start, end] lists.
func (r pyRun) spans() ([]Span, int) {
	out := make([]Span, 0, min(len(r.Spans), maxSpans))
	dropped := 0
	for _, s := range r.Spans {
		if len(s) != 5 {
			continue
		}
		if len(out) >= maxSpans {
			dropped++
			continue
		}
		lane, _ := s[0].(float64)
		task, _ := s[1].(float64)
		kind, _ := s[2].(string)
		st, _ := s[3].(float64)
		en, _ := s[4].(float64)
		out = append(out, Span{Lane: int(lane), Task: int(task), Kind: kind, StartUS: st, EndUS: en})
	}
	return out, dropped
}

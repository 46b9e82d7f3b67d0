package lab

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// python runs the embedded scripts with one interpreter.
type python struct {
	exe     string
	dir     string
	script  string
	version string
	perMS   float64
}

// ErrNoPython is returned (and reported on stderr by the CLI) when no usable
// python3 is found; the Go rows still run.
var ErrNoPython = errors.New("lab: python3 not found")

// startPython finds the interpreter, writes the scripts out and calibrates.
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
	var cal struct {
		NumbersPerMS float64 `json:"numbers_per_ms"`
		Python       string  `json:"python"`
	}
	if _, err := py.call(ctx, &cal, "calibrate"); err != nil {
		py.close()
		return nil, err
	}
	if cal.NumbersPerMS <= 0 {
		py.close()
		return nil, fmt.Errorf("lab: %s calibration returned %v", exe, cal.NumbersPerMS)
	}
	py.version, py.perMS = cal.Python, cal.NumbersPerMS
	return py, nil
}

func (py *python) close() { os.RemoveAll(py.dir) }

// call runs the script and decodes its one JSON object into out.
func (py *python) call(ctx context.Context, out any, args ...string) (*os.ProcessState, error) {
	cmd := exec.CommandContext(ctx, py.exe, append([]string{py.script}, args...)...)
	cmd.Dir = py.dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return cmd.ProcessState, fmt.Errorf("lab: %s %s: %w: %s", filepath.Base(py.exe), strings.Join(args[:min(len(args), 3)], " "), err, msg)
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return cmd.ProcessState, fmt.Errorf("lab: reading the CPython script's JSON: %w", err)
	}
	return cmd.ProcessState, nil
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
	_, err := py.call(ctx, &r, "run", "--model", model,
		"--tasks", strconv.Itoa(tasks),
		"--numbers", strconv.Itoa(numbers),
		"--reads", strconv.Itoa(w.Reads),
		"--url", url,
		"--sleep-ms", strconv.FormatFloat(float64(w.Sleep)/float64(time.Millisecond), 'f', -1, 64),
		"--parts", strconv.Itoa(parts))
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

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// labQuickArgs keeps the end-to-end runs light: the binary is built with
// -race, which slows everything down several times.
var labQuickArgs = []string{"lab", "--quick", "--workload", "cpu-bound,slow-io", "--model", "threads-gil,goroutines,procpool,threading"}

func TestLabQuickJSON(t *testing.T) {
	out, errOut, code := runTrident(t, "", append(labQuickArgs, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	var res struct {
		Rows []struct {
			Workload string  `json:"workload"`
			Model    string  `json:"model"`
			Runtime  string  `json:"runtime"`
			WallMS   float64 `json:"wall_ms"`
			Speedup  float64 `json:"speedup"`
			Spans    []any   `json:"spans"`
		} `json:"rows"`
		Verdicts []struct {
			Workload  string `json:"workload"`
			BestModel string `json:"best_model"`
		} `json:"verdicts"`
		Claims []struct {
			ID          string           `json:"id"`
			Claim       string           `json:"claim"`
			Holds       string           `json:"holds"`
			Evidence    []map[string]any `json:"evidence"`
			Explanation string           `json:"explanation"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, r := range res.Rows {
		if r.Runtime != "go" && r.Runtime != "cpython" {
			t.Fatalf("row runtime %q", r.Runtime)
		}
		if r.WallMS <= 0 || r.Speedup <= 0 || len(r.Spans) == 0 {
			t.Fatalf("row not measured: %+v", r)
		}
		seen[r.Runtime+"/"+r.Workload+"/"+r.Model] = true
	}
	for _, want := range []string{"go/cpu-bound/sequential", "go/cpu-bound/threads-gil", "go/slow-io/goroutines", "go/cpu-bound/procpool"} {
		if !seen[want] {
			t.Fatalf("no row %s in %v", want, seen)
		}
	}
	if _, err := exec.LookPath("python3"); err == nil {
		if !seen["cpython/slow-io/threading"] {
			t.Fatalf("python3 is on PATH but no CPython threading row: %v\nstderr:\n%s", seen, errOut)
		}
	} else if !strings.Contains(errOut, "CPython rows skipped") {
		t.Fatalf("no python3, and stderr does not say so:\n%s", errOut)
	}
	if len(res.Verdicts) != 2 || res.Verdicts[0].Workload != "cpu-bound" || res.Verdicts[1].Workload != "slow-io" {
		t.Fatalf("verdicts: %+v", res.Verdicts)
	}
	for _, v := range res.Verdicts {
		if v.BestModel == "" {
			t.Fatalf("verdict without best model: %+v", v)
		}
	}
	if !strings.Contains(errOut, "trident lab: [") {
		t.Fatalf("no progress lines on stderr (not a terminal):\n%s", errOut)
	}
	// Claims: all six, each with an outcome, its evidence and a reason.
	// Which way a measured claim goes depends on this machine; what was
	// not selected is "not measured" for sure.
	if len(res.Claims) != 6 {
		t.Fatalf("claims: %+v", res.Claims)
	}
	for _, c := range res.Claims {
		if c.Claim == "" || c.Explanation == "" || c.Evidence == nil {
			t.Fatalf("claim without text, explanation or evidence list: %+v", c)
		}
		switch c.Holds {
		case "yes", "no", "unclear":
			if len(c.Evidence) == 0 {
				t.Fatalf("judged claim without evidence: %+v", c)
			}
		case "not measured":
		default:
			t.Fatalf("claim %s: holds %q", c.ID, c.Holds)
		}
		switch c.ID {
		case "asyncio-waits", "asyncio-offload", "io-releases-gil":
			// slow-io ran with threads-gil and threading, so the I/O claim is
			// measured; no event-loop model was selected.
			measured := c.ID == "io-releases-gil"
			if measured == (c.Holds == "not measured") {
				t.Fatalf("claim %s: holds %q with models %v", c.ID, c.Holds, labQuickArgs)
			}
		case "free-threads", "gil-cpu", "processes-cpu":
			if runtime.NumCPU() >= 2 && c.Holds == "not measured" {
				t.Fatalf("claim %s not measured although its rows ran: %+v", c.ID, c)
			}
		}
	}
}

func TestLabTableAndFiles(t *testing.T) {
	dir := t.TempDir()
	js, page := filepath.Join(dir, "lab.json"), filepath.Join(dir, "lab.html")
	out, errOut, code := runTrident(t, "", "lab", "--quick", "--no-python", "--workload", "slow-io", "--model", "goroutines",
		"--json="+js, "--html", page)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"workload", "goroutines", "Verdicts", "slow-io", "Claims of the articles", "NOT MEASURED"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil || !json.Valid(b) {
		t.Fatalf("JSON file: %v", err)
	}
	h, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(h), "<svg class=\"chart") {
		t.Fatalf("HTML file: %v", err)
	}
}

func TestLabBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown workload", []string{"lab", "--workload", "gpu-bound"}, []string{`"gpu-bound"`, "cpu-bound, fast-io, slow-io, mixed"}},
		{"unknown model", []string{"lab", "--model", "greenlets"}, []string{`"greenlets"`, "threads-gil", "asyncio", "multiprocessing"}},
		{"unwritable html", []string{"lab", "--html", "/nonexistent-dir/lab.html"}, []string{"--html /nonexistent-dir/lab.html", "cannot write"}},
		{"html is a directory", []string{"lab", "--html", os.TempDir()}, []string{"directory"}},
		{"unwritable json", []string{"lab", "--json=/nonexistent-dir/lab.json"}, []string{"--json", "cannot write"}},
		{"stray argument", []string{"lab", "lab.json"}, []string{"no arguments", "--json=FILE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runTrident(t, "", c.args...)
			if code != 255 {
				t.Fatalf("exit %d, want 255 (usage error)\nstdout %s\nstderr %s", code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			// Rejected before running anything.
			if strings.Contains(errOut, "trident lab: [") {
				t.Fatalf("bad input was only noticed after measuring:\n%s", errOut)
			}
		})
	}
}

func TestLabListModels(t *testing.T) {
	out, _, code := runTrident(t, "", "lab", "--list-models")
	if code != 0 || !strings.Contains(out, "threads-gil") || !strings.Contains(out, "asyncio-processes") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// After a kill -9 of trident lab in the middle of a CPython
// multiprocessing row, no process of its tree is left a second later: not
// the CPython serving interpreter, not its pool workers, not procpool's.
// Every process of the tree carries a marker in its environment.
func TestLabKilledLeavesNoProcess(t *testing.T) {
	// The interpreter and its pool's workers (forked: the same command
	// line), not a pyenv shim's bash still resolving the version.
	killLabWhen(t, "in a multiprocessing row", func(cmdlines []string) bool {
		n := 0
		for _, c := range cmdlines {
			if strings.Contains(c, "lab_models.py") && !strings.HasPrefix(c, "bash") {
				n++
			}
		}
		return n >= 3
	})
}

// The same for a kill -9 as soon as the interpreter's process exists: with
// a pyenv shim, the shim's bash resolving the version, before the
// interpreter runs and can watch its parent.
func TestLabKilledAtStartLeavesNoProcess(t *testing.T) {
	killLabWhen(t, "while the interpreter starts", func(cmdlines []string) bool {
		return slices.ContainsFunc(cmdlines, func(c string) bool { return strings.Contains(c, "lab_models.py") })
	})
}

// killLabWhen runs trident lab on cpu-bound with procpool and
// multiprocessing rows, SIGKILLs it once ready reports true for the command
// lines of its tree, and checks that the whole tree is gone a second later.
func killLabWhen(t *testing.T, what string, ready func(cmdlines []string) bool) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH: no serving interpreter to check")
	}
	mark := newTreeMark(t)
	cmd := exec.Command(tridentBin, "lab", "--workload", "cpu-bound", "--model", "procpool,multiprocessing")
	cmd.Env = append(os.Environ(), "TRIDENT_TREE_MARK="+mark)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	deadline := time.Now().Add(2 * time.Minute)
	var cmdlines []string
	for {
		cmdlines = cmdlines[:0]
		for _, pid := range treeProcs(t, mark) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			cmdlines = append(cmdlines, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
		if ready(cmdlines) {
			break
		}
		select {
		case <-done:
			t.Fatalf("trident lab ended before it was caught %s; stderr:\n%s", what, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("trident lab not caught %s; stderr:\n%s", what, errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("killing trident lab %s, with %d processes in its tree: %q", what, len(cmdlines), cmdlines)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	checkTreeGone(t, mark, time.Now())
}

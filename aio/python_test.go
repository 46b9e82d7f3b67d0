package aio_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The comparisons with CPython run testdata/python/NAME.py (stdlib only)
// and compare what it prints with the trace the Go side of the same
// scenario built. trident follows Python 3.13's asyncio; python3 on the
// development machines is 3.11, which agrees on every scenario compared
// with it. Scenarios of features that only 3.13 has (Queue.shutdown) run
// with python313, and are skipped with a message when no 3.13 is found.

// pythonTrace runs testdata/python/NAME.py with python3 and returns the
// lines it printed. The test is skipped, with a message, when python3 is
// not installed.
func pythonTrace(tb testing.TB, name string) []string {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		tb.Skip("python3 not on PATH: the comparison with CPython asyncio is skipped")
	}
	return pythonTraceWith(tb, py, name)
}

func pythonTraceWith(tb testing.TB, py, name string) []string {
	tb.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(py, filepath.Join("testdata", "python", name+".py"))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s.py: %v\n%s", py, name, err, stderr.String())
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

// python313 returns a Python 3.13 or later: $TRIDENT_PYTHON313 if set,
// else python3 or python3.13 from PATH if one of them runs and is recent
// enough. It skips the test, with a message, when there is none.
func python313(tb testing.TB) string {
	tb.Helper()
	cands := []string{os.Getenv("TRIDENT_PYTHON313"), "python3", "python3.13"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "-c", "import sys; print(sys.version_info >= (3, 13))").Output()
		if err == nil && strings.TrimSpace(string(out)) == "True" {
			return p
		}
	}
	tb.Skip("no Python 3.13 found (python3 is older; set TRIDENT_PYTHON313 to one): the comparison with CPython 3.13 is skipped, the Go side's assertions ran")
	return ""
}

// compareTraces fails tb when the Go trace differs from CPython's
// (python3's).
func compareTraces(tb testing.TB, name string, goTrace []string) {
	tb.Helper()
	diffTraces(tb, name, goTrace, pythonTrace(tb, name))
}

func diffTraces(tb testing.TB, name string, goTrace, pyTrace []string) {
	tb.Helper()
	if strings.Join(goTrace, "\n") != strings.Join(pyTrace, "\n") {
		tb.Errorf("trace differs from CPython's (%s.py)\n--- trident:\n%s\n--- CPython:\n%s",
			name, strings.Join(goTrace, "\n"), strings.Join(pyTrace, "\n"))
	}
}

// traceLog is the trace a Go scenario prints, line by line, to compare
// with the Python script's output.
type traceLog []string

// say appends a line, formatted as by fmt.Sprintf.
func (tr *traceLog) say(format string, a ...any) { *tr = append(*tr, fmt.Sprintf(format, a...)) }

// lineTrace is a trace whose lines gather several events, as a Python
// scenario that prints "; ".join(events): add appends an event to the
// current line, flush ends the line; say appends a whole line.
type lineTrace struct {
	traceLog
	events []string
}

// add appends an event, formatted as by fmt.Sprintf, to the current line.
func (l *lineTrace) add(format string, a ...any) {
	l.events = append(l.events, fmt.Sprintf(format, a...))
}

// flush ends the current line: its events joined by "; ".
func (l *lineTrace) flush() {
	l.say("%s", strings.Join(l.events, "; "))
	l.events = nil
}

// pyBool prints b as Python prints a bool.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

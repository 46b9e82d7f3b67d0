package aio_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pythonTrace runs testdata/python/NAME.py with python3 (stdlib only) and
// returns the lines it printed. The test is skipped, with a message, when
// python3 is not installed: the CPython side of a comparison cannot run
// then, and the Go side is checked on its own by the caller's other tests.
func pythonTrace(tb testing.TB, name string) []string {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		tb.Skip("python3 not on PATH: the comparison with CPython asyncio is skipped")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(py, filepath.Join("testdata", "python", name+".py"))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("python3 %s.py: %v\n%s", name, err, stderr.String())
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

// pythonVersion returns python3's (major, minor), skipping the test when
// python3 is missing.
func pythonVersion(tb testing.TB) (int, int) {
	tb.Helper()
	v := pythonTrace(tb, "version")
	var major, minor int
	if len(v) != 1 {
		tb.Fatalf("version.py printed %q", v)
	}
	if _, err := fmt.Sscan(v[0], &major, &minor); err != nil {
		tb.Fatalf("version.py printed %q: %v", v[0], err)
	}
	return major, minor
}

// compareTraces fails tb when the Go trace differs from CPython's.
func compareTraces(tb testing.TB, name string, goTrace []string) {
	tb.Helper()
	pyTrace := pythonTrace(tb, name)
	if strings.Join(goTrace, "\n") != strings.Join(pyTrace, "\n") {
		tb.Errorf("trace differs from CPython's (%s.py)\n--- trident:\n%s\n--- CPython:\n%s",
			name, strings.Join(goTrace, "\n"), strings.Join(pyTrace, "\n"))
	}
}

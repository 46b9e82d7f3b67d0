// Package cpythontest runs a scenario in CPython for the tests that compare
// trident with Python ("as in Python"). It is for tests only.
package cpythontest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// timeout bounds one script: a hang guard, not a speed assertion.
const timeout = time.Minute

// Run runs script with python3 (stdlib only) and decodes the JSON object the
// script prints last on stdout into out. The test is skipped, with a message
// saying so, when python3 is not installed; it fails when the script fails or
// prints no JSON.
func Run(t testing.TB, script string, out any) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the CPython side of this comparison cannot run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 scenario failed: %v\nstderr:\n%s", err, stderr.Bytes())
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	last := lines[len(lines)-1]
	if err := json.Unmarshal(last, out); err != nil {
		t.Fatalf("python3 scenario printed %q, not the JSON expected: %v\nstderr:\n%s", stdout.Bytes(), err, stderr.Bytes())
	}
}

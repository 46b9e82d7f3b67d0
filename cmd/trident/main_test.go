package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// tridentBin is the trident binary built once for the end-to-end tests of
// every subcommand (run, advise, lab, ...). Tests run it as users do.
var tridentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trident-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tridentBin = filepath.Join(dir, "trident")
	build := exec.Command("go", "build", "-race", "-o", tridentBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building trident:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// runTrident runs the built binary with args and stdin, returning stdout,
// stderr and the exit code. A failure to start fails the test.
func runTrident(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(tridentBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running trident %v: %v", args, err)
		}
		return o.String(), e.String(), ee.ExitCode()
	}
	return o.String(), e.String(), 0
}

func TestVersion(t *testing.T) {
	out, _, code := runTrident(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "trident ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUnknownSubcommandExits255(t *testing.T) {
	_, errOut, code := runTrident(t, "", "no-such-command")
	if code != 255 {
		t.Fatalf("exit code %d, want 255", code)
	}
	if !strings.Contains(errOut, "no-such-command") {
		t.Fatalf("stderr does not name the bad command: %q", errOut)
	}
}

// Package examples_test builds and runs every example program and checks
// what it prints, so that the examples cannot rot.
package examples_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var binDir string // where TestMain built the examples

var examples = []string{"race", "pipeline", "barrier", "timer"}

// goTool finds the go command: go test puts its own GOROOT/bin first on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trident-examples")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, e := range examples {
		args = append(args, "./"+e)
	}
	cmd := exec.Command(goTool(), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building examples: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// run executes a built example and returns its output; it fails the test on
// a non-zero exit.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

func mustMatch(t *testing.T, out, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not match %q:\n%s", re, out)
	}
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRace(t *testing.T) {
	out := run(t, filepath.Join(binDir, "race"))
	m := mustMatch(t, out, `without a lock: 10 workers each added 1: final value (\d+), expected 10: (\d+) updates lost`)
	final, lost := atoi(t, m[1]), atoi(t, m[2])
	if final+lost != 10 || lost < 1 {
		t.Fatalf("unlocked part: final %d, lost %d; the demonstration needs at least one lost update:\n%s", final, lost, out)
	}
	mustMatch(t, out, `with a mutex: 10 workers each added 1: final value 10, expected 10: 0 updates lost`)

	out = run(t, filepath.Join(binDir, "race"), "-unsafe=false", "-workers=3", "-pause=1ms")
	if strings.Contains(out, "without a lock: 3") {
		t.Fatalf("-unsafe=false still ran the racy part:\n%s", out)
	}
	mustMatch(t, out, `with a mutex: 3 workers each added 1: final value 3, expected 3: 0 updates lost`)
}

// TestRaceUnderDetector builds the example with -race: by default it must
// skip the racy part and pass; with -unsafe the race detector must flag it.
func TestRaceUnderDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with -race; skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "race-race")
	if out, err := exec.Command(goTool(), "build", "-race", "-o", bin, "./race").CombinedOutput(); err != nil {
		t.Skipf("cannot build with -race here: %v\n%s", err, out)
	}
	out := run(t, bin, "-workers=4", "-pause=1ms")
	mustMatch(t, out, `without a lock: skipped`)
	mustMatch(t, out, `with a mutex: 4 workers each added 1: final value 4`)

	out2, err := exec.Command(bin, "-unsafe", "-workers=4", "-pause=1ms").CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "WARNING: DATA RACE") {
		t.Fatalf("race detector did not flag the unlocked part (err %v):\n%s", err, out2)
	}
}

func TestPipeline(t *testing.T) {
	out := run(t, filepath.Join(binDir, "pipeline"), "-for=30ms")
	m := mustMatch(t, out, `producer: stop event seen after (\d+) messages`)
	n := m[1]
	mustMatch(t, out, `consumer: drained the queue: consumed `+n+` of `+n+` messages, queue length now 0`)
	mustMatch(t, out, `no message lost`)
	if strings.Index(out, "main: setting the stop event") > strings.Index(out, "producer: stop event seen") {
		t.Fatalf("producer stopped before the event was set:\n%s", out)
	}
}

func TestBarrier(t *testing.T) {
	out := run(t, filepath.Join(binDir, "barrier"), "-workers=5", "-phases=4")
	mustMatch(t, out, `5 workers, 4 phases: every worker started each phase only after all were ready: true`)
	for p := 1; p <= 4; p++ {
		mustMatch(t, out, fmt.Sprintf(`--- all 5 workers ready: phase %d starts`, p))
		// Every "ready for phase p" line precedes the announcement.
		ann := strings.Index(out, fmt.Sprintf("phase %d starts", p))
		for w := range 5 {
			r := strings.Index(out, fmt.Sprintf("worker %d ready for phase %d\n", w, p))
			if r < 0 || r > ann {
				t.Fatalf("worker %d ready for phase %d printed after the phase started:\n%s", w, p, out)
			}
		}
	}
}

func TestTimer(t *testing.T) {
	out := run(t, filepath.Join(binDir, "timer"))
	mustMatch(t, out, `timer 1 \(500ms\): user acted after 10ms; Cancel stopped it before it fired: true; function ran: false`)
	mustMatch(t, out, `timer 2 \(20ms\): fired: true \(after at least 20ms: true\); Cancel afterwards returns false`)
	if strings.Contains(out, "should not happen") {
		t.Fatalf("cancelled timer fired:\n%s", out)
	}
}

package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStart reads a process's start time (field 22 of /proc/PID/stat) and
// whether it is still running: gone, or a zombie nobody reaped, is not.
func procStart(pid int) (start string, running bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", false
	}
	return f[19], f[0] != "Z" && f[0] != "X"
}

// childrenOf lists the running processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// servingParentEnv makes the re-executed test binary the parent of a
// serving interpreter (see TestServingInterpreterDiesWithItsParent).
const servingParentEnv = "TRIDENT_LAB_TEST_SERVING_PARENT"

// The serving interpreter, and the worker processes of the row it is in the
// middle of, end soon after the lab that started it is killed with SIGKILL
// (nothing of the lab runs to close them): the interpreter watches its
// parent. The parent here is this test binary, re-executed; the row is a
// multiprocessing row whose tasks sleep a minute.
func TestServingInterpreterDiesWithItsParent(t *testing.T) {
	if os.Getenv(servingParentEnv) == "1" {
		servingParent()
		return
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestServingInterpreterDiesWithItsParent$")
	parent.Env = append(os.Environ(), servingParentEnv+"=1")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = parent.Process.Kill()
			_ = parent.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	var pyPID int
	if _, serr := fmt.Sscanf(line, "serving %d", &pyPID); err != nil || serr != nil {
		t.Fatalf("the parent did not report the interpreter: %q %v %v", line, err, serr)
	}
	// Wait for the row's worker processes, so that they are checked too.
	var tree []int
	deadline := time.Now().Add(30 * time.Second)
	for {
		tree = append([]int{pyPID}, childrenOf(pyPID)...)
		if len(tree) >= 3 { // the interpreter and at least two pool workers
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the multiprocessing row did not start its workers: %v", tree)
		}
		time.Sleep(20 * time.Millisecond)
	}
	starts := map[int]string{}
	for _, pid := range tree {
		starts[pid], _ = procStart(pid)
	}
	t.Cleanup(func() { // a failing run leaves nothing behind
		for pid, st := range starts {
			if s, ok := procStart(pid); ok && s == st {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	killedAt := time.Now()
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	killed = true
	const bound = 2 * time.Second
	for {
		var left []int
		for pid, st := range starts {
			if s, ok := procStart(pid); ok && s == st {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			t.Logf("the interpreter and its %d workers were gone %v after the parent's SIGKILL", len(tree)-1, time.Since(killedAt).Round(time.Millisecond))
			return
		}
		if time.Since(killedAt) > bound {
			t.Fatalf("%d of %d processes (interpreter %d and its workers) still run %v after the parent was killed: %v", len(left), len(tree), pyPID, bound, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servingParent starts a serving interpreter, reports its pid on stdout and
// sends it a row that sleeps a minute; the test kills this process.
func servingParent() {
	ctx := context.Background()
	py, err := startPython(ctx, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving parent:", err)
		os.Exit(2)
	}
	fmt.Printf("serving %d\n", py.pid)
	_, err = py.run(ctx, "multiprocessing", Workload{Name: "parent-test", Sleep: time.Minute}, 2, 0, partSleep, "")
	fmt.Fprintln(os.Stderr, "serving parent: the row ended:", err)
	os.Exit(3)
}

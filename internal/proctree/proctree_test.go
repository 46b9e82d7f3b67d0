package proctree

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const ownerEnv = "PROCTREE_TEST_OWNER"

func TestMain(m *testing.M) {
	if os.Getenv(ownerEnv) != "" {
		ownerMain()
		return
	}
	goleak.VerifyTestMain(m)
}

// treeScript starts, below the shell, a subshell ignoring SIGTERM, a setsid'd
// shell ignoring SIGTERM and a daemon (double fork: its parent exits at
// once), writes the pids of their sleeps to $1 and sleeps.
const treeScript = `(trap '' TERM; sleep 60 & echo $! >> "$1"; wait) &
setsid sh -c 'trap "" TERM; sleep 60 & echo $! >> "$1"; wait' sh "$1" &
sh -c '(sleep 60 & echo $! >> "$1"; wait) & exit 0' sh "$1"
echo $$ >> "$1"
sleep 60
`

func waitLines(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		fields := strings.Fields(string(b))
		if len(fields) >= n {
			var pids []int
			for _, f := range fields {
				p, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("%s: %q", path, b)
				}
				pids = append(pids, p)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %d pids", path, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func checkAllGone(t *testing.T, pids []int, since time.Time) {
	t.Helper()
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			t.Logf("%d processes gone after %v", len(pids), time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Since(since) > time.Second {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes %v still run 1 s later", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func devnull(t *testing.T) int {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func TestSpawnExitStatusOutputAndErrors(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	null := devnull(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Spawn("/bin/sh", []string{"sh", "-c", `echo "$X" out; pwd; exit 3`}, []string{"X=hello"}, "/", []int{null, int(w.Fd()), null})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	r.Close()
	ws, _, err := p.Wait()
	if err != nil || ws.ExitStatus() != 3 || string(out) != "hello out\n/\n" {
		t.Fatalf("status %v err %v out %q", ws.ExitStatus(), err, out)
	}
	// Its own process group.
	if pgid, err := syscall.Getpgid(p.Pid); err == nil {
		t.Fatalf("pid %d still exists (pgid %d) after Wait", p.Pid, pgid)
	}

	p, err = s.Spawn("/bin/sh", []string{"sh", "-c", "kill -9 $$"}, nil, "", []int{null, null, null})
	if err != nil {
		t.Fatal(err)
	}
	if ws, _, err := p.Wait(); err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("signaled: %v %v", ws, err)
	}

	p, err = s.Spawn("/bin/sh", []string{"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"}, nil, "", []int{null, null, null})
	if err != nil {
		t.Fatal(err)
	}
	if _, ru, err := p.Wait(); err != nil || ru.Utime.Nano()+ru.Stime.Nano() <= 0 || ru.Maxrss <= 0 {
		t.Fatalf("rusage %+v %v", ru, err)
	}

	_, err = s.Spawn("/nonexistent/prog", []string{"prog"}, nil, "", []int{null, null, null})
	var pe *os.PathError
	if !errors.As(err, &pe) || !errors.Is(err, syscall.ENOENT) || pe.Path != "/nonexistent/prog" {
		t.Fatalf("missing program: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Spawn("/bin/true", []string{"true"}, nil, "", []int{null, null, null}); !errors.Is(err, ErrSupervisorGone) {
		t.Fatalf("spawn after Close: %v", err)
	}
}

// Many processes started and waited for from many goroutines at once.
func TestSpawnConcurrent(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	null := devnull(t)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				code := (g*50 + i) % 7
				p, err := s.Spawn("/bin/sh", []string{"sh", "-c", "exit " + strconv.Itoa(code)}, nil, "", []int{null, null, null})
				if err != nil {
					errs <- err
					return
				}
				if ws, _, err := p.Wait(); err != nil || ws.ExitStatus() != code {
					errs <- fmt.Errorf("job %d: status %d, err %v", g*50+i, ws.ExitStatus(), err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Close kills the whole tree: the group, the setsid'd shell, the daemon.
func TestCloseKillsWholeTree(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "pids")
	null := devnull(t)
	p, err := s.Spawn("/bin/sh", []string{"sh", "-c", treeScript, "sh", pidfile}, nil, "", []int{null, null, null})
	if err != nil {
		t.Fatal(err)
	}
	pids := waitLines(t, pidfile, 4)
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkAllGone(t, append(pids, p.Pid), t0)
	if _, _, err := p.Wait(); err == nil {
		// Either it was reported killed or the supervisor went first.
		if ws, _, _ := p.Wait(); !ws.Signaled() {
			t.Fatalf("job status %v", ws)
		}
	}
}

// ownerMain is an owner process: it starts a supervisor and the tree, prints
// the pid file's name... and waits to be killed.
func ownerMain() {
	s, err := Start()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	null, _ := os.Open(os.DevNull)
	if _, err := s.Spawn("/bin/sh", []string{"sh", "-c", treeScript, "sh", os.Getenv(ownerEnv)}, nil, "", []int{int(null.Fd()), int(null.Fd()), int(null.Fd())}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("supervisor", s.Pid())
	time.Sleep(time.Minute)
}

// A SIGKILL of the owner kills the whole tree within a second, and the
// supervisor exits.
func TestOwnerKilledKillsWholeTree(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pids")
	owner := exec.Command(os.Args[0], "-test.run=^$")
	owner.Env = append(os.Environ(), ownerEnv+"="+pidfile)
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Wait()
	defer owner.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	var sup int
	if _, err := fmt.Sscanf(line, "supervisor %d", &sup); err != nil {
		t.Fatalf("owner said %q", line)
	}
	pids := waitLines(t, pidfile, 4)
	owner.Process.Kill()
	owner.Wait()
	t0 := time.Now()
	checkAllGone(t, append(pids, sup), t0)
}

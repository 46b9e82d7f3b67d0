package advise

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ticksPerSec is USER_HZ, the unit of /proc/stat.
const ticksPerSec = 100

// machineBusy reads the machine's busy CPU time so far from the first line
// of /proc/stat (user, nice, system, irq, softirq and steal). ok is false
// without /proc.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, false
	}
	var t int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, false
		}
		t += v
	}
	return time.Duration(t) * time.Second / ticksPerSec, true
}

// schedTimes are one thread's schedstat counters (ns): time on a CPU and
// time ready but waiting for one.
type schedTimes struct{ run, wait int64 }

// schedWait reads the run time and run-queue wait (ns) of every thread of
// process pid from /proc/PID/task/TID/schedstat into into, keyed
// "pid/tid"; it keeps the largest values seen (the counters only grow).
func schedWait(pid int, into map[string]schedTimes) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			continue
		}
		r, err1 := strconv.ParseInt(string(f[0]), 10, 64)
		w, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 == nil && err2 == nil {
			k := strconv.Itoa(pid) + "/" + e.Name()
			into[k] = schedTimes{run: max(into[k].run, r), wait: max(into[k].wait, w)}
		}
	}
	return true
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) > 2 && string(f[2]) == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// runQueueSampler follows the run-queue wait of a command's threads while
// it runs: every 10 ms it reads the schedstat of each thread of the
// processes it knows, and every 100 ms it looks for new members of the
// command's process group (its children). Threads that start and end
// between two readings are missed, so the figure is a lower bound.
type runQueueSampler struct {
	pgid   int
	mu     sync.Mutex
	pids   map[int]bool
	waits  map[string]schedTimes
	stop   chan struct{}
	done   chan struct{}
	worked bool
}

func startRunQueueSampler(pid int) *runQueueSampler {
	s := &runQueueSampler{pgid: pid, pids: map[int]bool{pid: true}, waits: map[string]schedTimes{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample(false)
	go func() {
		defer close(s.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample(i%10 == 0)
			}
		}
	}()
	return s
}

func (s *runQueueSampler) sample(scan bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if scan {
		for _, p := range groupMembers(s.pgid) {
			s.pids[p] = true
		}
	}
	for p := range s.pids {
		if schedWait(p, s.waits) {
			s.worked = true
		}
	}
}

// finish takes a last reading (call it while the command has exited but
// is not yet reaped, so its threads are still readable), stops the sampler
// and returns the total run-queue wait seen, the CPU time of the threads
// it saw (their schedstat run time), and whether any was read.
func (s *runQueueSampler) finish() (wait, ran time.Duration, ok bool) {
	s.sample(false)
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var w, r int64
	for _, t := range s.waits {
		w += t.wait
		r += t.run
	}
	return time.Duration(w), time.Duration(r), s.worked
}

// unfollowedWait estimates the run-queue wait of the part of a command the
// sampler did not see: processes that started and ended between two
// readings (a launcher script such as pyenv's python3 shim runs several
// short shells before the interpreter). Their CPU time is known (the
// command's rusage counts every waited-for descendant, the sampler's
// schedstat run time only the threads it saw); they are taken to have
// waited for a CPU at the same rate per CPU second as the threads that were
// seen, measured in the same run. The estimate never exceeds the wait the
// run leaves unexplained (wall - CPU - seen run-queue wait). On an idle
// machine the seen threads did not wait, and the estimate is zero.
func unfollowedWait(wall, cpu, seenWait, seenRun time.Duration) time.Duration {
	unseen := cpu - seenRun
	if unseen <= 0 || seenRun <= 0 || seenWait <= 0 {
		return 0
	}
	est := time.Duration(float64(unseen) * float64(seenWait) / float64(seenRun))
	return max(0, min(est, wall-cpu-seenWait))
}

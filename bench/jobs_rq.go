package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rqInstallHint is what the jobs suite prints when the RQ anchor cannot run.
const rqInstallHint = "apt-get install redis-server python3-rq (Debian/Ubuntu; python3-rq goes into /usr/bin/python3)"

// rqPhases is one worker class's figures as rq_jobs.py prints them.
type rqPhases struct {
	N         int     `json:"n"`
	EnqueueS  float64 `json:"enqueue_s"`
	RunS      float64 `json:"run_s"`
	ReadS     float64 `json:"read_s"`
	TotalS    float64 `json:"total_s"`
	JobsPerS  float64 `json:"jobs_per_s"`
	Worker    string  `json:"worker"`
	Workers   int     `json:"workers"`
	BatchSize int     `json:"batch"`
}

type rqOutput struct {
	rqPhases
	Rows         []rqPhases `json:"rows"`
	RQVersion    string     `json:"rq_version"`
	RedisVersion string     `json:"redis_server_version"`
}

// findRQPython returns a python3 that can import rq and redis: the
// TRIDENT_BENCH_RQ_PYTHON override, Debian's /usr/bin/python3 (where
// python3-rq installs), then cfg.Python.
func findRQPython(cfg Config) string {
	seen := map[string]bool{}
	for _, p := range append(append([]string{os.Getenv("TRIDENT_BENCH_RQ_PYTHON")}, rqPythonPaths...), cfg.Python) {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := exec.CommandContext(ctx, p, "-c", "import rq, redis").Run()
		cancel()
		if err == nil {
			return p
		}
	}
	return ""
}

// Where the RQ anchor looks for its interpreter and redis-server (tests
// point them elsewhere to exercise the skip path).
var (
	rqPythonPaths    = []string{"/usr/bin/python3"}
	redisServerPaths = []string{"redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"}
)

func findRedisServer() string {
	for _, p := range redisServerPaths {
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
	}
	return ""
}

// redisProc is a private redis-server; kill it on every path.
type redisProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func (r *redisProc) kill() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// startRedis starts redis-server on 127.0.0.1:port with no persistence (no
// RDB snapshots, no AOF) and waits until it answers PING.
func startRedis(bin, dir string, port int) (*redisProc, error) {
	var log bytes.Buffer
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	cmd.Stdout = &log
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &redisProc{cmd: cmd, log: &log}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			r.kill()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within 15 s: %s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runRQAnchor runs the jobs suite's end-to-end experiment with RQ (Python's
// Redis Queue) on this machine: n tiny jobs enqueued with Queue.enqueue_many
// in batches of 1000, run by 2 SimpleWorker processes, every result read
// back (bench/python/rq_jobs.py). Outside quick mode it also runs RQ's
// default forking Worker on 200 jobs (it forks a work horse per job and
// is too slow for n). Without redis-server or an rq-capable python3 it
// returns a nil row and a note saying why, so the suite still passes.
func runRQAnchor(cfg Config, n int) (*Row, string, error) {
	py := findRQPython(cfg)
	redisBin := findRedisServer()
	var missing []string
	if py == "" {
		missing = append(missing, "no python3 that can import rq and redis (tried "+strings.Join(append(rqPythonPaths, cfg.Python), ", ")+"; or set TRIDENT_BENCH_RQ_PYTHON)")
	}
	if redisBin == "" {
		missing = append(missing, "no redis-server binary")
	}
	if len(missing) > 0 {
		return nil, "RQ anchor skipped: " + strings.Join(missing, "; ") + "; to run it: " + rqInstallHint, nil
	}

	dir, err := os.MkdirTemp("", "trident-bench-rq")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	for _, f := range []string{"rq_jobs.py", "rq_jobfuncs.py"} {
		src, err := pyScripts.ReadFile("python/" + f)
		if err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), src, 0o644); err != nil {
			return nil, "", err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.Mkdir(rdir, 0o755); err != nil {
		return nil, "", err
	}
	rs, err := startRedis(redisBin, rdir, port)
	if err != nil {
		return nil, "", err
	}
	defer rs.kill()

	const workers, batch = 2, 1000
	args := []string{filepath.Join(dir, "rq_jobs.py"), fmt.Sprintf("redis://127.0.0.1:%d/0", port),
		strconv.Itoa(n), strconv.Itoa(batch), strconv.Itoa(workers), "SimpleWorker"}
	forkN := 0
	if !cfg.Quick {
		forkN = min(n, 200) // ~16 jobs/s here on 2 busy cores: ~12 s
		args = append(args, fmt.Sprintf("Worker:%d", forkN))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// On timeout: SIGINT first, so the script's finally stops its worker
	// processes; SIGKILL 30 s later. Killing redis (deferred) ends any
	// worker left behind.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("rq_jobs.py: %v: %s", err, stderr.String())
	}
	var out rqOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, "", fmt.Errorf("rq_jobs.py: bad output %q: %v", stdout.String(), err)
	}
	if out.N != n || out.TotalS <= 0 {
		return nil, "", fmt.Errorf("rq_jobs.py: ran %d jobs in %gs, want %d", out.N, out.TotalS, n)
	}
	row := &Row{Name: "rq-end-to-end-anchor", NsPerTask: out.TotalS / float64(n) * 1e9, AllocsPerTask: -1,
		Extra: map[string]float64{
			"jobs_per_s": out.JobsPerS,
			"enqueue_s":  out.EnqueueS,
			"run_s":      out.RunS,
			"read_s":     out.ReadS,
			"total_s":    out.TotalS,
		},
		Note: fmt.Sprintf("RQ %s on redis-server %s (this machine, 127.0.0.1, no persistence: --save \"\" --appendonly no): "+
			"%d jobs Queue.enqueue_many in pipelined batches of %d -> %d SimpleWorker processes -> results read back (Job.fetch_many + result streams)",
			out.RQVersion, out.RedisVersion, n, batch, workers),
	}
	for _, r := range out.Rows {
		if r.Worker == "Worker" {
			row.Extra["fork_worker_jobs_per_s"] = r.JobsPerS
			row.Extra["fork_worker_n"] = float64(r.N)
			row.Note += fmt.Sprintf("; RQ's default forking Worker on %d jobs: %.0f jobs/s (fork_worker_jobs_per_s)", r.N, r.JobsPerS)
		}
	}
	note := fmt.Sprintf("RQ anchor: RQ %s + redis-server %s started here with persistence off (--save \"\" --appendonly no, RDB-less default-ish RQ setup; trident's jobs are on a file store), "+
		"SimpleWorker (jobs run in the worker process, RQ's fastest) x %d processes; enqueue %.2fs, run %.2fs, read %.2fs for %d jobs; load average after: %s",
		out.RQVersion, out.RedisVersion, workers, out.EnqueueS, out.RunS, out.ReadS, n, loadavg())
	if forkN > 0 {
		note += fmt.Sprintf("; default Worker (fork per job) measured on %d jobs only", forkN)
	}
	return row, note, nil
}

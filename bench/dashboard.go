package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/cluster/dashboard"
)

func init() {
	register(Suite{
		Name:  "dashboard",
		About: "job dashboard: the server's part of a first page render with 100k jobs in the store (over loopback HTTP) vs an empty store and vs the 1 s target; job pages by filter; heap",
		Run:   runDashboardSuite,
	})
}

// dashFill adds n ended jobs over three queues, one in fifty failed.
func dashFill(s *dashboard.MemStore, n int) {
	at := time.Now().Add(-time.Hour)
	for i := range n {
		st := dashboard.Finished
		if i%50 == 0 {
			st = dashboard.Failed
		}
		s.Add(dashboard.Job{Queue: []string{"default", "mail", "reports"}[i%3], Function: "work",
			Args: strconv.Itoa(i), State: st, Attempts: 1, Result: "1", EnqueuedAt: at, EndedAt: at})
	}
}

func dashHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// dashGet fetches every path from base and panics on anything but 200: a
// page that fails would look fast.
func dashGet(c *http.Client, base string, paths ...string) {
	for _, p := range paths {
		resp, err := c.Get(base + p)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			panic(fmt.Sprintf("dashboard bench: GET %s: %d", p, resp.StatusCode))
		}
	}
}

func runDashboardSuite(cfg Config) (*Report, error) {
	const jobs = 100_000
	rep := &Report{Suite: "dashboard", Ratios: map[string]float64{}}
	ctx := context.Background()

	h0 := dashHeap()
	big := dashboard.NewMemStore()
	dashFill(big, jobs)
	heapMB := float64(dashHeap()-h0) / (1 << 20)
	bigSrv, err := dashboard.Start(ctx, big, dashboard.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer bigSrv.Shutdown(ctx)
	empty := dashboard.NewMemStore()
	emptySrv, err := dashboard.Start(ctx, empty, dashboard.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer emptySrv.Shutdown(ctx)

	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer c.CloseIdleConnections()
	// The page carries the first render's data (boot JSON): a browser
	// fetches the page and its two assets, then draws. The API round trip
	// the page made before is kept as its own row for comparison.
	first := []string{"", "static/app.js", "static/app.css"}
	firstAPI := []string{"", "static/app.js", "static/app.css", "api/overview", "api/jobs"}
	batch := func(base string, paths ...string) func(n int) {
		return func(n int) {
			for range n {
				dashGet(c, base, paths...)
			}
		}
	}
	order := []string{"first-render-100k", "first-render-100k-api", "first-render-empty", "page-failed-100k", "search-id-100k", "oldest-page-100k", "job-detail-100k"}
	batches := map[string]func(int){
		"first-render-100k":     batch(bigSrv.URL(), first...),
		"first-render-100k-api": batch(bigSrv.URL(), firstAPI...),
		"first-render-empty":    batch(emptySrv.URL(), first...),
		"page-failed-100k":      batch(bigSrv.URL(), "api/jobs?state=failed"),
		"search-id-100k":        batch(bigSrv.URL(), "api/jobs?id=j00500"),
		"oldest-page-100k":      batch(bigSrv.URL(), "api/jobs?cursor=50"),
		"job-detail-100k":       batch(bigSrv.URL(), "api/jobs/j0050000"),
	}
	rounds, n := 7, 100
	if cfg.Quick {
		rounds, n = 3, 20
	}
	ms := interleaved(rounds, n, order, batches)
	notes := map[string]string{
		"first-render-100k":     "GET the page (overview and newest 50 jobs inlined), app.js, app.css over loopback HTTP; 100k jobs in the store; per render",
		"first-render-100k-api": "the same plus GET overview and newest 50 jobs from the API (the page's requests before the data was inlined)",
		"first-render-empty":    "the same with an empty store; per render",
		"page-failed-100k":      "a page of failed jobs (2k of 100k); per request",
		"search-id-100k":        "search by ID prefix (100 of 100k match, a full scan); per request",
		"oldest-page-100k":      "the last page (cursor at the oldest jobs); per request",
		"job-detail-100k":       "one job's detail; per request",
	}
	for _, name := range order {
		r := Row{Name: name, NsPerTask: ms[name].NsPerTask, AllocsPerTask: ms[name].AllocsPerTask, Note: notes[name]}
		if name == "first-render-100k" {
			r.Extra = map[string]float64{"store_heap_mb": heapMB}
		}
		rep.Rows = append(rep.Rows, r)
	}
	rep.Ratios["first-render-api-vs-inlined"] = ms["first-render-100k-api"].NsPerTask / ms["first-render-100k"].NsPerTask
	rep.Ratios["target-1s"] = 1e9 / ms["first-render-100k"].NsPerTask
	rep.Ratios["first-render-empty"] = ms["first-render-empty"].NsPerTask / ms["first-render-100k"].NsPerTask
	rep.Notes = append(rep.Notes,
		"target-1s: 1 s / the server's part of a first render with 100k jobs; the browser's part is measured by cluster/dashboard's Chromium test",
		"first-render-empty near 1: the first render does not grow with the number of jobs",
		fmt.Sprintf("store_heap_mb: the in-memory store's heap for %d jobs (the real store keeps jobs in JetStream, not in the dashboard)", jobs),
		"no anchor: rq-dashboard (Redis) and Flower (a Celery broker) are not installed here")
	if err := dashClusterRows(cfg, rep); err != nil {
		rep.Notes = append(rep.Notes, "cluster dashboard rows skipped: "+err.Error())
	}
	return rep, nil
}

// dashClusterRows measures `trident cluster dashboard` as its own process
// on a JetStream server holding 100k job records: the time until it
// answers (it loads every record into its index first), a first render
// (page with inlined data, app.js, app.css), and its memory.
func dashClusterRows(cfg Config, rep *Report) error {
	n := 100_000
	if cfg.Quick {
		n = 10_000
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "trident-bench-dashboard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "trident")
	build := exec.Command("go", "build", "-o", bin, "./cmd/trident")
	build.Dir = ".." // the trident module (this bench runs from bench/)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building trident: %v: %s", err, out)
	}
	srv, err := cluster.StartServer(ctx, cluster.ServerOptions{})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	conn, err := cluster.Connect(ctx, srv.ConnectOptions())
	if err != nil {
		return err
	}
	defer conn.Close()
	q, err := cluster.OpenJobs(ctx, conn)
	if err != nil {
		return err
	}
	if _, err := enqueueAll(ctx, q, n, 1000, 4); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d/", port)
	t0 := time.Now()
	cmd := exec.Command(bin, "cluster", "dashboard", "--cluster", srv.URL(), "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	for {
		resp, err := c.Get(base)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(t0) > 2*time.Minute {
			return fmt.Errorf("the dashboard did not answer in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ready := time.Since(t0)
	// The very first render of the fresh process, then the median of many.
	t1 := time.Now()
	dashGet(c, base, "", "static/app.js", "static/app.css")
	cold := time.Since(t1)
	rounds, k := 5, 50
	if cfg.Quick {
		rounds, k = 3, 10
	}
	ms := interleaved(rounds, k, []string{"r"}, map[string]func(int){"r": func(m int) {
		for range m {
			dashGet(c, base, "", "static/app.js", "static/app.css")
		}
	}})
	rss, hwm := procMemMB(cmd.Process.Pid)
	rep.Rows = append(rep.Rows,
		Row{Name: "cluster-dashboard-ready-100k", NsPerTask: float64(ready.Nanoseconds()), AllocsPerTask: -1,
			Extra: map[string]float64{"jobs": float64(n), "seconds": ready.Seconds()},
			Note:  "`trident cluster dashboard` started on a JetStream server holding the job records: until its page answers (its index loads every record); per start"},
		Row{Name: "cluster-first-render-100k", NsPerTask: ms["r"].NsPerTask, AllocsPerTask: -1,
			Extra: map[string]float64{"cold_ms": float64(cold.Microseconds()) / 1000, "rss_mb": rss, "rss_peak_mb": hwm},
			Note:  "GET the page (data inlined from the index), app.js, app.css from that process; cold_ms the first one; rss of the dashboard process after the runs"})
	rep.Ratios["cluster-target-1s"] = 1e9 / ms["r"].NsPerTask
	rep.Notes = append(rep.Notes, "load average after the cluster dashboard rows: "+loadavg())
	return nil
}

// procMemMB returns the resident and peak resident memory of process pid.
func procMemMB(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				rss = v / 1024
			case "VmHWM:":
				hwm = v / 1024
			}
		}
	}
	return rss, hwm
}

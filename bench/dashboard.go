package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"time"

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
	first := []string{"", "static/app.js", "static/app.css", "api/overview", "api/jobs"}
	batch := func(base string, paths ...string) func(n int) {
		return func(n int) {
			for range n {
				dashGet(c, base, paths...)
			}
		}
	}
	order := []string{"first-render-100k", "first-render-empty", "page-failed-100k", "search-id-100k", "oldest-page-100k", "job-detail-100k"}
	batches := map[string]func(int){
		"first-render-100k":  batch(bigSrv.URL(), first...),
		"first-render-empty": batch(emptySrv.URL(), first...),
		"page-failed-100k":   batch(bigSrv.URL(), "api/jobs?state=failed"),
		"search-id-100k":     batch(bigSrv.URL(), "api/jobs?id=j00500"),
		"oldest-page-100k":   batch(bigSrv.URL(), "api/jobs?cursor=50"),
		"job-detail-100k":    batch(bigSrv.URL(), "api/jobs/j0050000"),
	}
	rounds, n := 7, 100
	if cfg.Quick {
		rounds, n = 3, 20
	}
	ms := interleaved(rounds, n, order, batches)
	notes := map[string]string{
		"first-render-100k":  "GET page, app.js, app.css, overview, newest 50 jobs, over loopback HTTP; 100k jobs in the store; per render",
		"first-render-empty": "the same with an empty store; per render",
		"page-failed-100k":   "a page of failed jobs (2k of 100k); per request",
		"search-id-100k":     "search by ID prefix (100 of 100k match, a full scan); per request",
		"oldest-page-100k":   "the last page (cursor at the oldest jobs); per request",
		"job-detail-100k":    "one job's detail; per request",
	}
	for _, name := range order {
		r := Row{Name: name, NsPerTask: ms[name].NsPerTask, AllocsPerTask: ms[name].AllocsPerTask, Note: notes[name]}
		if name == "first-render-100k" {
			r.Extra = map[string]float64{"store_heap_mb": heapMB}
		}
		rep.Rows = append(rep.Rows, r)
	}
	rep.Ratios["target-1s"] = 1e9 / ms["first-render-100k"].NsPerTask
	rep.Ratios["first-render-empty"] = ms["first-render-empty"].NsPerTask / ms["first-render-100k"].NsPerTask
	rep.Notes = append(rep.Notes,
		"target-1s: 1 s / the server's part of a first render with 100k jobs; the browser's part is measured by cluster/dashboard's Chromium test",
		"first-render-empty near 1: the first render does not grow with the number of jobs",
		fmt.Sprintf("store_heap_mb: the in-memory store's heap for %d jobs (the real store keeps jobs in JetStream, not in the dashboard)", jobs),
		"no anchor: rq-dashboard (Redis) and Flower (a Celery broker) are not installed here")
	return rep, nil
}

package cluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// JobMetrics counts a job worker's work and serves it, with the queues'
// depths read from JetStream, in the Prometheus text exposition format
// (what RQ users get from rq-exporter). Set it in JobWorkerOptions.Metrics
// and mount Handler on an HTTP server. A nil *JobMetrics counts nothing.
//
// The exposition format is a few lines of text; it is written here rather
// than pulling in the Prometheus client library and its protobuf
// dependencies.
type JobMetrics struct {
	q *Jobs

	mu         sync.Mutex
	endedN     map[[2]string]int64 // queue, final state
	startedN   map[string]int64
	retriedN   map[string]int64
	duplicates int64
	run        map[string]*histogram // queue -> run time
	wait       map[string]*histogram // queue -> time from due to start
}

// NewJobMetrics returns metrics reading queue depths through q (nil: no
// depths).
func NewJobMetrics(q *Jobs) *JobMetrics {
	return &JobMetrics{q: q, endedN: map[[2]string]int64{}, startedN: map[string]int64{}, retriedN: map[string]int64{},
		run: map[string]*histogram{}, wait: map[string]*histogram{}}
}

var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

type histogram struct {
	counts []int64 // per bucket, not cumulative
	sum    float64
	n      int64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]int64, len(latencyBuckets))
	}
	h.sum += v
	h.n++
	if i, _ := slices.BinarySearch(latencyBuckets, v); i < len(latencyBuckets) {
		h.counts[i]++
	}
}

func hist(m map[string]*histogram, k string) *histogram {
	h := m[k]
	if h == nil {
		h = &histogram{}
		m[k] = h
	}
	return h
}

func (m *JobMetrics) started(queue string, waited time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.startedN[queue]++
	hist(m.wait, queue).observe(max(waited, 0).Seconds())
	m.mu.Unlock()
}

func (m *JobMetrics) ran(queue string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	hist(m.run, queue).observe(d.Seconds())
	m.mu.Unlock()
}

func (m *JobMetrics) ended(j *Job) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.endedN[[2]string{j.Queue, string(j.State)}]++
	m.mu.Unlock()
}

func (m *JobMetrics) retried(queue string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.retriedN[queue]++
	m.mu.Unlock()
}

func (m *JobMetrics) duplicate() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.duplicates++
	m.mu.Unlock()
}

// Handler serves the metrics in the Prometheus text format.
func (m *JobMetrics) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		m.WriteTo(ctx, rw)
	})
}

// WriteTo writes the metrics in the Prometheus text format.
func (m *JobMetrics) WriteTo(ctx context.Context, w io.Writer) {
	if m.q != nil {
		if qs, err := m.q.Queues(ctx); err == nil {
			fmt.Fprintln(w, "# HELP trident_job_queue_depth Jobs waiting in a queue (ready, scheduled or deferred; not running).")
			fmt.Fprintln(w, "# TYPE trident_job_queue_depth gauge")
			for _, q := range qs {
				fmt.Fprintf(w, "trident_job_queue_depth{queue=%q} %d\n", q.Queue, q.Waiting)
			}
			fmt.Fprintln(w, "# HELP trident_job_queue_in_flight Jobs delivered to a worker and not yet settled.")
			fmt.Fprintln(w, "# TYPE trident_job_queue_in_flight gauge")
			for _, q := range qs {
				fmt.Fprintf(w, "trident_job_queue_in_flight{queue=%q} %d\n", q.Queue, q.InFlight)
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP trident_jobs_started_total Job runs started by this worker.")
	fmt.Fprintln(w, "# TYPE trident_jobs_started_total counter")
	for _, q := range slices.Sorted(maps.Keys(m.startedN)) {
		fmt.Fprintf(w, "trident_jobs_started_total{queue=%q} %d\n", q, m.startedN[q])
	}
	fmt.Fprintln(w, "# HELP trident_jobs_ended_total Jobs this worker brought to a final state.")
	fmt.Fprintln(w, "# TYPE trident_jobs_ended_total counter")
	keys := slices.SortedFunc(maps.Keys(m.endedN), func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(w, "trident_jobs_ended_total{queue=%q,state=%q} %d\n", k[0], k[1], m.endedN[k])
	}
	fmt.Fprintln(w, "# HELP trident_jobs_retried_total Failed runs scheduled for a retry.")
	fmt.Fprintln(w, "# TYPE trident_jobs_retried_total counter")
	for _, q := range slices.Sorted(maps.Keys(m.retriedN)) {
		fmt.Fprintf(w, "trident_jobs_retried_total{queue=%q} %d\n", q, m.retriedN[q])
	}
	fmt.Fprintln(w, "# HELP trident_jobs_duplicate_results_total Results dropped because another run had ended the job (at-least-once).")
	fmt.Fprintln(w, "# TYPE trident_jobs_duplicate_results_total counter")
	fmt.Fprintf(w, "trident_jobs_duplicate_results_total %d\n", m.duplicates)
	writeHist(w, "trident_job_run_seconds", "Run time of jobs.", m.run)
	writeHist(w, "trident_job_wait_seconds", "Time from a job being due to its start.", m.wait)
}

func writeHist(w io.Writer, name, help string, hs map[string]*histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for _, q := range slices.Sorted(maps.Keys(hs)) {
		h := hs[q]
		var cum int64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket{queue=%q,le=\"%g\"} %d\n", name, q, le, cum)
		}
		fmt.Fprintf(w, "%s_bucket{queue=%q,le=\"+Inf\"} %d\n", name, q, h.n)
		fmt.Fprintf(w, "%s_sum{queue=%q} %g\n%s_count{queue=%q} %d\n", name, q, h.sum, name, q, h.n)
	}
}

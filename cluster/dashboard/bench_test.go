package dashboard

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func get100k(b *testing.B) (http.Handler, float64) {
	b.Helper()
	before := heapInUse()
	s := NewMemStore()
	fillStore(s, 100_000)
	h := Handler(s, Options{})
	mb := float64(heapInUse()-before) / (1 << 20)
	return h, mb
}

// BenchmarkFirstRender100k is the server's part of a page's first render
// with 100k jobs in the store: the page, its two assets, the overview and the
// newest page of jobs (what the browser asks for before it can draw).
func BenchmarkFirstRender100k(b *testing.B) {
	h, mb := get100k(b)
	paths := []string{"/", "/static/app.js", "/static/app.css", "/api/overview", "/api/jobs"}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+p, nil))
			if rec.Code != 200 {
				b.Fatalf("GET %s: %d", p, rec.Code)
			}
		}
	}
	b.ReportMetric(mb, "heap-MB")
}

// BenchmarkJobsPage100k is one page of jobs from 100k by the filters the
// page offers: the newest, a state, a search by ID, the oldest page.
func BenchmarkJobsPage100k(b *testing.B) {
	h, _ := get100k(b)
	for _, q := range []string{"", "state=failed", "id=j00500", "queue=mail&state=finished", "cursor=50"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/api/jobs?"+q, nil))
				if rec.Code != 200 {
					b.Fatalf("%s: %d", q, rec.Code)
				}
			}
		})
	}
}

package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// csrfOf reads the CSRF token the page carries.
func csrfOf(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	const key = `name="csrf-token" content="`
	i := strings.Index(body, key)
	if i < 0 {
		t.Fatalf("no CSRF token in the page:\n%.400s", body)
	}
	tok := body[i+len(key):]
	return tok[:strings.IndexByte(tok, '"')]
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1"+target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	return v
}

func TestPageAndAssetsAreEmbedded(t *testing.T) {
	h := Handler(NewMemStore(), Options{Title: `<b>ops</b>`})
	rec := do(t, h, "GET", "/", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<script src="static/app.js"`) {
		t.Fatalf("GET /: %d\n%.300s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "<b>ops</b>") || !strings.Contains(rec.Body.String(), "&lt;b&gt;ops&lt;/b&gt;") {
		t.Fatal("the title is not escaped in the page")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	for path, ctype := range map[string]string{"/static/app.js": "javascript", "/static/app.css": "text/css"} {
		rec := do(t, h, "GET", path, nil)
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), ctype) || rec.Body.Len() < 500 {
			t.Fatalf("GET %s: %d %q, %d bytes", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
		if strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://") {
			t.Fatalf("%s loads something from the network", path)
		}
	}
	if rec := do(t, h, "GET", "/static/", nil); rec.Code != 404 {
		t.Fatalf("GET /static/ lists the directory: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/nope", nil); rec.Code != 404 {
		t.Fatalf("GET /nope: %d", rec.Code)
	}
}

func TestJobsAPIPagesFiltersAndSearches(t *testing.T) {
	s := NewMemStore()
	var ids []string
	for i := range 120 {
		q := "default"
		if i%3 == 0 {
			q = "mail"
		}
		ids = append(ids, s.Enqueue(q, "send", fmt.Sprintf(`{"n":%d}`, i)))
	}
	for _, id := range ids[:10] {
		if err := s.Start(id, "w1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(id, "boom", "main.go:1"); err != nil {
			t.Fatal(err)
		}
	}
	h := Handler(s, Options{PageSize: 50})

	// All jobs, newest first, three pages of 50, 50, 20.
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		rec := do(t, h, "GET", "/api/jobs?cursor="+cursor, nil)
		if rec.Code != 200 {
			t.Fatalf("page %d: %d %s", page, rec.Code, rec.Body)
		}
		p := decode[Page](t, rec)
		if p.Total != 120 {
			t.Fatalf("total %d, want 120", p.Total)
		}
		for _, j := range p.Jobs {
			if j.Args != "" || j.Timeline != nil {
				t.Fatalf("a page carries the heavy fields of %s", j.ID)
			}
			seen = append(seen, j.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(seen) != 120 || seen[0] != ids[119] || seen[119] != ids[0] {
		t.Fatalf("paged through %d jobs, first %s last %s; want 120 from %s to %s", len(seen), seen[0], seen[len(seen)-1], ids[119], ids[0])
	}

	p := decode[Page](t, do(t, h, "GET", "/api/jobs?state=failed&limit=4", nil))
	if p.Total != 10 || len(p.Jobs) != 4 || p.Jobs[0].ID != ids[9] || p.Jobs[0].State != Failed || p.Next == "" {
		t.Fatalf("failed jobs: %+v", p)
	}
	p = decode[Page](t, do(t, h, "GET", "/api/jobs?queue=mail&state=queued", nil))
	if p.Total != 36 { // 40 mail jobs, 4 of them among the first 10 that failed
		t.Fatalf("queued mail jobs: total %d, want 36", p.Total)
	}
	p = decode[Page](t, do(t, h, "GET", "/api/jobs?id="+ids[42], nil))
	if p.Total != 1 || len(p.Jobs) != 1 || p.Jobs[0].ID != ids[42] {
		t.Fatalf("search by ID %s: %+v", ids[42], p)
	}
	p = decode[Page](t, do(t, h, "GET", "/api/jobs?id=nothing-like-this", nil))
	if p.Total != 0 || len(p.Jobs) != 0 || p.Next != "" {
		t.Fatalf("search for nothing: %+v", p)
	}

	for _, bad := range []string{"state=done", "limit=0", "limit=501", "limit=x"} {
		rec := do(t, h, "GET", "/api/jobs?"+bad, nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), strings.Split(bad, "=")[0]) {
			t.Fatalf("?%s: %d %s, want 400 naming the parameter", bad, rec.Code, rec.Body)
		}
	}
	if rec := do(t, h, "GET", "/api/jobs?cursor=zz", nil); rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "cursor") {
		t.Fatalf("bad cursor: %d %s", rec.Code, rec.Body)
	}
}

func TestJobDetailAndActions(t *testing.T) {
	s := NewMemStore()
	s.SetWorker(Worker{ID: "w1", Host: "box", Slots: 2})
	id := s.Enqueue("default", "resize", `{"w":640}`)
	if err := s.Start(id, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(id, "image too small", "goroutine 1:\nresize.go:12"); err != nil {
		t.Fatal(err)
	}
	h := Handler(s, Options{})
	token := csrfOf(t, h)

	j := decode[Job](t, do(t, h, "GET", "/api/jobs/"+id, nil))
	if j.State != Failed || j.Args != `{"w":640}` || j.Error != "image too small" || !strings.Contains(j.Stack, "resize.go:12") ||
		j.Attempts != 1 || j.Worker != "w1" || len(j.Timeline) != 3 {
		t.Fatalf("job detail: %+v", j)
	}
	if rec := do(t, h, "GET", "/api/jobs/nope", nil); rec.Code != 404 {
		t.Fatalf("unknown job: %d", rec.Code)
	}

	// No CSRF header, a wrong one, a cross-site request: refused, nothing done.
	for name, hdr := range map[string]map[string]string{
		"no token":     nil,
		"bad token":    {csrfHeader: "x" + token},
		"cross-site":   {csrfHeader: token, "Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
		"other origin": {csrfHeader: token, "Origin": "http://evil.example"},
	} {
		if rec := do(t, h, "POST", "/api/jobs/"+id+"/requeue", hdr); rec.Code != 403 {
			t.Fatalf("%s: POST requeue answered %d %s", name, rec.Code, rec.Body)
		}
	}
	if j, _ := s.Job(context.Background(), id); j.State != Failed {
		t.Fatalf("a refused requeue changed the job to %s", j.State)
	}
	if rec := do(t, h, "GET", "/api/jobs/"+id+"/requeue", nil); rec.Code != 405 {
		t.Fatalf("GET on an action: %d", rec.Code)
	}

	ok := map[string]string{csrfHeader: token, "Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"}
	if rec := do(t, h, "POST", "/api/jobs/"+id+"/requeue", ok); rec.Code != 200 {
		t.Fatalf("requeue: %d %s", rec.Code, rec.Body)
	}
	if j, _ := s.Job(context.Background(), id); j.State != Queued || j.Timeline[len(j.Timeline)-1].State != Queued {
		t.Fatalf("after requeue: %+v", j)
	}
	if rec := do(t, h, "POST", "/api/jobs/"+id+"/requeue", ok); rec.Code != 409 {
		t.Fatalf("requeue of a queued job: %d %s, want 409", rec.Code, rec.Body)
	}
	if rec := do(t, h, "POST", "/api/jobs/"+id+"/cancel", ok); rec.Code != 200 {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "POST", "/api/jobs/"+id+"/cancel", ok); rec.Code != 409 {
		t.Fatalf("cancel of a cancelled job: %d %s, want 409", rec.Code, rec.Body)
	}
	if rec := do(t, h, "POST", "/api/jobs/nope/cancel", ok); rec.Code != 404 {
		t.Fatalf("cancel of an unknown job: %d", rec.Code)
	}
}

func TestOverviewCountsRatesAndWorkers(t *testing.T) {
	s := NewMemStore()
	s.SetWorker(Worker{ID: "w1", Host: "box", Slots: 4, Queues: []string{"default"}})
	a := s.Enqueue("default", "f", "1")
	s.Enqueue("default", "f", "2")
	s.Enqueue("other", "g", "3")
	if err := s.Start(a, "w1"); err != nil {
		t.Fatal(err)
	}
	o := decode[Overview](t, do(t, Handler(s, Options{}), "GET", "/api/overview", nil))
	if len(o.Queues) != 2 || o.Queues[0].Name != "default" || o.Queues[0].Depth[Queued] != 1 || o.Queues[0].Depth[Started] != 1 ||
		o.Queues[1].Depth[Queued] != 1 {
		t.Fatalf("queues: %+v", o.Queues)
	}
	if o.Queues[0].EnqueuedPerSec <= 0 || o.Queues[0].FinishedPerSec != 0 {
		t.Fatalf("rates: %+v", o.Queues[0])
	}
	if len(o.Workers) != 1 || o.Workers[0].Busy != 1 || o.Workers[0].Slots != 4 || len(o.Workers[0].Current) != 1 || o.Workers[0].Current[0] != a {
		t.Fatalf("workers: %+v", o.Workers)
	}
	if err := s.Finish(a, `"ok"`); err != nil {
		t.Fatal(err)
	}
	o, _ = s.Overview(context.Background())
	if o.Workers[0].Busy != 0 || o.Queues[0].Depth[Finished] != 1 || o.Queues[0].FinishedPerSec <= 0 {
		t.Fatalf("after finish: %+v", o)
	}
}

// failingStore fails every call.
type failingStore struct{ *MemStore }

func (failingStore) Overview(context.Context) (Overview, error) {
	return Overview{}, errors.New("nats: no responders")
}

func TestStoreErrorsReachThePage(t *testing.T) {
	h := Handler(failingStore{NewMemStore()}, Options{Refresh: 10 * time.Millisecond})
	rec := do(t, h, "GET", "/api/overview", nil)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "no responders") {
		t.Fatalf("overview of a failing store: %d %s", rec.Code, rec.Body)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ev := readEvents(t, srv.URL, nil, 1)
	if !strings.Contains(ev[0], `"error":"store: nats: no responders"`) {
		t.Fatalf("event stream of a failing store: %s", ev[0])
	}
}

// readEvents reads n events from the stream at base.
func readEvents(t *testing.T, base string, hdr http.Header, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("events: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(out) < n {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	if len(out) < n {
		t.Fatalf("got %d events, want %d (%v)", len(out), n, sc.Err())
	}
	return out
}

func TestEventsFollowChangesAndStopWithTheLastPage(t *testing.T) {
	s := NewMemStore()
	h := Handler(s, Options{Refresh: 5 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()

	// Several pages at once, each sees the job appear in its event stream.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var ev event
				if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					if err := json.Unmarshal([]byte(d), &ev); err != nil {
						errs <- err
						return
					}
					if len(ev.Overview.Queues) == 1 && ev.Overview.Queues[0].Depth[Finished] == 1 {
						return
					}
				}
			}
			errs <- fmt.Errorf("stream ended before the job finished: %v", sc.Err())
		}()
	}
	time.Sleep(20 * time.Millisecond)
	id := s.Enqueue("default", "f", "1")
	time.Sleep(20 * time.Millisecond)
	if err := s.Start(id, "w"); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(id, "2"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The poller stops once no page is open (goleak checks the rest).
	hh := h.(*handler)
	deadline := time.Now().Add(5 * time.Second)
	for {
		hh.mu.Lock()
		n, running := len(hh.subs), hh.stop != nil
		hh.mu.Unlock()
		if n == 0 && !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages still subscribed, poller running %v", n, running)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVersionChangesWithJobsNotWithRates(t *testing.T) {
	o := Overview{Queues: []Queue{{Name: "q", Depth: map[State]int{Queued: 2}, EnqueuedPerSec: 1}}}
	v := version(o)
	o.Queues[0].EnqueuedPerSec = 7
	if version(o) != v {
		t.Fatal("a rate change alone makes the page reload its jobs")
	}
	o.Queues[0].Depth[Queued] = 1
	o.Queues[0].Depth[Started] = 1
	if version(o) == v {
		t.Fatal("a job moving from queued to started does not change the version")
	}
	o.Revision = 9
	if version(o) != "r9" {
		t.Fatalf("version with a revision: %s", version(o))
	}
}

func TestRatesCountRecentJobsOnly(t *testing.T) {
	s := NewMemStore()
	old := time.Now().Add(-time.Hour)
	for range 100 {
		s.Add(Job{Queue: "q", State: Finished, EnqueuedAt: old, EndedAt: old})
	}
	s.Enqueue("q", "f", "")
	o, _ := s.Overview(context.Background())
	q := o.Queues[0]
	if q.Depth[Finished] != 100 || q.EnqueuedPerSec != 0.1 || q.FinishedPerSec != 0 {
		t.Fatalf("an hour-old backlog counts in the rates: %+v", q)
	}
}

// Workers moving jobs while pages read and act: the race detector watches,
// and the counts must add up at the end.
func TestConcurrentWorkersPagesAndActions(t *testing.T) {
	s := NewMemStore()
	h := Handler(s, Options{Refresh: time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	token := csrfOf(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const n = 300
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				id := s.Enqueue("q", "f", "1")
				_ = s.Start(id, fmt.Sprint("w", w))
				if i%3 == 0 {
					_ = s.Fail(id, "x", "")
				} else {
					_ = s.Finish(id, "2")
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c := &http.Client{}
			for ctx.Err() == nil {
				for _, p := range []string{"/api/overview", "/api/jobs?state=failed", "/api/jobs?id=j00"} {
					resp, err := c.Get(srv.URL + p)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				p, _ := s.Jobs(ctx, Filter{State: Failed, Limit: 1})
				if len(p.Jobs) == 1 {
					req, _ := http.NewRequest("POST", srv.URL+"/api/jobs/"+p.Jobs[0].ID+"/requeue", nil)
					req.Header.Set(csrfHeader, token)
					if resp, err := c.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			}
		}()
	}
	// Pages keep receiving changes meanwhile (the readers' requeues go on
	// until the end).
	readEvents(t, srv.URL, nil, 3)
	wg.Wait()
	cancel()
	readers.Wait()
	o, _ := s.Overview(context.Background())
	d := o.Queues[0].Depth
	if d[Queued]+d[Finished]+d[Failed] != 3*n || d[Started] != 0 {
		t.Fatalf("counts after the run: %v, want %d jobs, none started", d, 3*n)
	}
}

// The page carries the first render's data (overview and the newest jobs)
// inline, so the browser draws it without an API round trip; a value that
// looks like HTML cannot end the script element that holds it.
func TestPageInlinesFirstRenderData(t *testing.T) {
	s := NewMemStore()
	for i := range 60 {
		s.Enqueue("default", fmt.Sprintf("work%d", i), `{"n":1}`)
	}
	evil := s.Enqueue("mail", `</script><script>alert(1)</script>`, `"</script>"`)
	h := Handler(s, Options{PageSize: 20})
	body := do(t, h, "GET", "/", nil).Body.String()
	const open = `<script id="boot" type="application/json">`
	i := strings.Index(body, open)
	if i < 0 {
		t.Fatalf("no boot data in the page:\n%.600s", body)
	}
	rest := body[i+len(open):]
	end := strings.Index(rest, "</script>")
	var b struct {
		Overview Overview `json:"overview"`
		Jobs     Page     `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(rest[:end]), &b); err != nil {
		t.Fatalf("boot data up to the first </script> is not JSON (%v): %.300s", err, rest[:end])
	}
	if len(b.Jobs.Jobs) != 20 || b.Jobs.Jobs[0].ID != evil || b.Jobs.Total != 61 || b.Jobs.Next == "" {
		t.Fatalf("boot jobs: %d jobs, first %q, total %d, next %q", len(b.Jobs.Jobs), b.Jobs.Jobs[0].ID, b.Jobs.Total, b.Jobs.Next)
	}
	if len(b.Overview.Queues) != 2 {
		t.Fatalf("boot overview: %+v", b.Overview)
	}
	// The same as the API's first page.
	api := decode[Page](t, do(t, h, "GET", "/api/jobs", nil))
	if len(api.Jobs) != len(b.Jobs.Jobs) || api.Jobs[19].ID != b.Jobs.Jobs[19].ID {
		t.Fatalf("API first page differs from the boot data")
	}
	// A store that fails: the page still loads, without boot data.
	if body := do(t, Handler(failingStore{NewMemStore()}, Options{}), "GET", "/", nil).Body.String(); strings.Contains(body, open) || !strings.Contains(body, "static/app.js") {
		t.Fatalf("page with a failing store:\n%.400s", body)
	}
}

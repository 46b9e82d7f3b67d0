package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStartRefusesNonLoopbackWithoutAuth(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		_, err := Start(context.Background(), NewMemStore(), Options{Addr: addr})
		if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("Start on %s without auth: %v, want ErrInsecure naming the address", addr, err)
		}
	}
	if _, err := Start(context.Background(), NewMemStore(), Options{Addr: "0.0.0.0:0", User: "u"}); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("a user without a password: %v", err)
	}
	if _, err := Start(context.Background(), NewMemStore(), Options{Addr: "127.0.0.1"}); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("an address without a port: %v", err)
	}
	// With a token, every interface is allowed.
	s, err := Start(context.Background(), NewMemStore(), Options{Addr: "0.0.0.0:0", Token: "t0k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTokenAuth(t *testing.T) {
	s, err := Start(context.Background(), NewMemStore(), Options{Addr: "127.0.0.1:0", Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := &http.Client{}
	if code, body := get(t, c, s.URL()+"api/overview"); code != 401 || !strings.Contains(body, "token") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, _ := get(t, c, s.URL()+"api/overview", "Authorization", "Bearer wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := get(t, c, s.URL()+"api/overview", "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("bearer token: %d", code)
	}
	// A browser opens the page with ?token= once; a cookie keeps it and the
	// address bar loses it.
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, err := b.Get(s.URL() + "?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(resp.Request.URL.String(), "s3cret") {
		t.Fatalf("?token=: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if code, _ := get(t, b, s.URL()+"api/jobs"); code != 200 {
		t.Fatalf("with the cookie: %d", code)
	}
	// Mounted under a prefix, the page keeps its prefix.
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", Handler(NewMemStore(), Options{Token: "s3cret"})))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	jar2, _ := cookiejar.New(nil)
	resp, err = (&http.Client{Jar: jar2}).Get(ts.URL + "/ops/?token=s3cret&x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/ops/" || resp.Request.URL.RawQuery != "x=1" {
		t.Fatalf("?token= under a prefix: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if code, _ := get(t, c, s.URL()+"?token=wrong"); code != 401 {
		t.Fatalf("?token=wrong: %d", code)
	}
}

func TestBasicAuthAndBearerSkipsCSRF(t *testing.T) {
	st := NewMemStore()
	id := st.Add(Job{Queue: "q", Function: "f", State: Failed})
	s, err := Start(context.Background(), st, Options{Addr: "127.0.0.1:0", User: "ops", Password: "pw", Token: "tk"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := &http.Client{}
	req, _ := http.NewRequest("GET", s.URL(), nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ = http.NewRequest("GET", s.URL()+"api/overview", nil)
	req.SetBasicAuth("ops", "nope")
	if resp, _ = c.Do(req); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp.Body.Close()
	// Basic auth is sent by browsers on their own: an action still needs
	// the page's CSRF token.
	req, _ = http.NewRequest("POST", s.URL()+"api/jobs/"+id+"/requeue", nil)
	req.SetBasicAuth("ops", "pw")
	if resp, _ = c.Do(req); resp.StatusCode != 403 {
		t.Fatalf("basic auth without CSRF token: %d", resp.StatusCode)
	}
	resp.Body.Close()
	// A bearer token is not: a script may act with it alone.
	req, _ = http.NewRequest("POST", s.URL()+"api/jobs/"+id+"/requeue", nil)
	req.Header.Set("Authorization", "Bearer tk")
	if resp, _ = c.Do(req); resp.StatusCode != 200 {
		t.Fatalf("bearer action: %d", resp.StatusCode)
	}
	resp.Body.Close()
	if j, _ := st.Job(context.Background(), id); j.State != Queued {
		t.Fatalf("after requeue: %s", j.State)
	}
}

func TestLoopbackServerRefusesForeignHostNames(t *testing.T) {
	s, err := Start(context.Background(), NewMemStore(), Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := &http.Client{}
	if code, _ := get(t, c, s.URL()); code != 200 {
		t.Fatalf("loopback: %d", code)
	}
	req, _ := http.NewRequest("GET", s.URL(), nil)
	req.Host = "attacker.example:4280" // DNS rebinding
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("Host attacker.example: %d, want 403", resp.StatusCode)
	}
	for h, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "[::1]": true, "::1": true, "127.0.0.2": true,
		"app.localhost": true, "attacker.example": false, "10.0.0.1": false, "localhost.example": false} {
		if isLoopbackHost(h) != want {
			t.Fatalf("isLoopbackHost(%q) = %v", h, !want)
		}
	}
}

func TestShutdownClosesOpenEventStreams(t *testing.T) {
	s, err := Start(context.Background(), NewMemStore(), Options{Addr: "127.0.0.1:0", Refresh: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL() + "api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 10)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open event stream: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
}

func TestServeStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewMemStore(), Options{Addr: "127.0.0.1:0"}, func(u string) { urls <- u }) }()
	u := <-urls
	if code, _ := get(t, &http.Client{}, u+"api/overview"); code != 200 {
		t.Fatalf("GET overview: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), NewMemStore(), Options{Addr: ":0"}, nil); !errors.Is(err, ErrInsecure) {
		t.Fatalf("Serve on every interface without auth: %v", err)
	}
}

package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var staticFS embed.FS

// Options configures the dashboard. The zero value serves on loopback
// without auth, refreshing every second.
type Options struct {
	// Addr is the listen address of Start and Serve (not used by Handler);
	// "" means 127.0.0.1:4280. Any address that is not a loopback one
	// (":4280" listens on every interface) requires Token or User/Password.
	Addr string
	// Token, when set, is required as "Authorization: Bearer TOKEN", or once
	// as ?token=TOKEN in the page's URL (the page then keeps it in a cookie).
	Token string
	// User and Password, when set, are required by HTTP basic auth.
	User, Password string
	// Refresh is how often the open pages are brought up to date (the store
	// is polled once per period for all of them); 0 means one second.
	Refresh time.Duration
	// PageSize is the default number of jobs per page; 0 means 50. A page
	// may ask for up to 500.
	PageSize int
	// Title is shown at the top of the page; "" means "trident".
	Title string
}

const (
	defaultAddr = "127.0.0.1:4280"
	maxPageSize = 500
	csrfHeader  = "X-Trident-Csrf"
	authCookie  = "trident_dashboard"
	// ssePing keeps an idle event stream open through proxies.
	ssePing = 15 * time.Second
)

// handler is what Handler returns.
type handler struct {
	store Store
	o     Options
	mux   *http.ServeMux
	csrf  string // the page's CSRF token
	page  []byte // index.html with the token and title filled in
	cop   *http.CrossOriginProtection

	mu     sync.Mutex
	subs   map[chan []byte]struct{}
	last   []byte // the last event sent, for new subscribers
	stop   context.CancelFunc
	polled chan struct{} // closed when the poller has ended
	kickCh chan struct{} // an action asks for a poll now
}

// Handler returns the dashboard as an http.Handler: the page at "/", its
// assets, a JSON API under "/api/" and live updates (Server-Sent Events at
// "/api/events"). Mounted under a prefix, strip it (http.StripPrefix) and
// keep the trailing slash: the page uses relative URLs.
//
// Actions (POST) need the page's CSRF token and a same-origin request.
// Without Token or User/Password the handler answers only requests whose Host
// is a loopback name or address, so a web page cannot reach it by pointing
// its own domain name at 127.0.0.1 (DNS rebinding).
//
// A goroutine polls the store while at least one page is open, and only
// then: Handler leaves nothing running when no page is.
func Handler(store Store, o Options) http.Handler {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	o.PageSize = min(o.PageSize, maxPageSize)
	if o.Title == "" {
		o.Title = "trident"
	}
	h := &handler{store: store, o: o, mux: http.NewServeMux(), subs: map[chan []byte]struct{}{},
		kickCh: make(chan struct{}, 1), cop: http.NewCrossOriginProtection()}
	var b [16]byte
	_, _ = rand.Read(b[:])
	h.csrf = hex.EncodeToString(b[:])
	page, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		panic("dashboard: the embedded page is missing: " + err.Error())
	}
	page = bytes.ReplaceAll(page, []byte("{{csrf}}"), []byte(h.csrf))
	h.page = bytes.ReplaceAll(page, []byte("{{title}}"), []byte(html.EscapeString(o.Title)))

	sub, _ := fs.Sub(staticFS, "static")
	assets := http.FileServerFS(sub)
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", noIndex(assets)))
	h.mux.HandleFunc("GET /api/overview", h.overview)
	h.mux.HandleFunc("GET /api/jobs", h.jobs)
	h.mux.HandleFunc("GET /api/jobs/{id}", h.job)
	h.mux.HandleFunc("POST /api/jobs/{id}/cancel", h.action(store.Cancel))
	h.mux.HandleFunc("POST /api/jobs/{id}/requeue", h.action(store.Requeue))
	h.mux.HandleFunc("GET /api/events", h.events)
	return h
}

func noIndex(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if !h.authorized(w, r) {
		return
	}
	if r.Method == http.MethodPost {
		if err := h.cop.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused: "+err.Error())
			return
		}
		if !h.bearer(r) && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(h.csrf)) != 1 {
			writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header: reload the page")
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// authorized checks the credentials, or the Host header when there are none
// to check. It writes the refusal itself.
func (h *handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.o.Token == "" && h.o.User == "" {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !isLoopbackHost(host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("host %q refused: without a token or a user and password the dashboard answers only on a loopback address", r.Host))
			return false
		}
		return true
	}
	if h.bearer(r) {
		return true
	}
	if h.o.User != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, h.o.User) && equal(p, h.o.Password) {
			return true
		}
	}
	if h.o.Token != "" {
		if c, err := r.Cookie(authCookie); err == nil && equal(c.Value, h.cookieValue()) {
			return true
		}
		if t := r.URL.Query().Get("token"); t != "" && equal(t, h.o.Token) && r.Method == http.MethodGet {
			// Keep it in a cookie and take it out of the address bar.
			http.SetCookie(w, &http.Cookie{Name: authCookie, Value: h.cookieValue(), Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			// RequestURI is the address as the browser sent it, with
			// any prefix that http.StripPrefix took off r.URL.
			u, err := url.ParseRequestURI(r.RequestURI)
			if err != nil || r.RequestURI == "" {
				u = &url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}
			}
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return false
		}
	}
	if h.o.User != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="trident dashboard", charset="UTF-8"`)
	}
	writeError(w, http.StatusUnauthorized, "authentication required: open the page with ?token=TOKEN, or send Authorization: Bearer TOKEN or basic auth")
	return false
}

func (h *handler) bearer(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return h.o.Token != "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") && equal(a[7:], h.o.Token)
}

func (h *handler) cookieValue() string {
	s := sha256.Sum256([]byte("trident dashboard cookie\x00" + h.o.Token))
	return hex.EncodeToString(s[:])
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// isLoopbackHost reports whether host (a name or an IP, "" meaning loopback
// as in cluster.IsLoopback) stays on this machine.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bootMarker is where index inlines the first render's data.
var bootMarker = []byte("<!--boot-->")

// boot is the data of the page's first render, inlined in the page (a
// JSON script element) so that it needs no API round trip.
type boot struct {
	Overview Overview `json:"overview"`
	Jobs     Page     `json:"jobs"`
}

// index serves the page with the overview and the newest jobs inlined.
// When the store cannot answer quickly, the page goes without them and
// loads them from the API as it would anyway.
func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var data []byte
	ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
	defer cancel()
	if o, err := h.store.Overview(ctx); err == nil {
		if p, err := h.store.Jobs(ctx, Filter{Limit: h.o.PageSize}); err == nil {
			if p.Jobs == nil {
				p.Jobs = []Job{}
			}
			// encoding/json escapes <, > and &: the JSON cannot end the
			// script element.
			b, err := json.Marshal(boot{Overview: tidy(o), Jobs: p})
			if err == nil {
				data = make([]byte, 0, len(b)+64)
				data = append(data, `<script id="boot" type="application/json">`...)
				data = append(data, b...)
				data = append(data, "</script>"...)
			}
		}
	}
	before, after, _ := bytes.Cut(h.page, bootMarker)
	_, _ = w.Write(before)
	_, _ = w.Write(data)
	_, _ = w.Write(after)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// storeError answers a store failure: 404 and 409 for ErrNotFound and
// ErrConflict, 504 for a timeout, 502 otherwise (the store is a backend).
func storeError(w http.ResponseWriter, err error) {
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeError(w, code, err.Error())
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	o, err := h.store.Overview(r.Context())
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, tidy(o))
}

func (h *handler) jobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{State: State(q.Get("state")), Queue: q.Get("queue"), IDPrefix: strings.TrimSpace(q.Get("id")),
		Cursor: q.Get("cursor"), Limit: h.o.PageSize}
	if f.State != "" && !f.State.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown state %q: want one of %v", f.State, States))
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number from 1 to %d", s, maxPageSize))
			return
		}
		f.Limit = n
	}
	p, err := h.store.Jobs(r.Context(), f)
	if err != nil {
		storeError(w, err)
		return
	}
	if p.Jobs == nil {
		p.Jobs = []Job{}
	}
	writeJSON(w, p)
}

func (h *handler) job(w http.ResponseWriter, r *http.Request) {
	j, err := h.store.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, j)
}

func (h *handler) action(do func(context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := do(r.Context(), id); err != nil {
			storeError(w, err)
			return
		}
		h.kick()
		writeJSON(w, map[string]any{"ok": true, "id": id})
	}
}

// tidy makes o's nil lists empty ones, for the page.
func tidy(o Overview) Overview {
	if o.Queues == nil {
		o.Queues = []Queue{}
	}
	if o.Workers == nil {
		o.Workers = []Worker{}
	}
	for i := range o.Workers {
		if o.Workers[i].Current == nil {
			o.Workers[i].Current = []string{}
		}
	}
	return o
}

// event is what the page receives on each change.
type event struct {
	Overview Overview `json:"overview,omitzero"`
	// Version changes when the jobs changed: the page reloads its list.
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ch, last := h.subscribe()
	defer h.unsubscribe(ch)
	send := func(b []byte) bool {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if last != nil && !send(last) {
		return
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(ssePing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-ch:
			if !send(b) {
				return
			}
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// subscribe registers a page and starts the poller for the first one.
func (h *handler) subscribe() (chan []byte, []byte) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop, h.polled = cancel, make(chan struct{})
		go h.poll(ctx, h.polled)
	}
	return ch, h.last
}

// unsubscribe removes a page and stops the poller after the last one,
// waiting for it to end.
func (h *handler) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.subs, ch)
	var done chan struct{}
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		done = h.polled
		h.stop, h.polled, h.last = nil, nil, nil
	}
	h.mu.Unlock()
	if done != nil {
		<-done
	}
}

// kick makes the poller poll now (after an action).
func (h *handler) kick() {
	select {
	case h.kickCh <- struct{}{}:
	default:
	}
}

func (h *handler) poll(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(h.o.Refresh)
	defer t.Stop()
	var prev []byte
	for {
		b := h.pollOnce(ctx)
		if b != nil && !bytes.Equal(b, prev) {
			prev = b
			h.broadcast(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kickCh:
		}
	}
}

func (h *handler) pollOnce(ctx context.Context) []byte {
	ctx, cancel := context.WithTimeout(ctx, max(h.o.Refresh*5, 5*time.Second))
	defer cancel()
	o, err := h.store.Overview(ctx)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	var ev event
	if err != nil {
		ev.Error = "store: " + err.Error()
	} else {
		ev.Overview, ev.Version = tidy(o), version(o)
	}
	b, _ := json.Marshal(ev)
	return b
}

// version is what the page compares to know whether to reload its jobs:
// the store's revision, or else the depths and the running jobs.
func version(o Overview) string {
	if o.Revision != 0 {
		return "r" + strconv.FormatUint(o.Revision, 10)
	}
	f := fnv.New64a()
	for _, q := range o.Queues {
		fmt.Fprintf(f, "%s", q.Name)
		for _, s := range States {
			fmt.Fprintf(f, ",%d", q.Depth[s])
		}
		f.Write([]byte{0})
	}
	for _, w := range o.Workers {
		fmt.Fprintf(f, "%s%v", w.ID, w.Current)
		f.Write([]byte{0})
	}
	return "h" + strconv.FormatUint(f.Sum64(), 16)
}

// broadcast hands b to every page, replacing an event a slow page has not
// taken yet: a page only needs the latest.
func (h *handler) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = b
	for ch := range h.subs {
		select {
		case <-ch:
		default:
		}
		ch <- b
	}
}

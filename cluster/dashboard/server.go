package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrInsecure is returned when the dashboard would listen on a non-loopback
// address without a token or a user and password, the rule
// cluster.StartServer follows for the NATS server.
var ErrInsecure = errors.New("dashboard: refusing anonymous access on a non-loopback address: set a token or a user and password")

// CheckAddr returns the error Start would return for o's address and
// credentials, without listening: ErrInsecure for a non-loopback address
// (or every interface, ":PORT") without Token or User/Password.
func (o Options) CheckAddr() error {
	addr := o.Addr
	if addr == "" {
		addr = defaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen address %q: %w", addr, err)
	}
	if (o.User == "") != (o.Password == "") {
		return errors.New("dashboard: needs both a user and a password, or neither")
	}
	// Here "" is every interface (net.Listen's meaning), not loopback.
	if (host == "" || !isLoopbackHost(host)) && o.Token == "" && o.User == "" {
		return fmt.Errorf("%w (listen address %s)", ErrInsecure, addr)
	}
	return nil
}

// Server is a running dashboard (see Start).
type Server struct {
	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan error
}

// Start listens on o.Addr and serves Handler(store, o) until Shutdown (ctx
// bounds only the start). It refuses (ErrInsecure) a non-loopback address
// without Token or User/Password, and a User without a Password.
func Start(ctx context.Context, store Store, o Options) (*Server, error) {
	if err := o.CheckAddr(); err != nil {
		return nil, err
	}
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	// Event streams never go idle: their requests end with base.
	base, cancel := context.WithCancel(context.Background())
	s := &Server{ln: ln, cancel: cancel, done: make(chan error, 1),
		srv: &http.Server{Handler: Handler(store, o), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			BaseContext: func(net.Listener) context.Context { return base }}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the page's address, e.g. http://127.0.0.1:4280/.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the server: it closes the open event streams, then waits
// for the other requests to end, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Serve runs a dashboard (see Start) until ctx ends, then shuts it down,
// giving requests five seconds to end. ready, when not nil, is called with
// the page's URL once it listens.
func Serve(ctx context.Context, store Store, o Options, ready func(url string)) error {
	s, err := Start(ctx, store, o)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(s.URL())
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

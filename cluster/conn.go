package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnreachable wraps every failure to reach a NATS server in Connect.
var ErrUnreachable = errors.New("cluster: NATS server unreachable")

// ErrAuth wraps a refusal by the server because of missing or wrong
// credentials.
var ErrAuth = errors.New("cluster: NATS server refused the credentials")

// ErrTLS wraps a failed TLS handshake in Connect (an untrusted or expired
// certificate, a server that does not speak TLS, ...).
var ErrTLS = errors.New("cluster: TLS with the NATS server failed")

// ConnectOptions says how to reach a NATS server. Credentials may also be in
// the URL (nats://user:pass@host:4222 or nats://token@host:4222).
type ConnectOptions struct {
	// URL is the server address, such as nats://127.0.0.1:4222 or
	// tls://host:4222. Several may be given separated by commas.
	URL string
	// User and Password, Token, CredsFile (a NATS .creds file) and NKeyFile
	// (an nkey seed file) are the supported credentials; set at most one kind.
	User, Password string
	Token          string
	CredsFile      string
	NKeyFile       string
	// TLS is the client TLS configuration (root CAs, client certificate).
	// CAFile, CertFile and KeyFile are a file-based alternative.
	TLS                       *tls.Config
	CAFile, CertFile, KeyFile string
	// Timeout bounds the connection attempt; 0 means 5s. An unreachable
	// server is reported within this time, never by a hang.
	Timeout time.Duration
	// Name identifies the connection in server monitoring.
	Name string
}

func (o ConnectOptions) hasCredentials() bool {
	if o.User != "" || o.Token != "" || o.CredsFile != "" || o.NKeyFile != "" || o.CertFile != "" ||
		(o.TLS != nil && (len(o.TLS.Certificates) > 0 || o.TLS.GetClientCertificate != nil)) {
		return true
	}
	for _, u := range strings.Split(o.URL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err == nil && pu.User != nil {
			return true
		}
	}
	return false
}

// allLoopback reports whether every server in the URL list is on this machine.
func (o ConnectOptions) allLoopback() bool {
	for _, u := range strings.Split(o.URL, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || !IsLoopback(pu.Hostname()) {
			return false
		}
	}
	return true
}

// Conn is a connection to a NATS server with JetStream, shared by clients
// (Executor), workers (Serve) and Status. Close it when done.
type Conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	url string // the server URL list as given, redacted (RedactURL)

	mu          sync.Mutex
	onReconnect map[*Executor]func()
	// anonymousRemote is true when some server is not on this machine and
	// no credentials were given: workers refuse such a connection.
	anonymousRemote bool
}

// Connect dials the server and checks that JetStream is enabled. Failures
// are reported within o.Timeout: ErrUnreachable when no server answers,
// ErrAuth when the credentials are refused.
func Connect(ctx context.Context, o ConnectOptions) (*Conn, error) {
	if o.URL == "" {
		return nil, errors.New("cluster: no server URL given")
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < o.Timeout {
		o.Timeout = max(time.Until(d), time.Millisecond)
	}
	// The Conn does not exist yet when the handler is installed.
	var self atomic.Pointer[Conn]
	opts := []nats.Option{
		nats.ReconnectHandler(func(*nats.Conn) {
			if c := self.Load(); c != nil {
				c.reconnected()
			}
		}),
		nats.Timeout(o.Timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.NoCallbacksAfterClientClose(),
		// Reconnect errors are retried silently; the default handler prints.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.NKeyFile != "" {
		nk, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: nkey seed %s: %w", o.NKeyFile, err)
		}
		opts = append(opts, nk)
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" || o.KeyFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	type res struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		nc, err := nats.Connect(o.URL, opts...)
		ch <- res{nc, err}
	}()
	var r res
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, RedactURL(o.URL), ctx.Err())
	}
	if r.err != nil {
		// The client's errors may quote the URL it was given.
		r.err = redactErr(r.err, o.URL, o.Password, o.Token)
		if errors.Is(r.err, nats.ErrAuthorization) || errors.Is(r.err, nats.ErrAuthExpired) || errors.Is(r.err, nats.ErrAuthRevoked) ||
			strings.Contains(strings.ToLower(r.err.Error()), "authorization") {
			return nil, fmt.Errorf("%w at %s: %w", ErrAuth, RedactURL(o.URL), r.err)
		}
		var cve *tls.CertificateVerificationError
		if errors.Is(r.err, nats.ErrSecureConnRequired) || errors.Is(r.err, nats.ErrSecureConnWanted) ||
			errors.As(r.err, &cve) || strings.Contains(r.err.Error(), "tls") {
			return nil, fmt.Errorf("%w at %s: %w", ErrTLS, RedactURL(o.URL), r.err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, RedactURL(o.URL), r.err)
	}
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	c := &Conn{nc: r.nc, js: js, url: RedactURL(o.URL), anonymousRemote: !o.allLoopback() && !o.hasCredentials(), onReconnect: map[*Executor]func(){}}
	self.Store(c)
	if err := c.ensureStreams(ctx); err != nil {
		r.nc.Close()
		return nil, err
	}
	return c, nil
}

// reconnected runs the executors' reconnect hooks (in the NATS callback
// goroutine; each hook must not block).
func (c *Conn) reconnected() {
	c.mu.Lock()
	var fs []func()
	for _, f := range c.onReconnect {
		fs = append(fs, f)
	}
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Close closes the connection. Pending results are no longer received.
func (c *Conn) Close() {
	c.nc.Close()
}

// URL returns the server URL (or list) the connection was made with, with
// passwords and tokens hidden (RedactURL): fit for messages.
func (c *Conn) URL() string { return c.url }

// NATS returns the underlying NATS connection for advanced use.
func (c *Conn) NATS() *nats.Conn { return c.nc }

func (c *Conn) ensureStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := c.ensureStream(ctx, jetstream.StreamConfig{
		Name:        TaskStream,
		Description: "trident cluster tasks (work queue)",
		Subjects:    []string{subjectTaskPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("cluster: the NATS server at %s has no JetStream (start it with -js): %w", c.url, err)
		}
		return fmt.Errorf("cluster: creating stream %s: %w", TaskStream, err)
	}
	err = c.ensureStream(ctx, jetstream.StreamConfig{
		Name:        DeadStream,
		Description: "trident cluster dead letters: tasks that could not be run, with the reason in a header",
		Subjects:    []string{subjectDeadPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxMsgs:     100000,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("cluster: creating stream %s: %w", DeadStream, err)
	}
	return nil
}

// ensureStream creates the stream unless it exists already. It does not
// update an existing stream: every client and worker calls it on connect,
// and a stream update racing a consumer creation trips a data race inside
// nats-server's file store (v2.15.2, seen under the race detector), besides
// being needless work.
func (c *Conn) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) error {
	if _, err := c.js.Stream(ctx, cfg.Name); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err := c.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil // another client created it in between
	}
	return err
}

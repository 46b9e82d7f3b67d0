package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrInsecure is returned when an embedded server or a worker would listen on
// or connect to a non-loopback address without credentials. trident never
// offers anonymous access to a task queue that other machines can reach.
var ErrInsecure = errors.New("cluster: refusing anonymous access on a non-loopback address: set a user and password, a token, a creds file or an nkey")

// ServerOptions configures an embedded NATS JetStream server.
type ServerOptions struct {
	// Host is the listen address; "" means 127.0.0.1. Any other address than
	// a loopback one requires User/Password or Token.
	Host string
	// Port is the client port; 0 picks a free one (read it back with URL).
	Port int
	// DataDir holds the JetStream store; "" means a fresh temporary directory
	// removed by Shutdown.
	DataDir string
	// User and Password, or Token, protect the server.
	User, Password string
	Token          string
	// TLS, when set, makes the server require TLS from clients.
	TLS *tls.Config
	// Name is the server name shown in monitoring; "" means "trident".
	Name string
	// Log sends the server's own log lines to stderr (off by default).
	Log bool
}

// Server is an embedded NATS server with JetStream enabled: the single-machine
// default of the cluster executor. Workers and clients connect to URL.
type Server struct {
	ns      *server.Server
	tmpDir  string
	url     string
	options ServerOptions
}

// IsLoopback reports whether host (a name or an IP, "" meaning loopback)
// stays on this machine.
func IsLoopback(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// StartServer starts an embedded JetStream server and waits until it accepts
// connections or ctx ends. It refuses (ErrInsecure) to listen on a
// non-loopback address without credentials.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if !IsLoopback(o.Host) && o.User == "" && o.Token == "" {
		return nil, fmt.Errorf("%w (listen address %s)", ErrInsecure, o.Host)
	}
	if (o.User == "") != (o.Password == "") {
		return nil, errors.New("cluster: server needs both a user and a password, or neither")
	}
	if o.User != "" && o.Token != "" {
		return nil, errors.New("cluster: server takes a user/password or a token, not both")
	}
	if o.Name == "" {
		o.Name = "trident"
	}
	s := &Server{options: o}
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "trident-jetstream-")
		if err != nil {
			return nil, fmt.Errorf("cluster: data directory: %w", err)
		}
		dir, s.tmpDir = d, d
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:    o.Name,
		Host:          o.Host,
		Port:          port,
		JetStream:     true,
		StoreDir:      dir,
		NoSigs:        true,
		NoLog:         !o.Log,
		Username:      o.User,
		Password:      o.Password,
		Authorization: o.Token,
		MaxPayload:    8 << 20,
	}
	if o.TLS != nil {
		opts.TLSConfig = o.TLS
		opts.TLS = true
		opts.TLSTimeout = 5
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("cluster: embedded server: %w", err)
	}
	if o.Log {
		ns.ConfigureLogger()
	}
	ns.Start()
	deadline := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		ns.WaitForShutdown()
		s.cleanup()
		return nil, fmt.Errorf("cluster: embedded server on %s:%d not ready within %v", o.Host, o.Port, deadline)
	}
	s.ns = ns
	s.url = ns.ClientURL()
	return s, nil
}

// URL is the address clients and workers connect to, such as
// nats://127.0.0.1:4222 (tls:// when TLS is on).
func (s *Server) URL() string {
	if s.options.TLS != nil {
		if rest, ok := strings.CutPrefix(s.url, "nats://"); ok {
			return "tls://" + rest
		}
	}
	return s.url
}

// ConnectOptions returns options that connect to this server with its own
// credentials (handy in tests and single-binary programs). With TLS, set
// the client's TLS configuration (its root CAs) yourself.
func (s *Server) ConnectOptions() ConnectOptions {
	return ConnectOptions{URL: s.URL(), User: s.options.User, Password: s.options.Password, Token: s.options.Token}
}

// Shutdown stops the server, closes every client connection and removes a
// temporary data directory. It waits for the server's goroutines to end.
func (s *Server) Shutdown() {
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

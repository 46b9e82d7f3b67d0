package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trident-go/trident/aio"
)

// The echo benchmark: every server runs in a process of its own (this
// binary re-executed with echoServerEnv set, CPython, or a small C program
// compiled with gcc when gcc is there), and the same load generator, a
// process of its own too (aio_client.go), drives each in turn. No server
// shares its process with the load or with another server: an idle Go
// listener next to the aio server would make the Go runtime's own netpoller
// wake on every packet, and a client in the same process would be billed to
// the server.

const echoServerEnv = "TRIDENT_BENCH_ECHO_SERVER"

//go:embed c/echo_epoll.c
var echoC []byte

// echoServerMain serves as an echo server when the process was started as
// one (called first thing from main); otherwise it returns. It prints
// {"port": P} once listening and serves until stdin closes.
func echoServerMain() {
	kind := os.Getenv(echoServerEnv)
	if kind == "" {
		return
	}
	var err error
	switch kind {
	case "aio", "aio-no-poller":
		err = serveAioEcho(kind == "aio-no-poller")
	case "goroutines":
		err = servePlainEcho()
	default:
		err = fmt.Errorf("unknown echo server %q", kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func announce(addr net.Addr) {
	fmt.Printf("{\"port\": %d}\n", addr.(*net.TCPAddr).Port)
}

// serveAioEcho is the aio line echo server (asyncio.start_server's
// counterpart), on the loop's poller unless noPoller.
func serveAioEcho(noPoller bool) error {
	var opts []aio.Option
	if noPoller {
		opts = append(opts, aio.WithoutPoller())
	}
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		srv, err := aio.StartServer(t, "127.0.0.1:0", func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) error {
			for {
				line, err := r.ReadLine(t)
				if err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				w.Write(line)
				if err := w.Drain(t); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return 0, err
		}
		announce(srv.Addr())
		// Serve until stdin closes (read off the loop).
		_, err = aio.ToThread(t, func(context.Context) (int64, error) { return io.Copy(io.Discard, os.Stdin) })
		srv.Close()
		return 0, err
	}, opts...)
	return err
}

// servePlainEcho is an ordinary Go echo server, a goroutine per connection
// (the reference: no loop at all).
func servePlainEcho() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	announce(ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return ln.Close()
}

// echoServer is a server process.
type echoServer struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startEchoServer starts cmd, which must print {"port": P} once listening
// and serve until its stdin closes.
func startEchoServer(name string, cmd *exec.Cmd) (*echoServer, error) {
	s := &echoServer{name: name, cmd: cmd}
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	var hello struct {
		Port int `json:"port"`
	}
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err == nil && hello.Port <= 0 {
		err = errors.New("no port")
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("%s echo server did not start (%q): %v", name, line, err)
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", hello.Port)
	return s, nil
}

func (s *echoServer) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// cpu is the server process's user+system CPU time so far, from
// /proc/PID/stat (0 where there is no /proc).
func (s *echoServer) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	str := string(b)
	i := strings.LastIndexByte(str, ')')
	if i < 0 || i+2 > len(str) {
		return 0
	}
	f := strings.Fields(str[i+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// startEchoServers starts every server this machine can run; notes says
// which could not start and why.
func startEchoServers(cfg Config) (servers []*echoServer, notes []string, cleanup func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	var tmp string
	cleanup = func() {
		for _, s := range servers {
			s.stop()
		}
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}
	goServer := func(name, kind string) error {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), echoServerEnv+"="+kind)
		s, err := startEchoServer(name, cmd)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		return nil
	}
	for _, k := range [][2]string{{"echo-aio", "aio"}, {"echo-aio-no-poller", "aio-no-poller"}, {"echo-goroutine-per-conn", "goroutines"}} {
		if err := goServer(k[0], k[1]); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	if tmp, err = os.MkdirTemp("", "trident-bench-echo"); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	if cfg.Python != "" {
		src, err := pyScripts.ReadFile("python/aio_echo_server.py")
		if err == nil {
			path := filepath.Join(tmp, "aio_echo_server.py")
			if err = os.WriteFile(path, src, 0o644); err == nil {
				var s *echoServer
				if s, err = startEchoServer("python-asyncio-echo", exec.Command(cfg.Python, path)); err == nil {
					servers = append(servers, s)
				}
			}
		}
		if err != nil {
			notes = append(notes, "CPython echo: "+err.Error())
		}
	}
	if gcc, err := exec.LookPath("gcc"); err != nil {
		notes = append(notes, "echo: no gcc, so no C epoll server row")
	} else {
		src, bin := filepath.Join(tmp, "echo_epoll.c"), filepath.Join(tmp, "echo_epoll")
		err := os.WriteFile(src, echoC, 0o644)
		if err == nil {
			var out []byte
			if out, err = exec.Command(gcc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
				err = fmt.Errorf("gcc: %v: %s", err, out)
			}
		}
		if err == nil {
			var s *echoServer
			if s, err = startEchoServer("echo-c-epoll", exec.Command(bin)); err == nil {
				servers = append(servers, s)
			}
		}
		if err != nil {
			notes = append(notes, "C echo server: "+err.Error())
		}
	}
	return servers, notes, cleanup, nil
}

// echoRows runs the echo benchmark: for one and for 16 requests in flight
// per connection, rounds alternate between the servers; each row is the
// median requests per second, with the server's CPU time per request.
func echoRows(cfg Config, rep *Report, conns, reqs, rounds int) error {
	servers, notes, cleanup, err := startEchoServers(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	rep.Notes = append(rep.Notes, notes...)
	about := map[string]string{
		"echo-aio":                "aio StartServer line echo, on the loop's epoll poller (the default on Linux)",
		"echo-aio-no-poller":      "aio StartServer line echo, WithoutPoller: a reader goroutine per connection (Go's netpoller) hands data to the loop",
		"echo-goroutine-per-conn": "plain Go net server, a goroutine per connection, no loop (reference)",
		"python-asyncio-echo":     "CPython asyncio.start_server line echo",
		"echo-c-epoll":            "C, one thread, level-triggered epoll, read and write back (the floor: only the system calls)",
	}
	aioIdx := -1
	for i, s := range servers {
		if s.name == "echo-aio" {
			aioIdx = i
		}
	}
	for _, depth := range []int{1, 16} {
		rates := make([][]float64, len(servers))
		cpus := make([][]float64, len(servers))
		for range rounds {
			for i, s := range servers {
				c0 := s.cpu()
				r, err := echoClientProc(s.addr, conns, reqs, depth)
				if err != nil {
					return fmt.Errorf("%s: %v", s.name, err)
				}
				rates[i] = append(rates[i], r)
				cpus[i] = append(cpus[i], float64((s.cpu()-c0).Microseconds())/float64(conns*reqs))
			}
		}
		suffix, how := "", "one request in flight per connection"
		if depth > 1 {
			suffix, how = "-pipelined", fmt.Sprintf("%d requests in flight per connection", depth)
		}
		for i, s := range servers {
			rps := median(rates[i])
			extra := map[string]float64{"req_per_s": rps, "conns": float64(conns), "depth": float64(depth)}
			if c := median(cpus[i]); c > 0 {
				extra["server_cpu_us_per_req"] = c
			}
			rep.Rows = append(rep.Rows, Row{Name: s.name + suffix, NsPerTask: 1e9 / rps, AllocsPerTask: -1, Extra: extra,
				Note: about[s.name] + "; " + how})
		}
		// Each ratio is the median of the per-round ratios: a round runs
		// the servers back to back, so both sides of a ratio see the same
		// machine (this shared machine's speed drifts by 2-3x over seconds).
		for i, s := range servers {
			if i == aioIdx {
				continue
			}
			per := make([]float64, rounds)
			for k := range per {
				per[k] = rates[aioIdx][k] / rates[i][k]
			}
			rep.Ratios[s.name+suffix] = median(per)
		}
	}
	rep.Notes = append(rep.Notes,
		"echo: every server is a process of its own on the same 2 cores as the load generator, a separate process (one thread, epoll) identical for every server; rows are medians of rounds alternating between the servers, and each ratio is the median of the per-round ratios (both sides measured back to back, as the machine's speed drifts); server_cpu_us_per_req is the server process's CPU time per request (from /proc, 10 ms ticks)",
		"echo, one request in flight: each request costs any server an epoll_wait share, a read and a write system call on loopback TCP; the C row shows what those alone allow here")
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The echo benchmark's load generator runs in a process of its own (this
// binary re-executed with echoClientEnv set), the same for every server, so
// that its cost is not charged to a server that shares the process with it.
// On Linux it is one thread driving every connection through epoll with raw
// system calls: about one write, one read and a share of an epoll_wait per
// request, as lean as a client can be, so the servers' cost is what differs.

const echoClientEnv = "TRIDENT_BENCH_ECHO_CLIENT"

// aioClientMain serves as the echo load generator when the process was
// started as one (called first thing from main); otherwise it returns.
func aioClientMain() {
	spec := os.Getenv(echoClientEnv)
	if spec == "" {
		return
	}
	rate, err := runEchoClientSpec(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo client:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"req_per_s": rate})
	os.Exit(0)
}

func runEchoClientSpec(spec string) (float64, error) {
	f := strings.Split(spec, ",")
	if len(f) != 4 {
		return 0, fmt.Errorf("bad spec %q (want addr,conns,reqs,depth)", spec)
	}
	var n [3]int
	for i := range n {
		v, err := strconv.Atoi(f[i+1])
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("bad spec %q: field %d", spec, i+2)
		}
		n[i] = v
	}
	return leanEchoClient(f[0], n[0], n[1], n[2])
}

// echoClientProc runs the load generator in a child process and returns
// the requests per second it measured.
func echoClientProc(addr string, conns, reqs, depth int) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("%s=%s,%d,%d,%d", echoClientEnv, addr, conns, reqs, depth),
		"GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("echo client process: %v", err)
	}
	var res struct {
		Rate float64 `json:"req_per_s"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Rate <= 0 {
		return 0, fmt.Errorf("echo client process printed %q: %v", out, err)
	}
	return res.Rate, nil
}

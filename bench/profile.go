package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// envCPUProfile names a directory: when set, the bench process and every
// worker or server process it re-executes write a CPU profile there,
// named ROLE-PID.prof, to see where a suite's CPU goes.
const envCPUProfile = "TRIDENT_BENCH_CPUPROFILE"

// startProfile starts this process's CPU profile when envCPUProfile is
// set and returns the function that stops and writes it.
func startProfile(role string) func() {
	dir := os.Getenv(envCPUProfile)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", role, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

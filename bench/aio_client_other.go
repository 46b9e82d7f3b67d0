//go:build !linux

package main

// leanEchoClient falls back to a goroutine per connection off Linux.
func leanEchoClient(addr string, conns, reqs, depth int) (float64, error) {
	return echoClients(addr, conns, reqs, depth)
}

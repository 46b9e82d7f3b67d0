// Package poll is the aio loop's readiness poller: an epoll instance and an
// eventfd that ends a wait from another goroutine (Linux only; elsewhere the
// package is empty and aio's streams read on goroutines).
//
// It knows nothing of streams or servers: a descriptor is registered with a
// token, and Wait returns the tokens that are ready. aio keeps the table
// from tokens to its readers and listeners.
package poll

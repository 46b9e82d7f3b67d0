//go:build !linux

package aio

import (
	"errors"
	"time"
)

// poller is the loop's own epoll instance on Linux; elsewhere streams read
// on goroutines (Go's netpoller) and this type is never created.
type poller struct {
	regs []pollable
}

// pollEvent is an event of wait (never any here).
type pollEvent struct {
	Events uint32
	Fd     int32
}

func newPoller() (*poller, error) { return nil, errors.New("aio: no poller on this system") }

func (p *poller) add(pollable, int, uint32) (int32, error) { return 0, errors.ErrUnsupported }
func (p *poller) setReading(int, int32, bool) error        { return errors.ErrUnsupported }
func (p *poller) remove(int, int32)                        {}
func (p *poller) Arm()                                     {}
func (p *poller) wait(time.Duration) []pollEvent           { return nil }
func (p *poller) dispatch([]pollEvent)                     {}
func (p *poller) Wakeup()                                  {}
func (p *poller) Close()                                   {}

const pollSupported = false

// acceptBatch is the poller's bound on connections accepted per event
// (unused without a poller; the tests refer to it).
const acceptBatch = 64

// Without a poller no stream is owned by the loop: these are never reached
// with an owned stream.
func (s *stream) takeOver()              {}
func (s *stream) closeFD() error         { return nil }
func (s *stream) interest()              {}
func (s *stream) shutdownWrite() error   { return errors.ErrUnsupported }
func (w *StreamWriter) kickOwned()       {}
func (r *StreamReader) pollReady(uint32) {}
func (s *Server) startPolling() bool     { return false }
func (s *Server) stopPolling()           {}
func (s *Server) pollReady(uint32)       {}

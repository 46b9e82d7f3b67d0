//go:build linux

package aio

import (
	"syscall"
	"time"

	"github.com/trident-go/trident/aio/internal/poll"
)

// poller is the loop's epoll instance (package poll) with the table from
// its tokens (slots) to the readers and listeners it reports to. See
// DESIGN.md for how the loop waits in it.
type poller struct {
	*poll.Poller
	regs []pollable // by slot; nil: free
	free []int32
}

func newPoller() (*poller, error) {
	pp, err := poll.New()
	if err != nil {
		return nil, err
	}
	return &poller{Poller: pp}, nil
}

// add registers fd for events on behalf of r and returns its slot; an
// error is epoll_ctl's errno.
func (p *poller) add(r pollable, fd int, events uint32) (int32, error) {
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.regs[slot] = r
	} else {
		slot = int32(len(p.regs))
		p.regs = append(p.regs, r)
	}
	if err := p.ctl(syscall.EPOLL_CTL_ADD, fd, slot, events); err != nil {
		p.regs[slot] = nil
		p.free = append(p.free, slot)
		return 0, err // the callers name the call
	}
	return slot, nil
}

// modify changes the events registered for fd.
func (p *poller) modify(fd int, slot int32, events uint32) error {
	return p.ctl(syscall.EPOLL_CTL_MOD, fd, slot, events)
}

// setReading turns a listener's read interest on or off (pausing a server
// that ran out of descriptors).
func (p *poller) setReading(fd int, slot int32, on bool) error {
	var events uint32
	if on {
		events = poll.In
	}
	return p.modify(fd, slot, events)
}

// ctl is epoll_ctl's add or modify (tests can make it fail).
func (p *poller) ctl(op, fd int, slot int32, events uint32) error {
	if testHookCtl != nil {
		if err := testHookCtl(op); err != nil {
			return err
		}
	}
	if op == syscall.EPOLL_CTL_ADD {
		return p.Add(fd, slot, events)
	}
	return p.Modify(fd, slot, events)
}

// testHookCtl, set by tests only, can fail epoll_ctl calls.
var testHookCtl func(op int) error

// remove forgets slot; fd is taken out of the epoll set unless it is
// already closed (closing a file removes it by itself).
func (p *poller) remove(fd int, slot int32) {
	if fd >= 0 {
		p.Remove(fd)
	}
	if int(slot) < len(p.regs) && p.regs[slot] != nil {
		p.regs[slot] = nil
		p.free = append(p.free, slot)
	}
}

// pollEvent is what wait returns: the slot in Fd, the events in Events.
type pollEvent = syscall.EpollEvent

// wait waits up to timeout (< 0: no limit) for events; the slice is valid
// until the next wait.
func (p *poller) wait(timeout time.Duration) []pollEvent { return p.Wait(timeout) }

// dispatch hands each event to the reader or listener registered for it.
func (p *poller) dispatch(evs []pollEvent) {
	for i := range evs {
		ev := &evs[i]
		if int(ev.Fd) < len(p.regs) {
			if r := p.regs[ev.Fd]; r != nil {
				r.pollReady(ev.Events)
			}
		}
	}
}

// pollSupported reports whether streams can use the loop's poller here.
const pollSupported = true

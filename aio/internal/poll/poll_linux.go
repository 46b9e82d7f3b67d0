//go:build linux

package poll

import (
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Event flags, as epoll_ctl takes them and Wait reports them.
const (
	In    = syscall.EPOLLIN
	Out   = syscall.EPOLLOUT
	RdHup = syscall.EPOLLRDHUP
	Hup   = syscall.EPOLLHUP
	Err   = syscall.EPOLLERR
)

// Poller is an epoll instance with an eventfd for wake-ups. Add, Modify,
// Remove, Arm, Wait and Close are for the goroutine that waits; Wakeup may
// be called from any goroutine while Close has not been called.
type Poller struct {
	epfd   int
	evfd   int
	events []syscall.EpollEvent
	// sleeping: the owner is in, or about to enter, a Wait with a timeout,
	// so Wakeup must write the eventfd to end it.
	sleeping atomic.Bool
	// woken: the eventfd has been written and not yet drained.
	woken atomic.Bool
}

// wakeToken is the event data of the eventfd; Add's tokens are >= 0.
const wakeToken = -1

// New creates the epoll instance and its eventfd.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	p := &Poller{epfd: epfd, evfd: int(evfd), events: make([]syscall.EpollEvent, 256)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeToken}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.evfd, &ev); err != nil {
		p.Close()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return p, nil
}

// Add registers fd for events, reported by Wait with token (>= 0). The
// error is epoll_ctl's errno; the caller names the call.
func (p *Poller) Add(fd int, token int32, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: token}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// Modify changes the events registered for fd.
func (p *Poller) Modify(fd int, token int32, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: token}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
}

// Remove takes fd out of the epoll set. A closed descriptor has left it by
// itself; the error of removing one is ignored.
func (p *Poller) Remove(fd int) {
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// Arm announces a Wait with a timeout: from now on Wakeup writes the
// eventfd. The caller must look for work posted by other goroutines after
// Arm and, if there is any, Wait with a zero timeout.
func (p *Poller) Arm() { p.sleeping.Store(true) }

// Wait waits up to timeout (< 0: no limit; 0: does not block) and returns
// the events of registered descriptors, each with its token in Fd. A
// wake-up ends the wait and is consumed here; it is not among the events.
// The slice is valid until the next Wait. Wait disarms.
func (p *Poller) Wait(timeout time.Duration) []syscall.EpollEvent {
	n := p.wait(timeout)
	p.sleeping.Store(false)
	evs := p.events[:n]
	for i := 0; i < len(evs); i++ {
		if evs[i].Fd == wakeToken {
			p.drainWakeup()
			evs[i] = evs[len(evs)-1]
			evs = evs[:len(evs)-1]
			i--
		}
	}
	return evs
}

func (p *Poller) wait(timeout time.Duration) int {
	ms := epollMillis(timeout)
	for {
		n, err := syscall.EpollWait(p.epfd, p.events, ms)
		if err == syscall.EINTR {
			if ms != 0 {
				return 0 // let the owner recompute the timeout
			}
			continue
		}
		if err != nil {
			return 0
		}
		return n
	}
}

// epollMillis converts a wait's timeout (< 0: no limit) to epoll_wait's
// milliseconds, rounded up so that the timer is due when the wait ends.
// The kernel takes a C int: a timer more than 24.8 days away waits the
// longest it can (and the owner then computes the rest) instead of
// wrapping around to a negative, endless wait.
func epollMillis(timeout time.Duration) int {
	const maxMillis = math.MaxInt32
	if timeout < 0 {
		return -1
	}
	if timeout >= maxMillis*time.Millisecond {
		return maxMillis
	}
	return int((timeout + time.Millisecond - 1) / time.Millisecond)
}

// Wakeup ends the owner's current or next armed Wait (Python's self-pipe
// write in call_soon_threadsafe). The caller must keep Close from running
// meanwhile (aio holds the loop's mutex).
func (p *Poller) Wakeup() {
	if !p.sleeping.Load() || !p.woken.CompareAndSwap(false, true) {
		return
	}
	one := [8]byte{1}
	syscall.Write(p.evfd, one[:])
}

// drainWakeup consumes the eventfd's count. It reads before it clears
// woken: a Wakeup that lands in between finds woken still set and does not
// write, and the owner sees its work anyway (the poster made it visible
// before it tried, and the owner looks after Wait). Clearing first would
// let that Wakeup write and this read swallow it, leaving woken set with
// the eventfd empty, so that every later Wakeup were skipped.
func (p *Poller) drainWakeup() {
	var b [8]byte
	syscall.Read(p.evfd, b[:])
	if testHookDrain != nil {
		testHookDrain(p)
	}
	p.woken.Store(false)
}

// testHookDrain, set by tests only, runs in the middle of drainWakeup, where
// a Wakeup from another goroutine may land.
var testHookDrain func(*Poller)

// Close closes the eventfd and the epoll instance.
func (p *Poller) Close() {
	syscall.Close(p.evfd)
	syscall.Close(p.epfd)
}

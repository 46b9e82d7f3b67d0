//go:build unix

package aio

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// rawConn returns the connection's syscall.RawConn when the loop may read
// and write its socket directly: only for the net package's own TCP and
// Unix connections. A wrapper type (one that embeds *net.TCPConn, say) has
// SyscallConn too, but its Read and Write may do more than the socket's
// (hold peeked bytes, transform data), so it is read and written through
// its methods.
type rawConnT = syscall.RawConn

func rawConn(c net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// tryWrite makes one non-blocking write attempt from the loop, as asyncio's
// transports do before they buffer: the socket is already in non-blocking
// mode (Go's netpoller). It reports how much was written; ok is false when
// the fast path is not available or failed, and the caller falls back to a
// goroutine (which also reports real errors).
func tryWrite(rc syscall.RawConn, p []byte) (n int, ok bool) {
	if rc == nil {
		return 0, false
	}
	var err error
	if cerr := rc.Write(func(fd uintptr) bool {
		n, err = rawWrite(int(fd), p)
		return true // never wait here
	}); cerr != nil {
		return 0, false
	}
	if err != nil {
		return 0, err == syscall.EAGAIN
	}
	return n, true
}

// rawWrite and rawRead are write(2) and read(2) on a non-blocking socket
// from the loop's thread. They cannot block, so they skip the runtime's
// system-call bookkeeping (entersyscall/exitsyscall) that syscall.Write
// and syscall.Read pay for calls that might.
func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

func rawRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// acceptPausable reports whether an accept error is a shortage (of
// descriptors, buffers or memory) that passes: the server pauses and tries
// again rather than stopping.
func acceptPausable(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

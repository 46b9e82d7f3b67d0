//go:build linux

package aio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

// Tests of servers that must behave the same with the poller accepting and
// with an accepting goroutine (WithoutPoller).

// TestServerSurvivesEMFILE: when the process runs out of descriptors, the
// server pauses accepting and resumes once descriptors are free again, in
// both modes (asyncio pauses for a second); it does not stop for good.
func TestServerSurvivesEMFILE(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip("no RLIMIT_NOFILE:", err)
	}
	for _, spare := range []int{0, 1} {
		for _, m := range pollModes() {
			t.Run(fmt.Sprintf("%s/spare=%d", m.name, spare), func(t *testing.T) {
				serveUnderEMFILE(t, m.opts, lim, spare)
			})
		}
	}
}

// serveUnderEMFILE connects to an echo server while the process has only
// spare free descriptors, then frees them and checks that the server
// answers.
func serveUnderEMFILE(t *testing.T, mopts []Option, lim syscall.Rlimit, spare int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := append([]Option{WithLogger(quiet)}, mopts...)
	var echoed string
	var err error
	hangGuard(t, 30*time.Second, func() {
		_, err = Run(context.Background(), func(tt *T) (int, error) {
			srv, err := StartServer(tt, "127.0.0.1:0", echoLines)
			if err != nil {
				return 0, err
			}
			defer srv.Close()
			port := srv.Addr().(*net.TCPAddr).Port
			echoed, err = ToThread(tt, func(ctx context.Context) (string, error) {
				return emfileClient(port, lim, spare)
			})
			return 0, err
		}, opts...)
	})
	if err != nil {
		t.Fatal(err)
	}
	if echoed != "ping\n" {
		t.Fatalf("echo %q, want ping", echoed)
	}
}

// emfileClient connects to port while no more than spare descriptors can
// be allocated (the soft limit lowered to the lowest free one plus spare),
// so the server's accept (spare 0) or what it does with the accepted
// socket (spare 1) fails with EMFILE; it then restores the limit and
// checks that the server answers. It uses raw system calls, as Go's net
// package needs descriptors.
func emfileClient(port int, lim syscall.Rlimit, spare int) (string, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 20}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	probe, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	syscall.Close(probe)
	low := lim
	low.Cur = uint64(probe + spare)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		return "", err
	}
	err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		time.Sleep(300 * time.Millisecond) // the server tries to accept now, and cannot
	}
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); rerr != nil {
		panic(rerr) // the rest of the test binary needs its descriptors
	}
	if err != nil {
		return "", err
	}
	if _, err := syscall.Write(fd, []byte("ping\n")); err != nil {
		return "", err
	}
	var got []byte
	buf := make([]byte, 16)
	for !bytes.HasSuffix(got, []byte("\n")) {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			return string(got), fmt.Errorf("reading the echo: %w", err)
		}
		if n == 0 {
			return string(got), errors.New("the server closed the connection")
		}
		got = append(got, buf[:n]...)
	}
	return string(got), nil
}

// acceptedAddrs starts a server on network address addr, connects to it
// with a plain net.Conn and returns what the handler's Conn reports as its
// local and remote addresses, and what the client sees.
func acceptedAddrs(t *testing.T, addr string, opts []Option) (local, remote, clientLocal, clientRemote net.Addr) {
	t.Helper()
	runMain(t, opts, func(tt *T) (int, error) {
		got := make(chan [2]net.Addr, 1)
		srv, err := StartServer(tt, addr, func(tt *T, r *StreamReader, w *StreamWriter) error {
			got <- [2]net.Addr{w.Conn().LocalAddr(), w.Conn().RemoteAddr()}
			_, err := r.Read(tt, -1)
			return err
		})
		if err != nil {
			return 0, err
		}
		defer srv.Close()
		c, err := dialTCP(tt, srv.Addr().String())
		if err != nil {
			return 0, err
		}
		clientLocal, clientRemote = c.LocalAddr(), c.RemoteAddr()
		for len(got) == 0 {
			if err := Sleep(tt, time.Millisecond); err != nil {
				return 0, err
			}
		}
		a := <-got
		local, remote = a[0], a[1]
		c.Close()
		return 0, nil
	})
	return
}

// TestAcceptedAddressesSameInBothModes: the addresses of a connection the
// poller accepted are the ones Go's Accept reports: an IPv4 peer has a
// 4-byte IP (AddrPort().Addr().Is4()), as net's own sockaddr conversion
// gives; the poller gave 16-byte IPv4-mapped addresses, so Is4 was false
// and AddrPort printed ::ffff:127.0.0.1. IPv6 works too.
func TestAcceptedAddressesSameInBothModes(t *testing.T) {
	nets := []string{"127.0.0.1:0"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		nets = append(nets, "[::1]:0")
	}
	for _, addr := range nets {
		for _, m := range pollModes() {
			t.Run(addr+"/"+m.name, func(t *testing.T) {
				local, remote, cl, cr := acceptedAddrs(t, addr, m.opts)
				lt, ok1 := local.(*net.TCPAddr)
				rt, ok2 := remote.(*net.TCPAddr)
				if !ok1 || !ok2 {
					t.Fatalf("addresses %T %T, want *net.TCPAddr", local, remote)
				}
				if lt.String() != cr.String() || rt.String() != cl.String() {
					t.Errorf("server sees %v <- %v, client %v -> %v", lt, rt, cl, cr)
				}
				clt := cl.(*net.TCPAddr)
				if lt.AddrPort() != cr.(*net.TCPAddr).AddrPort() || rt.AddrPort() != clt.AddrPort() {
					t.Errorf("server AddrPorts %v <- %v, client %v -> %v", lt.AddrPort(), rt.AddrPort(), clt.AddrPort(), cr.(*net.TCPAddr).AddrPort())
				}
				if len(lt.IP) != len(clt.IP) || len(rt.IP) != len(clt.IP) {
					t.Errorf("IP lengths local %d remote %d, Go's own conns have %d", len(lt.IP), len(rt.IP), len(clt.IP))
				}
			})
		}
	}
}

// TestHandlerErrorStillSendsWhatItWrote: a handler that writes a reply and
// returns an error without flushing still gets its reply out before the
// server closes the connection (asyncio's close() sends buffered data), in
// both modes.
func TestHandlerErrorStillSendsWhatItWrote(t *testing.T) {
	eachPollMode(t, func(t *testing.T, m pollMode) {
		var got []byte
		runServed(t, m.opts, func(tt *T, r *StreamReader, w *StreamWriter) error {
			w.WriteString("ERR bad request\n")
			return errors.New("bad request")
		}, func(tt *T, r *StreamReader, w *StreamWriter) (int, error) {
			var err error
			got, err = r.Read(tt, -1)
			return 0, err
		})
		if string(got) != "ERR bad request\n" {
			t.Fatalf("client read %q", got)
		}
	})
}

package aio_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

func TestEchoServerManyClients(t *testing.T) {
	const clients, lines = 20, 50
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		srv, err := aio.StartServer(t, "127.0.0.1:0", aio.EchoLines)
		if err != nil {
			return 0, err
		}
		addr := srv.Addr().String()
		err = aio.TaskGroup(t, func(g *aio.Group) error {
			for c := 0; c < clients; c++ {
				g.Go(func(t *aio.T) error {
					r, w, err := aio.OpenConnection(t, addr)
					if err != nil {
						return err
					}
					defer w.Close(t)
					for i := 0; i < lines; i++ {
						msg := fmt.Sprintf("client %d line %d\n", c, i)
						if err := w.WriteString(msg); err != nil {
							return err
						}
						got, err := r.ReadLine(t)
						if err != nil {
							return err
						}
						if string(got) != msg {
							return fmt.Errorf("echo %q, want %q", got, msg)
						}
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		srv.Close()
		return 0, srv.Wait(t)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStreamFromPlainGoroutineClient(t *testing.T) {
	addrCh := make(chan string, 1)
	clientErr := make(chan error, 1)
	go func() {
		addr := <-addrCh
		c, err := net.Dial("tcp", addr)
		if err != nil {
			clientErr <- err
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "HEAD|abcdef12345")
		c.(*net.TCPConn).CloseWrite()
		reply, err := io.ReadAll(c)
		if err == nil && string(reply) != "HEAD|abcdef|12345" {
			err = fmt.Errorf("reply %q", reply)
		}
		clientErr <- err
	}()
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		done := &aio.Event{}
		var herr error
		srv, err := aio.StartServer(t, "127.0.0.1:0", func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) error {
			defer done.Set()
			head, err := r.ReadUntil(t, []byte("|"))
			if err != nil {
				herr = err
				return err
			}
			six, err := r.ReadN(t, 6)
			if err != nil {
				herr = err
				return err
			}
			rest, err := r.Read(t, 100)
			if err != nil {
				herr = err
				return err
			}
			if _, err := r.Read(t, 100); err != io.EOF {
				herr = fmt.Errorf("after the end: %v", err)
			}
			if _, err := r.ReadN(t, 1); err != io.EOF {
				herr = fmt.Errorf("ReadN at the end: %v", err)
			}
			w.Write(head)
			w.Write(six)
			w.WriteString("|")
			w.Write(rest)
			return w.Close(t)
		})
		if err != nil {
			return 0, err
		}
		addrCh <- srv.Addr().String()
		if err := done.Wait(t); err != nil {
			return 0, err
		}
		srv.Close()
		if err := srv.Wait(t); err != nil {
			return 0, err
		}
		return 0, herr
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-clientErr; err != nil {
		t.Fatal(err)
	}
}

func TestStreamLimitAndPartialReads(t *testing.T) {
	addr := aio.TCPPeer(t, func(c net.Conn) {
		bw := bufio.NewWriter(c)
		bw.WriteString(strings.Repeat("x", 100) + "\nlast line without newline")
		bw.Flush()
	})
	aio.RunOpen(t, nil, addr, func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) (int, error) {
		r.Limit = 10
		// ReadUntil leaves the over-long line buffered (ReadLine would
		// drop it, see stream_limit_test.go).
		if _, err := r.ReadUntil(t, []byte("\n")); !errors.Is(err, aio.ErrLimitOverrun) {
			return 0, fmt.Errorf("limit: %v", err)
		}
		r.Limit = 0
		line, err := r.ReadLine(t)
		if err != nil || len(line) != 101 {
			return 0, fmt.Errorf("long line: %d %v", len(line), err)
		}
		if b, err := r.Read(t, 0); err != nil || len(b) != 0 {
			return 0, fmt.Errorf("Read(0): %q %v", b, err)
		}
		if _, err := r.ReadN(t, -1); err == nil {
			return 0, errors.New("ReadN(-1) accepted")
		}
		last, err := r.Read(t, -1)
		if err != nil || string(last) != "last line without newline" {
			return 0, fmt.Errorf("Read(-1): %q %v", last, err)
		}
		if _, err := r.ReadLine(t); err != io.EOF {
			return 0, fmt.Errorf("at EOF: %v", err)
		}
		if !r.AtEOF() {
			return 0, errors.New("AtEOF false")
		}
		return 0, nil
	})
}

func TestStreamReadCancelledAndLoopEndClosesConnections(t *testing.T) {
	addr, accepted := aio.AcceptOne(t)
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		r, _, err := aio.OpenConnection(t, addr)
		if err != nil {
			return 0, err
		}
		// Nothing ever arrives: the read is cancelled by the timeout.
		err = aio.Timeout(t, 20*time.Millisecond, func() error {
			_, err := r.ReadLine(t)
			return err
		})
		if !errors.Is(err, aio.ErrTimeout) {
			return 0, fmt.Errorf("timeout: %v", err)
		}
		// Leave the connection open: Run must close it so its reader goroutine ends.
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer of a connection left open by the loop: %v", err)
	}
	c.Close()
}

func TestStreamReadAheadPausesAndResumes(t *testing.T) {
	const total = 1 << 20
	addr := aio.TCPPeer(t, func(c net.Conn) {
		chunk := make([]byte, 4096)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		for sent := 0; sent < total; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	aio.RunOpen(t, nil, addr, func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) (int, error) {
		r.Limit = 1000 // pause the read-ahead at 2000 unread bytes
		got := 0
		for got < total {
			b, err := r.ReadN(t, 1000)
			for i, x := range b {
				if x != byte((got+i)%4096) {
					return 0, fmt.Errorf("byte %d is %d", got+i, x)
				}
			}
			got += len(b)
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				break
			}
			if err != nil {
				return 0, err
			}
			if got%50000 < 1000 {
				if err := aio.Sleep(t, time.Millisecond); err != nil {
					return 0, err
				}
			}
		}
		if got != total {
			return 0, fmt.Errorf("read %d bytes, want %d", got, total)
		}
		return 0, nil
	})
}

func TestStreamWriterLargeAndCoalesced(t *testing.T) {
	const total = 2 << 20
	got := make(chan int64, 1)
	addr := aio.TCPPeer(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		got <- n
	})
	aio.RunOpen(t, nil, addr, func(t *aio.T, _ *aio.StreamReader, w *aio.StreamWriter) (int, error) {
		chunk := make([]byte, 4096)
		for sent := 0; sent < total; sent += len(chunk) {
			if err := w.Write(chunk); err != nil {
				return 0, err
			}
			if err := w.Drain(t); err != nil {
				return 0, err
			}
		}
		return 0, w.Close(t)
	})
	if n := <-got; n != total {
		t.Fatalf("peer received %d bytes, want %d", n, total)
	}
}

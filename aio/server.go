package aio

import (
	"net"
	"time"
)

// Server is a TCP server whose connections are handled by coroutines
// (Python's asyncio.Server). Loop only.
type Server struct {
	l       *Loop
	ln      net.Listener
	handler func(*T, *StreamReader, *StreamWriter) error
	// The poller's side (Linux, real clock): the loop accepts.
	polled   bool
	raw      rawConnT
	pfd      int
	slot     int32
	closed   bool
	handlers int
	stopped  bool // the accept goroutine has ended
	idle     Event
}

// StartServer listens on addr and starts a task running handler for every
// connection (Python's asyncio.start_server). The connection is closed when
// the handler returns. Once main has returned and the loop is shutting down,
// connections are closed as they arrive, without a handler. Use Server.Close to stop accepting and Server.Wait to
// wait for the handlers.
func StartServer(t *T, addr string, handler func(t *T, r *StreamReader, w *StreamWriter) error) (*Server, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, ErrNilFunc
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := t.loop
	s := &Server{l: l, ln: ln, handler: handler, slot: -1}
	l.track(ln)
	if s.startPolling() {
		return s, nil
	}
	done := l.ctx.Done()
	l.spawnGoroutine(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if acceptPausable(err) {
					// Out of descriptors or memory: try again in a second,
					// as the poller does (and asyncio), instead of
					// stopping the server for good.
					l.cfg.logger.Error("aio: accept failed; pausing the server for 1s", "addr", ln.Addr(), "error", err)
					pause := time.NewTimer(time.Second)
					select {
					case <-pause.C:
						continue
					case <-done:
						pause.Stop()
					}
				}
				l.post(func() { s.stopped = true; s.check() })
				return
			}
			if !l.post(func() { s.serve(c, handler) }) {
				c.Close()
			}
		}
	})
	return s, nil
}

func (s *Server) serve(c net.Conn, handler func(*T, *StreamReader, *StreamWriter) error) {
	if s.refuse() {
		c.Close()
		return
	}
	r, w := newStream(s.l, c)
	s.serveStream(r, w, handler)
}

// refuse reports whether a new connection must be closed at once: the
// server is closed, or the loop is shutting down (main has returned), so
// that a handler started now would never be cancelled and Run would wait
// for it as long as the client stays connected.
func (s *Server) refuse() bool { return s.closed || s.l.closing }

// serveStream starts a handler task for an accepted connection.
func (s *Server) serveStream(r *StreamReader, w *StreamWriter, handler func(*T, *StreamReader, *StreamWriter) error) {
	s.handlers++
	task := newTask(s.l, func(t *T) (struct{}, error) {
		defer func() {
			if !w.closed {
				w.closed = true
				w.s.closeConn()
			}
		}()
		err := handler(t, r, w)
		if !w.closed {
			if err == nil {
				err = w.Flush(t)
			} else {
				// The handler failed (or was cancelled): still send what
				// it wrote (an error reply, say) as far as the kernel
				// takes it now, as asyncio's transport.close() sends
				// buffered data, but do not wait for the peer.
				w.kick()
			}
		}
		return struct{}{}, err
	})
	task.t.onDoneLocal(func() {
		s.handlers--
		s.check()
	})
}

func (s *Server) check() {
	if s.handlers == 0 && (s.stopped || s.closed) {
		s.idle.Set()
	}
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting connections (Python's Server.close); handlers
// already running go on.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopPolling()
	s.l.untrack(s.ln)
	err := s.ln.Close()
	s.check()
	return err
}

// Wait suspends until the server is closed and every handler has returned
// (Python's wait_closed; serve_forever is Wait without Close).
func (s *Server) Wait(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	return s.idle.Wait(t)
}

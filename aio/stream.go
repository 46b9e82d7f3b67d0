package aio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
)

// ErrLimitOverrun is returned by ReadLine and ReadUntil when no separator
// was found within the reader's limit (Python's LimitOverrunError).
var ErrLimitOverrun = errors.New("aio: separator not found within the stream limit")

// DefaultStreamLimit is the buffer limit of ReadLine and ReadUntil (Python's
// 64 KiB default).
const DefaultStreamLimit = 64 << 10

const readChunk = 32 << 10

// StreamReader reads from a connection without blocking the loop (Python's
// asyncio.StreamReader). The blocking reads happen on a goroutine (Go's
// netpoller underneath); the coroutine only awaits. Loop only.
type StreamReader struct {
	s       *stream
	buf     []byte
	off     int
	eof     bool
	err     error
	pending bool
	scratch []byte
	waiters waitQueue
	// Limit is the most ReadLine and ReadUntil buffer while looking for the
	// separator.
	Limit int
}

// StreamWriter writes to a connection without blocking the loop (Python's
// asyncio.StreamWriter): Write buffers and starts sending in the
// background, Drain waits until the buffer has been sent. Loop only.
type StreamWriter struct {
	s        *stream
	buf      []byte
	spare    []byte
	flushing bool
	err      error
	waiters  waitQueue
	closed   bool
}

type stream struct {
	l    *Loop
	conn net.Conn
	raw  rawConnT
	r    *StreamReader
	w    *StreamWriter
}

func newStream(l *Loop, c net.Conn) (*StreamReader, *StreamWriter) {
	s := &stream{l: l, conn: c, raw: rawConn(c)}
	s.r = &StreamReader{s: s, Limit: DefaultStreamLimit}
	s.w = &StreamWriter{s: s}
	l.track(c)
	return s.r, s.w
}

// track remembers a resource the loop closes when Run ends, so that no I/O
// goroutine outlives it.
func (l *Loop) track(c io.Closer) {
	if l.closers == nil {
		l.closers = map[io.Closer]struct{}{}
	}
	l.closers[c] = struct{}{}
}

func (l *Loop) untrack(c io.Closer) { delete(l.closers, c) }

func (l *Loop) closeTracked() {
	for c := range l.closers {
		c.Close()
	}
	l.closers = nil
}

// fill waits for one more chunk (or EOF/error) from the connection.
func (r *StreamReader) fill(t *T) error {
	l := r.s.l
	if !r.pending && !r.eof && r.err == nil {
		r.pending = true
		l.external++
		if r.scratch == nil {
			r.scratch = make([]byte, readChunk)
		}
		conn, scratch := r.s.conn, r.scratch
		l.spawnGoroutine(func() {
			n, err := conn.Read(scratch)
			l.post(func() {
				l.external--
				r.pending = false
				if n > 0 {
					if r.off == len(r.buf) {
						r.buf, r.off = r.buf[:0], 0
					}
					r.buf = append(r.buf, scratch[:n]...)
				}
				if err == io.EOF {
					r.eof = true
				} else if err != nil {
					r.err = err
				}
				for w := r.waiters.pop(); w != nil; w = r.waiters.pop() {
					w.wake()
				}
			})
		})
	}
	if !r.pending {
		return nil
	}
	_, err := t.waitIn(&r.waiters)
	return err
}

// buffered returns the unread bytes.
func (r *StreamReader) buffered() []byte { return r.buf[r.off:] }

func (r *StreamReader) take(n int) []byte {
	out := bytes.Clone(r.buf[r.off : r.off+n])
	r.off += n
	if r.off == len(r.buf) {
		r.buf, r.off = r.buf[:0], 0
	}
	return out
}

// end returns the error to report once the buffer is exhausted.
func (r *StreamReader) end() error {
	if r.err != nil {
		return r.err
	}
	return io.EOF
}

// Read returns up to n bytes, at least one unless the stream has ended, in
// which case it returns io.EOF (Python's read(n), which returns b"" at EOF).
func (r *StreamReader) Read(t *T, n int) ([]byte, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	for len(r.buffered()) == 0 {
		if r.eof || r.err != nil {
			return nil, r.end()
		}
		if err := r.fill(t); err != nil {
			return nil, err
		}
	}
	return r.take(min(n, len(r.buffered()))), nil
}

// ReadN returns exactly n bytes (Python's readexactly). If the stream ends
// first it returns what there was with io.ErrUnexpectedEOF (io.EOF if
// nothing).
func (r *StreamReader) ReadN(t *T, n int) ([]byte, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	for len(r.buffered()) < n {
		if r.eof || r.err != nil {
			if len(r.buffered()) == 0 {
				return nil, r.end()
			}
			if r.err != nil {
				return r.take(len(r.buffered())), r.err
			}
			return r.take(len(r.buffered())), io.ErrUnexpectedEOF
		}
		if err := r.fill(t); err != nil {
			return nil, err
		}
	}
	return r.take(n), nil
}

// ReadUntil returns the bytes up to and including sep (Python's
// readuntil). If the stream ends first it returns the partial data with
// io.ErrUnexpectedEOF (io.EOF if nothing); if Limit bytes arrive without sep
// it returns ErrLimitOverrun and leaves the data buffered.
func (r *StreamReader) ReadUntil(t *T, sep []byte) ([]byte, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	if len(sep) == 0 {
		return nil, errors.New("aio: ReadUntil with an empty separator")
	}
	searched := 0
	for {
		b := r.buffered()
		if i := bytes.Index(b[searched:], sep); i >= 0 {
			n := searched + i + len(sep)
			if r.Limit > 0 && n > r.Limit {
				return nil, ErrLimitOverrun
			}
			return r.take(n), nil
		}
		if limit := r.Limit; limit > 0 && len(b) > limit {
			return nil, ErrLimitOverrun
		}
		searched = max(0, len(b)-len(sep)+1)
		if r.eof || r.err != nil {
			if len(b) == 0 {
				return nil, r.end()
			}
			if r.err != nil {
				return r.take(len(b)), r.err
			}
			return r.take(len(b)), io.ErrUnexpectedEOF
		}
		if err := r.fill(t); err != nil {
			return nil, err
		}
	}
}

// ReadLine returns one line including its "\n" (Python's readline). At the
// end of the stream it returns the last partial line with a nil error, then
// io.EOF.
func (r *StreamReader) ReadLine(t *T) ([]byte, error) {
	line, err := r.ReadUntil(t, []byte{'\n'})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return line, nil
	}
	return line, err
}

// AtEOF reports whether the stream has ended and the buffer is empty.
func (r *StreamReader) AtEOF() bool { return r.eof && len(r.buffered()) == 0 }

// Write queues p for sending and starts sending in the background (Python's
// write). It does not wait; call Drain for that. It returns the error of an
// earlier failed send, if any.
func (w *StreamWriter) Write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return net.ErrClosed
	}
	if !w.flushing && len(w.buf) == 0 {
		// Fast path: the kernel usually takes it all at once.
		if n, ok := tryWrite(w.s.raw, p); ok {
			p = p[n:]
			if len(p) == 0 {
				return nil
			}
		}
	}
	w.buf = append(w.buf, p...)
	if !w.flushing {
		w.flush()
	}
	return nil
}

// WriteString is Write for a string.
func (w *StreamWriter) WriteString(s string) error { return w.Write([]byte(s)) }

func (w *StreamWriter) flush() {
	l := w.s.l
	data := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.flushing = true
	conn := w.s.conn
	l.spawnGoroutine(func() {
		_, err := conn.Write(data)
		l.post(func() {
			w.spare = data[:0]
			if err != nil && w.err == nil {
				w.err = err
			}
			if len(w.buf) > 0 && w.err == nil {
				w.flush()
				return
			}
			w.flushing = false
			for x := w.waiters.pop(); x != nil; x = w.waiters.pop() {
				x.wake()
			}
		})
	})
}

// Drain waits until everything written so far has been sent (Python's
// drain, which waits only above a high-water mark) and returns the send
// error if one happened.
func (w *StreamWriter) Drain(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	for w.flushing {
		l := w.s.l
		l.external++
		_, err := t.waitIn(&w.waiters)
		l.external--
		if err != nil {
			return err
		}
	}
	return w.err
}

// Close sends what is buffered, then closes the connection (Python's
// close() followed by await wait_closed()).
func (w *StreamWriter) Close(t *T) error {
	if w.closed {
		return nil
	}
	derr := w.Drain(t)
	if errors.Is(derr, ErrNotInCoroutine) {
		return derr
	}
	w.closed = true
	w.s.l.untrack(w.s.conn)
	cerr := w.s.conn.Close()
	if derr != nil {
		return derr
	}
	return cerr
}

// CloseWrite sends what is buffered and then shuts down the sending side of
// a TCP connection, so the peer reads EOF (Python's write_eof).
func (w *StreamWriter) CloseWrite(t *T) error {
	if err := w.Drain(t); err != nil {
		return err
	}
	if cw, ok := w.s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("aio: connection cannot close its write side")
}

// Conn returns the underlying connection (for addresses and options; do not
// read or write it directly).
func (w *StreamWriter) Conn() net.Conn { return w.s.conn }

// OpenConnection connects to addr over TCP and returns a reader and a writer
// (Python's asyncio.open_connection). The dial runs off the loop and ends
// if the task is cancelled.
func OpenConnection(t *T, addr string) (*StreamReader, *StreamWriter, error) {
	if err := t.enter(); err != nil {
		return nil, nil, err
	}
	c, err := ToThread(t, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, nil, err
	}
	r, w := newStream(t.loop, c)
	return r, w, nil
}

// Server is a TCP server whose connections are handled by coroutines
// (Python's asyncio.Server). Loop only.
type Server struct {
	l        *Loop
	ln       net.Listener
	closed   bool
	handlers int
	stopped  bool // the accept goroutine has ended
	idle     Event
}

// StartServer listens on addr and starts a task running handler for every
// connection (Python's asyncio.start_server). The connection is closed when
// the handler returns. Use Server.Close to stop accepting and Server.Wait to
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
	s := &Server{l: l, ln: ln}
	l.track(ln)
	l.spawnGoroutine(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
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
	if s.closed {
		c.Close()
		return
	}
	r, w := newStream(s.l, c)
	s.handlers++
	task := newTask(s.l, func(t *T) (struct{}, error) {
		defer func() {
			if !w.closed {
				w.closed = true
				s.l.untrack(c)
				c.Close()
			}
		}()
		err := handler(t, r, w)
		if err == nil && !w.closed {
			err = w.Drain(t)
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

// NewStream wraps an established connection (TCP, Unix, net.Pipe...) in a
// reader and a writer of t's loop. The loop closes the connection when Run
// ends if the writer has not closed it.
func NewStream(t *T, c net.Conn) (*StreamReader, *StreamWriter, error) {
	if err := t.onLoop(); err != nil {
		return nil, nil, err
	}
	if c == nil {
		return nil, nil, errors.New("aio: NewStream with a nil connection")
	}
	r, w := newStream(t.loop, c)
	return r, w, nil
}

package aio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// ErrOwnedByStream is returned by the I/O methods of the connection that
// StreamWriter.Conn returns for a socket the loop has taken over: the
// stream reads, writes and closes it.
var ErrOwnedByStream = errors.New("aio: the connection belongs to its stream; use the StreamReader and StreamWriter")

// ErrLimitOverrun matches the *LimitOverrunError of ReadLine and ReadUntil
// (errors.Is(err, ErrLimitOverrun)).
var ErrLimitOverrun = errors.New("aio: separator not found within the stream limit")

// LimitOverrunError is the error of ReadUntil and ReadLine when the data
// before the separator is longer than the reader's Limit (Python's
// asyncio.LimitOverrunError, with the same messages and consumed offset).
// It matches ErrLimitOverrun.
type LimitOverrunError struct {
	// Msg is Python's message: "Separator is found, but chunk is longer
	// than limit" or "Separator is not found, and chunk exceed the limit".
	Msg string
	// Consumed is the offset of the separator in the buffered data, or
	// how far the search got when it was not found (Python's consumed).
	Consumed int
}

func (e *LimitOverrunError) Error() string {
	return "aio: " + e.Msg + " (consumed " + strconv.Itoa(e.Consumed) + ")"
}

// Is makes errors.Is(err, ErrLimitOverrun) true.
func (e *LimitOverrunError) Is(target error) bool { return target == ErrLimitOverrun }

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
	started bool
	unread  atomic.Int64 // bytes read by the goroutine and not yet taken
	paused  atomic.Bool
	wanted  atomic.Bool // a coroutine waits for data
	resume  chan struct{}
	lim     int64
	waiters waitQueue // coroutines waiting for data after the first
	waitT   *T        // the first waiting coroutine (kept inline: no allocation)
	waitID  uint64
	// The reader goroutine's hand-over (guarded by inMu).
	inMu      sync.Mutex
	inbox     []byte
	inErr     error
	posted    bool // a deliver call is queued on the loop
	deliverFn func()
	// The poller's side (Linux, real clock): the loop reads the socket
	// itself when epoll says it is readable.
	polled     bool   // the loop reads the owned socket itself
	reading    bool   // polled and not ended: wants to read
	pollPaused bool   // read interest is off (above the high-water mark)
	pfd        int    // the socket's descriptor while registered
	slot       int32  // the stream's poller slot; -1 when not registered
	mask       uint32 // the events registered for the slot
	// Limit is the most ReadLine and ReadUntil buffer while looking for the
	// separator.
	Limit int
}

// StreamWriter writes to a connection without blocking the loop (Python's
// asyncio.StreamWriter). Write only buffers; right after the current step
// (when the coroutine next awaits) the buffer goes out in one non-blocking system call (so
// several Writes of one step share it), and a goroutine sends whatever the
// kernel did not take. Drain applies flow control, Flush waits for
// everything. Loop only.
type StreamWriter struct {
	s         *stream
	buf       []byte
	spare     []byte
	flushing  bool
	scheduled bool // in the loop's flush queue
	inflight  int  // bytes a goroutine is writing
	waitOut   bool // owned socket: waiting for it to become writable
	err       error
	waiters   waitQueue
	closed    bool
}

type stream struct {
	l    *Loop
	conn net.Conn
	raw  rawConnT
	// fd is the socket's descriptor when the loop owns it (Linux, real
	// clock; else -1): the poller watches it and the loop reads and writes
	// it with plain system calls; conn is then a stand-in for addresses
	// and options (see Conn).
	fd    int
	owned bool
	r     *StreamReader
	w     *StreamWriter
}

func newStream(l *Loop, c net.Conn) (*StreamReader, *StreamWriter) {
	s := &stream{l: l, conn: c, raw: rawConn(c), fd: -1}
	s.r = &StreamReader{s: s, Limit: DefaultStreamLimit, slot: -1}
	s.w = &StreamWriter{s: s}
	s.takeOver()
	l.track(s)
	return s.r, s.w
}

// Close closes the connection (at the end of Run).
func (s *stream) Close() error {
	if s.owned {
		return s.closeFD()
	}
	return s.conn.Close()
}

// closeConn closes the connection from the loop. A polled reader leaves
// the poller first and, if it has not ended, reads from now on fail as
// they do on a closed net.Conn.
func (s *stream) closeConn() error {
	s.l.untrack(s)
	if !s.owned {
		return s.conn.Close()
	}
	r := s.r
	if !r.eof && r.err == nil {
		r.err = r.closedErr()
	}
	err := s.closeFD()
	r.wakeAll()
	return err
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

// startReading starts the connection's reader goroutine. Like an asyncio
// transport it reads ahead as data arrives, handing each chunk to the loop,
// and pauses while more than twice the limit is buffered and unread.
func (r *StreamReader) startReading() {
	r.started = true
	l, conn := r.s.l, r.s.conn
	r.resume = make(chan struct{}, 1)
	r.deliverFn = r.deliver
	done := l.ctx.Done()
	l.spawnGoroutine(func() {
		buf := make([]byte, readChunk)
		for {
			for r.unread.Load() > r.highWater() && !r.wanted.Load() {
				r.paused.Store(true)
				if r.unread.Load() <= r.highWater() || r.wanted.Load() {
					r.paused.Store(false)
					break
				}
				select {
				case <-r.resume:
				case <-done:
					return
				}
			}
			n, err := conn.Read(buf)
			if n > 0 {
				r.unread.Add(int64(n))
			}
			// Hand the bytes over through the inbox; a delivery is posted
			// to the loop only when none is pending, so reads that arrive
			// while the loop is busy share one wake-up and nothing is
			// allocated per read.
			r.inMu.Lock()
			r.inbox = append(r.inbox, buf[:n]...)
			if err != nil {
				r.inErr = err
			}
			post := !r.posted
			r.posted = true
			r.inMu.Unlock()
			ok := true
			if post {
				ok = l.post(r.deliverFn)
			}
			if err != nil || !ok {
				return
			}
		}
	})
}

// deliver moves what the reader goroutine read into the buffer and wakes
// the waiting coroutines; it runs on the loop.
func (r *StreamReader) deliver() {
	r.inMu.Lock()
	if len(r.inbox) > 0 {
		if r.off == len(r.buf) {
			r.buf, r.off = r.buf[:0], 0
		}
		r.buf = append(r.buf, r.inbox...)
		r.inbox = r.inbox[:0]
	}
	err := r.inErr
	r.posted = false
	r.inMu.Unlock()
	if err == io.EOF {
		r.eof = true
	} else if err != nil {
		r.err = err
	}
	r.wakeAll()
}

// waitData parks t until data or the end of the stream arrives (or t is
// cancelled). The first waiter is kept inline, so the usual single reader
// waits without allocating; others queue.
func (r *StreamReader) waitData(t *T) error {
	if r.waitT != nil {
		_, err := t.waitIn(&r.waiters)
		return err
	}
	r.waitT, r.waitID = t, t.newPark()
	err := t.park()
	if r.waitT == t {
		r.waitT = nil
	}
	return err
}

// waiting reports whether a coroutine waits for data.
func (r *StreamReader) waiting() bool { return r.waitT != nil || r.waiters.any() }

// wakeAll makes every coroutine waiting for data ready.
func (r *StreamReader) wakeAll() {
	if t := r.waitT; t != nil {
		r.waitT = nil
		r.s.l.resume(t, r.waitID)
	}
	for w := r.waiters.pop(); w != nil; w = r.waiters.pop() {
		w.wake()
	}
}

func (r *StreamReader) highWater() int64 {
	if r.lim > 0 {
		return 2 * r.lim
	}
	return 2 * DefaultStreamLimit
}

// fill waits for more data (or the end of the stream).
func (r *StreamReader) fill(t *T) error {
	if !r.started {
		r.lim = int64(max(r.Limit, 0))
		if r.s.owned {
			r.started, r.polled, r.reading = true, true, true
			r.s.interest()
		} else {
			r.startReading()
		}
	}
	l := r.s.l
	if r.polled {
		if r.pollPaused {
			// A coroutine waiting for data always resumes a paused
			// reader (as asyncio's _wait_for_data does).
			r.pollPaused = false
			r.s.interest()
		}
		if !r.reading || r.eof || r.err != nil {
			// Ended meanwhile, or the poller refused the socket: never
			// park a coroutine on a socket nobody watches.
			if !r.eof && r.err == nil {
				r.err = r.closedErr()
			}
			return nil
		}
		return r.waitData(t)
	}
	// A coroutine waiting for data always resumes a paused reader (as
	// asyncio's _wait_for_data does).
	r.wanted.Store(true)
	r.wake()
	l.external++
	err := r.waitData(t)
	l.external--
	r.wanted.Store(false)
	return err
}

// opError wraps a read error the way net.Conn.Read reports it.
func (r *StreamReader) opError(err error) error { return r.s.opError("read", err) }

// opError wraps a send error the way net.Conn.Write reports it.
func (w *StreamWriter) opError(err error) error { return w.s.opError("write", err) }

// opError wraps err in a *net.OpError for op, as the net package does.
func (s *stream) opError(op string, err error) error {
	c := s.conn
	e := &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	if e.Source != nil {
		e.Net = e.Source.Network()
	}
	return e
}

// closedErr is what a read of a stream closed on this side returns.
func (r *StreamReader) closedErr() error { return r.opError(net.ErrClosed) }

// buffered returns the unread bytes.
func (r *StreamReader) buffered() []byte { return r.buf[r.off:] }

func (r *StreamReader) take(n int) []byte {
	out := bytes.Clone(r.buf[r.off : r.off+n])
	r.consume(n)
	return out
}

// consume drops the next n buffered bytes and resumes a paused read-ahead
// when the buffer has gone down enough.
func (r *StreamReader) consume(n int) {
	r.off += n
	if r.off == len(r.buf) {
		r.buf, r.off = r.buf[:0], 0
	}
	if r.polled {
		if r.pollPaused && len(r.buffered()) <= int(r.highWater()) {
			r.pollPaused = false
			r.s.interest()
		}
	} else if r.started && r.unread.Add(-int64(n)) <= r.highWater() {
		r.wake()
	}
}

// wake resumes the reader goroutine if it is paused.
func (r *StreamReader) wake() {
	if r.paused.CompareAndSwap(true, false) {
		select {
		case r.resume <- struct{}{}:
		default:
		}
	}
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
// With n < 0 it reads until the end of the stream, as Python's read(-1), and
// returns all of it with a nil error.
func (r *StreamReader) Read(t *T, n int) ([]byte, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	if n < 0 {
		for !r.eof && r.err == nil {
			if err := r.fill(t); err != nil {
				return nil, err
			}
		}
		out := r.take(len(r.buffered()))
		if r.err != nil {
			return out, r.err
		}
		return out, nil
	}
	if n == 0 {
		return []byte{}, nil
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
	if n < 0 {
		return nil, errors.New("aio: ReadN with a negative count")
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
// io.ErrUnexpectedEOF (io.EOF if nothing; Python raises
// IncompleteReadError). Limit, when above 0, bounds the data before the
// separator, the separator not counted, as in Python: with a Limit of 8 an
// 8-byte line and its "\n" are accepted. Over it ReadUntil returns a
// *LimitOverrunError (matching ErrLimitOverrun) and leaves the data
// buffered, so that it can be read with Read or ReadN.
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
		if len(b)-searched >= len(sep) {
			if i := bytes.Index(b[searched:], sep); i >= 0 {
				isep := searched + i
				if r.Limit > 0 && isep > r.Limit {
					return nil, &LimitOverrunError{Msg: "Separator is found, but chunk is longer than limit", Consumed: isep}
				}
				return r.take(isep + len(sep)), nil
			}
			// The last len(sep)-1 bytes may start the separator.
			searched = len(b) + 1 - len(sep)
			if r.Limit > 0 && searched > r.Limit {
				return nil, &LimitOverrunError{Msg: "Separator is not found, and chunk exceed the limit", Consumed: searched}
			}
		}
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
// io.EOF (Python returns b"" instead). A line longer than Limit (the "\n"
// not counted) makes it return a *LimitOverrunError (Python raises
// ValueError with the same message) after dropping the line, as Python
// does: through its "\n" when that has arrived, otherwise everything
// buffered, so that the rest of the long line, arriving later, is read as a
// line of its own. The next call reads on after what was dropped.
func (r *StreamReader) ReadLine(t *T) ([]byte, error) {
	line, err := r.ReadUntil(t, []byte{'\n'})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return line, nil
	}
	var le *LimitOverrunError
	if errors.As(err, &le) {
		b := r.buffered()
		if le.Consumed < len(b) && b[le.Consumed] == '\n' {
			r.consume(le.Consumed + 1)
		} else {
			r.consume(len(b))
		}
	}
	return line, err
}

// AtEOF reports whether the stream has ended and the buffer is empty.
func (r *StreamReader) AtEOF() bool { return r.eof && len(r.buffered()) == 0 }

// Write queues p for sending at the end of the current step (Python's
// write, which sends at once when it can). It does not wait; call Drain or
// Flush for that. It returns the error of an earlier failed send, if any.
func (w *StreamWriter) Write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return net.ErrClosed
	}
	w.buf = append(w.buf, p...)
	if !w.scheduled && !w.flushing {
		// The send happens right after the current step (the coroutine
		// parks or the callback returns), so that all Writes of one step
		// share one system call.
		w.scheduled = true
		l := w.s.l
		l.flushq = append(l.flushq, w)
	}
	return nil
}

// WriteString is Write for a string.
func (w *StreamWriter) WriteString(s string) error { return w.Write([]byte(s)) }

// pending is the number of bytes written and not yet sent.
func (w *StreamWriter) pending() int { return len(w.buf) + w.inflight }

// kick sends the buffer: first one non-blocking write from the loop (the
// kernel usually takes it all, and every Write of the current step goes out
// in that one system call), then a goroutine for whatever is left.
func (w *StreamWriter) kick() {
	w.scheduled = false
	if w.flushing || len(w.buf) == 0 || w.err != nil {
		return
	}
	if w.s.owned {
		w.kickOwned()
		return
	}
	if n, ok := tryWrite(w.s.raw, w.buf); ok {
		if n == len(w.buf) {
			w.buf = w.buf[:0]
			w.wakeWaiters()
			return
		}
		w.buf = w.buf[:copy(w.buf, w.buf[n:])]
	}
	l := w.s.l
	data := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.flushing = true
	w.inflight = len(data)
	conn := w.s.conn
	l.spawnGoroutine(func() {
		_, err := conn.Write(data)
		l.post(func() {
			w.spare = data[:0]
			w.inflight = 0
			w.flushing = false
			if err != nil && w.err == nil {
				w.err = err
			}
			if len(w.buf) > 0 && w.err == nil {
				w.kick()
			}
			w.wakeWaiters()
		})
	})
}

func (w *StreamWriter) wakeWaiters() {
	for x := w.waiters.pop(); x != nil; x = w.waiters.pop() {
		x.wake()
	}
}

// waitBelow waits until at most limit bytes are left to send.
func (w *StreamWriter) waitBelow(t *T, limit int) error {
	for w.pending() > limit && w.err == nil {
		if !w.flushing {
			w.kick()
			continue
		}
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

// Drain waits until at most HighWater bytes written are still unsent
// (Python's drain, flow control for a fast writer) and returns the send
// error if one happened. Data below the mark goes out at the end of the
// loop's current step without waiting; Flush waits for all of it.
func (w *StreamWriter) Drain(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	return w.waitBelow(t, HighWater)
}

// Flush waits until everything written so far has been sent.
func (w *StreamWriter) Flush(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	return w.waitBelow(t, 0)
}

// HighWater is the amount of unsent data above which Drain waits (Python's
// default write buffer high-water mark).
const HighWater = 64 << 10

// Close sends what is buffered, then closes the connection (Python's
// close() followed by await wait_closed()).
func (w *StreamWriter) Close(t *T) error {
	if w.closed {
		return nil
	}
	derr := w.Flush(t)
	if errors.Is(derr, ErrNotInCoroutine) {
		return derr
	}
	w.closed = true
	cerr := w.s.closeConn()
	if derr != nil {
		return derr
	}
	return cerr
}

// CloseWrite sends what is buffered and then shuts down the sending side of
// a TCP connection, so the peer reads EOF (Python's write_eof).
func (w *StreamWriter) CloseWrite(t *T) error {
	if err := w.Flush(t); err != nil {
		return err
	}
	if w.s.owned {
		return w.s.shutdownWrite()
	}
	if cw, ok := w.s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("aio: connection cannot close its write side")
}

// Conn returns the connection, for its addresses and socket options
// (Python's get_extra_info("socket")). Do not read, write or close it: the
// stream owns it. On Linux, on the real clock, the loop takes a TCP or Unix
// socket over (see the package doc) and Conn returns a stand-in, like
// asyncio's TransportSocket: LocalAddr, RemoteAddr and SyscallConn (for
// socket options, from the loop) work; Read, Write, Close and the deadline
// setters return ErrOwnedByStream. Elsewhere it returns the connection the
// stream was made from. To end a stream, call Close from the loop or cancel
// the task that uses it; for a read deadline use Timeout or WaitFor.
func (w *StreamWriter) Conn() net.Conn { return w.s.conn }

// OpenConnection connects to addr over TCP and returns a reader and a writer
// (Python's asyncio.open_connection). The dial runs off the loop and ends
// if the task is cancelled; a connection made just as the task was
// cancelled is closed.
func OpenConnection(t *T, addr string) (*StreamReader, *StreamWriter, error) {
	if err := t.enter(); err != nil {
		return nil, nil, err
	}
	// A dial that succeeds after the task stopped waiting (cancelled) has
	// nobody to hand its connection to (the cancelled future drops it):
	// whichever side comes second closes it.
	var mu sync.Mutex
	var made net.Conn
	abandoned := false
	c, err := ToThread(t, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if testHookDialed != nil {
			testHookDialed()
		}
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			c.Close()
			return nil, net.ErrClosed
		}
		made = c
		return c, nil
	})
	if err != nil {
		mu.Lock()
		abandoned = true
		lost := made
		mu.Unlock()
		if lost != nil {
			lost.Close()
		}
		return nil, nil, err
	}
	r, w := newStream(t.loop, c)
	return r, w, nil
}

// testHookDialed, set by tests only, runs in OpenConnection's dialing
// goroutine after a successful dial.
var testHookDialed func()

// NewStream wraps an established connection (TCP, Unix, net.Pipe...) in a
// reader and a writer of t's loop, which owns it from then on (Python's
// open_connection(sock=...): "the socket is owned by the transport"). On
// Linux, on the real clock, a *net.TCPConn or *net.UnixConn is taken over:
// the loop keeps a duplicate of its descriptor and closes c, which then only
// serves for its addresses. The loop closes the connection when Run ends if
// the writer has not closed it.
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

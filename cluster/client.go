package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// ErrClosed is the error of a Submit after Shutdown or Close, and of every
// task still unfinished when Close is called. It matches future.ErrShutdown,
// as the other executors' errors for a shut down executor do.
var ErrClosed = future.Sentinel("cluster: executor is closed", future.ErrShutdown)

// ErrMaxDeliveries is matched by the error of a task that was delivered to
// workers more than the delivery limit without completing, typically because
// it kills its worker every time. The task is moved to the dead-letter stream.
var ErrMaxDeliveries = registry.RegisterError("cluster.ErrMaxDeliveries",
	errors.New("cluster: task delivered too many times without completing"))

// ErrUndecodable is matched by the error of a task whose message a worker
// could not decode (missing headers, a different codec, a corrupt argument).
// Such a message is dead-lettered with the reason, never retried.
var ErrUndecodable = registry.RegisterError("cluster.ErrUndecodable",
	errors.New("cluster: task message cannot be decoded"))

// Executor submits named functions to workers through JetStream and turns
// their results into futures. It implements registry.Executor, so a typed
// handle works unchanged:
//
//	f := Fib.Submit(ex, ctx, 30) // *future.Future[int], run on some worker
//
// It is the counterpart of Python's RQ queue or a Dask/Ray client, built on
// NATS JetStream. Delivery is at least once: a task whose worker dies is run
// again elsewhere, so a function may run more than once for one Submit (use
// TaskID to stay idempotent); the future completes with the first result and
// later duplicates are counted in Stats.
//
// A cluster future stays Pending until its result arrives (the submitter
// does not learn when a remote worker starts), so Cancel and the submit
// context can cancel it at any time: the future ends at once and the
// cancellation is sent to the workers, which stop the task or drop it when
// it arrives. A deadline on the submit context is also sent with the task and
// enforced by the worker.
type Executor struct {
	conn    *Conn
	queue   string
	codec   registry.Codec
	id      string
	subject string
	sub     *nats.Subscription
	adv     *nats.Subscription

	mu      sync.Mutex
	pending map[string]*call
	bySeq   map[uint64]*call // stream sequence -> call, for advisories
	closed  bool
	idle    chan struct{} // closed when pending becomes empty during Shutdown
	// completing counts completions this executor is making right now
	// (onResult, the max-deliveries advisory). Shutdown waits for them too:
	// a future's callbacks, such as the bridge that completes a typed
	// future, run inside Complete, after the future left pending.
	completing int

	// stop is closed by Close: goroutines waiting for a publish
	// acknowledgement give up (the connection may be closed, and then
	// the acknowledgement never comes).
	stop     chan struct{}
	stopOnce sync.Once

	acks sync.WaitGroup

	submitted, completed, duplicates, redelivered, resubmitted atomic.Int64
}

type call struct {
	f       *future.Future[[]byte]
	r       future.Resolver[[]byte] // completes f
	ctx     context.Context         // the submit context
	name    string
	payload []byte
	seq     atomic.Uint64
	resent  int      // resubmissions so far, guarded by Executor.mu
	batch   bool     // payload is a chunk of calls (registry.InvokeBatch)
	seqs    []uint64 // stream sequences of its messages, guarded by Executor.mu
}

// NewExecutor creates an executor on conn, submitting to the queue of
// WithQueue (DefaultQueue by default) with the codec of WithCodec (registry.Gob
// by default); the other options configure workers, and NewExecutor refuses
// them. Several executors may share one connection.
func NewExecutor(ctx context.Context, conn *Conn, opts ...Option) (*Executor, error) {
	o, err := newConfig(true, opts)
	if err != nil {
		return nil, err
	}
	e := &Executor{conn: conn, queue: o.queue, codec: o.codec, id: nuid.Next(), pending: map[string]*call{}, bySeq: map[uint64]*call{}, stop: make(chan struct{})}
	e.subject = subjectResultPrefix + e.id
	sub, err := conn.nc.Subscribe(e.subject, e.onResult)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribing to results: %w", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	e.sub = sub
	// Safety net: JetStream's own delivery limit (one above the workers'
	// limit) is reached only when the worker that should have failed the
	// task died too; the server then announces it and we fail the future.
	adv, err := conn.nc.Subscribe(maxDeliveriesAdvisory, e.onMaxDeliveries)
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribing to advisories: %w", err)
	}
	e.adv = adv
	conn.mu.Lock()
	conn.onReconnect[e] = func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed {
			return
		}
		e.acks.Add(1)
		go func() {
			defer e.acks.Done()
			e.resubmitPending()
		}()
	}
	conn.mu.Unlock()
	if err := conn.nc.FlushWithContext(ctxOrTimeout(ctx)); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribing to results: %w", err)
	}
	return e, nil
}

func ctxOrTimeout(ctx context.Context) context.Context {
	if _, ok := ctx.Deadline(); ok {
		return ctx
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	context.AfterFunc(c, cancel)
	return c
}

// Backend returns the executor's side of the contract with typed handles
// (registry.Executor): Submit, Map and MapAll of a registered function call
// it for you. It allocates nothing.
func (e *Executor) Backend() registry.Backend { return backend{e} }

// backend is the registry.Backend of an Executor.
type backend struct{ e *Executor }

// Codec returns the codec arguments and results are encoded with.
func (b backend) Codec() registry.Codec { return b.e.codec }

// SubmitRaw sends a call of the function registered as name with an
// already-encoded argument and returns the resolver of a future of the
// encoded result. It never returns nil, and blocks only while the client's
// window of publishes awaiting the server's acknowledgement is full
// (backpressure).
func (b backend) SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	return b.e.submit(ctx, name, payload, false)
}

// SubmitChunks sends Map's inputs in chunks, one task message per chunk,
// which is what makes tiny calls cheap on a cluster (one JetStream write,
// ack and result per chunk instead of per call). chunk is the number of
// calls per message; 0 chooses one from the input count (at most 256, and
// at least 32 chunks when there are enough inputs so that several workers
// share the work). A chunk is delivered, redelivered and deadline-bound as
// a whole.
func (b backend) SubmitChunks(ctx context.Context, job registry.Chunks, chunk int) {
	b.e.submitChunks(ctx, job, chunk)
}

// CancelRaw does nothing more than the typed handle already did: cancelling
// the raw future is how this executor stops a call; no message reaches a
// worker that is running it.
func (backend) CancelRaw(*future.Future[[]byte]) {}

// ReportsDeadlines reports false: a call's deadline travels to the worker
// in a header, and the typed future's own context watcher ends it here.
func (backend) ReportsDeadlines() bool { return false }

// Queue returns the name of the work queue this executor submits to.
func (e *Executor) Queue() string { return e.queue }

func (e *Executor) submit(ctx context.Context, name string, payload []byte, batch bool) future.Resolver[[]byte] {
	if ctx == nil {
		ctx = context.Background()
	}
	f, r := future.New[[]byte](ctx)
	if f.Finished() {
		return r
	}
	id := nuid.Next()
	c := &call{f: f, r: r, ctx: ctx, name: name, payload: payload, batch: batch}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		r.Complete(nil, ErrClosed)
		return r
	}
	e.pending[id] = c
	e.acks.Add(1) // under mu: Close waits only after setting closed
	e.mu.Unlock()
	e.submitted.Add(1)

	f.OnDone(func() { e.finished(id, c) })
	e.publish(id, c, id)
	return r
}

// publish sends the task message of c; msgID deduplicates it in JetStream.
// The caller has done e.acks.Add(1).
func (e *Executor) publish(id string, c *call, msgID string) {
	f, name := c.f, c.name
	msg := nats.NewMsg(taskSubject(e.queue, name))
	msg.Header.Set(hdrTaskID, id)
	msg.Header.Set(hdrFunc, name)
	msg.Header.Set(hdrReply, e.subject)
	msg.Header.Set(hdrCodec, e.codec.Name())
	if c.batch {
		msg.Header.Set(hdrBatch, "1")
	}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if d, ok := c.ctx.Deadline(); ok {
		msg.Header.Set(hdrDeadline, deadlineHeader(d))
	}
	msg.Data = c.payload

	ack, err := e.conn.js.PublishMsgAsync(msg)
	// The client's window of publishes awaiting the server's acknowledgement
	// is full and the server is slow: wait for room (each attempt waits up
	// to 200ms) instead of failing the task; backpressure on the submitter.
	for errors.Is(err, jetstream.ErrTooManyStalledMsgs) && !f.Finished() && !e.isStopped() {
		ack, err = e.conn.js.PublishMsgAsync(msg)
	}
	if err != nil {
		c.r.Complete(nil, fmt.Errorf("cluster: submitting %s: %w", name, err))
		e.acks.Done()
		return
	}
	go func() {
		defer e.acks.Done()
		select {
		case pa := <-ack.Ok():
			c.seq.Store(pa.Sequence)
			e.mu.Lock()
			if !f.Finished() {
				e.bySeq[pa.Sequence] = c
				c.seqs = append(c.seqs, pa.Sequence)
			}
			e.mu.Unlock()
			if f.Cancelled() {
				e.deleteTask(pa.Sequence)
			}
		case err := <-ack.Err():
			if errors.Is(err, nats.ErrDisconnected) {
				// The connection dropped before the server's answer came
				// back (the task may well be stored). The call stays
				// pending: the reconnect hook publishes it again.
				return
			}
			c.r.Complete(nil, fmt.Errorf("cluster: submitting %s: %w", name, err))
		case <-e.stop:
			// Close failed the future already.
		}
	}()
}

// isStopped reports whether Close has begun.
func (e *Executor) isStopped() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

// resubmitPending publishes every unfinished task again, under a new
// JetStream message id so that it is not deduplicated away. It runs after
// the connection was re-established, because results are published on core
// NATS and those sent while this executor was disconnected are lost; their
// tasks were acknowledged already. It also covers tasks whose publish
// acknowledgement was lost with the connection (publish leaves them
// pending instead of failing them). Tasks whose first message is still queued
// or running run twice; the second result counts as a duplicate. This is the
// at-least-once contract, never a hung future.
func (e *Executor) resubmitPending() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	type item struct {
		id, msgID string
		c         *call
	}
	var items []item
	for id, c := range e.pending {
		c.resent++
		items = append(items, item{id, id + ".r" + strconv.Itoa(c.resent), c})
		e.acks.Add(1)
	}
	e.mu.Unlock()
	for _, it := range items {
		e.resubmitted.Add(1)
		e.publish(it.id, it.c, it.msgID)
	}
}

// signalIdleLocked wakes a waiting Shutdown once no task is pending and no
// completion is in progress. e.mu is held.
func (e *Executor) signalIdleLocked() {
	if e.idle != nil && len(e.pending) == 0 && e.completing == 0 {
		close(e.idle)
		e.idle = nil
	}
}

// endComplete ends a completion counted in e.completing.
func (e *Executor) endComplete() {
	e.mu.Lock()
	e.completing--
	e.signalIdleLocked()
	e.mu.Unlock()
}

// finished runs once per task when its future becomes final, for any reason.
func (e *Executor) finished(id string, c *call) {
	e.mu.Lock()
	delete(e.pending, id)
	for _, seq := range c.seqs {
		delete(e.bySeq, seq)
	}
	e.signalIdleLocked()
	closed := e.closed
	if !closed {
		e.acks.Add(1)
	}
	e.mu.Unlock()
	if !closed {
		defer e.acks.Done()
	}
	if c.f.Cancelled() {
		// Tell the workers: a running task is stopped, a queued one dropped.
		// A passed deadline needs no message: it travels with the task and
		// the worker enforces it (and reports DeadlineExceeded) by itself.
		if !errors.Is(c.f.Err(), context.DeadlineExceeded) && !errors.Is(c.ctx.Err(), context.DeadlineExceeded) {
			_ = e.conn.nc.Publish(cancelSubject(e.queue), []byte(id))
		}
		if seq := c.seq.Load(); seq != 0 && !closed {
			e.acks.Add(1)
			go func() {
				defer e.acks.Done()
				e.deleteTask(seq)
			}()
		}
	}
}

// deleteTask removes a cancelled task from the stream if it is still there.
func (e *Executor) deleteTask(seq uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.conn.js.Stream(ctx, TaskStream)
	if err == nil {
		_ = s.DeleteMsg(ctx, seq) // already gone (acked or in flight) is fine
	}
}

func (e *Executor) onResult(m *nats.Msg) {
	id := m.Header.Get(hdrTaskID)
	if d, _ := strconv.Atoi(m.Header.Get(hdrDelivery)); d > 1 {
		e.redelivered.Add(1)
	}
	e.mu.Lock()
	c := e.pending[id]
	if c != nil {
		e.completing++
	}
	e.mu.Unlock()
	if c == nil {
		e.duplicates.Add(1)
		return
	}
	defer e.endComplete()
	var err error
	var val []byte
	if m.Header.Get(hdrStatus) == statusOK {
		val = m.Data
	} else {
		re := &registry.RemoteError{}
		if uerr := re.UnmarshalBinary(m.Data); uerr != nil {
			err = fmt.Errorf("cluster: task %s: undecodable error result: %w", id, uerr)
		} else {
			err = re
		}
	}
	if c.r.Complete(val, err) {
		e.completed.Add(1)
	} else {
		e.duplicates.Add(1)
	}
}

// Stats counts what an executor has seen.
type Stats struct {
	// Submitted is the number of tasks sent.
	Submitted int64
	// Completed is the number of futures completed by a worker's result.
	Completed int64
	// Duplicates is the number of results that arrived for a task already
	// completed (or unknown): the visible cost of at-least-once delivery.
	Duplicates int64
	// Redelivered is the number of results produced by a second or later
	// delivery of a task (its first worker died or was too slow to ack).
	Redelivered int64
	// Resubmitted is the number of tasks published again after the
	// connection to the server was lost and re-established.
	Resubmitted int64
	// Pending is the number of futures still waiting for a result.
	Pending int
}

// Stats returns the executor's counters.
func (e *Executor) Stats() Stats {
	e.mu.Lock()
	n := len(e.pending)
	e.mu.Unlock()
	return Stats{
		Submitted:   e.submitted.Load(),
		Completed:   e.completed.Load(),
		Duplicates:  e.duplicates.Load(),
		Redelivered: e.redelivered.Load(),
		Resubmitted: e.resubmitted.Load(),
		Pending:     n,
	}
}

// Shutdown stops accepting tasks and waits until every submitted task has a
// result (Python's Executor.shutdown(wait=True)), or ctx ends, in which case
// the unfinished futures are left running and ctx.Err() is returned; call
// Close to fail them. It does not close the connection.
func (e *Executor) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	var idle chan struct{}
	if len(e.pending) > 0 || e.completing > 0 {
		if e.idle == nil {
			e.idle = make(chan struct{})
		}
		idle = e.idle
	}
	e.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return e.Close()
}

// Close stops accepting tasks, fails every unfinished future with ErrClosed
// (the tasks may still run on workers; their results are ignored), stops
// receiving results and waits for its own goroutines. It does not close the
// connection.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	var cs []*call
	for _, c := range e.pending {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	e.conn.mu.Lock()
	delete(e.conn.onReconnect, e)
	e.conn.mu.Unlock()
	for _, c := range cs {
		c.r.Complete(nil, ErrClosed)
	}
	e.stopOnce.Do(func() { close(e.stop) })
	_ = e.adv.Unsubscribe()
	err := e.sub.Unsubscribe()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		err = nil
	}
	e.acks.Wait()
	return err
}

// submitChunks is the Backend's SubmitChunks.
func (e *Executor) submitChunks(ctx context.Context, job registry.Chunks, chunk int) {
	n := job.Len()
	if chunk <= 0 {
		chunk = min(256, max(1, n/32))
	}
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		payload, err := job.Encode(lo, hi)
		if err != nil {
			job.Deliver(lo, hi, nil, err)
			continue
		}
		raw := e.submit(ctx, job.Name(), payload, true).Future()
		raw.OnDone(func() {
			b, err, _ := raw.Value()
			job.Deliver(lo, hi, b, err)
		})
	}
}

const maxDeliveriesAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + TaskStream + ".*"

// onMaxDeliveries fails the future of a task JetStream gave up on.
func (e *Executor) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		Consumer   string `json:"consumer"`
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil {
		return
	}
	e.mu.Lock()
	c := e.bySeq[adv.StreamSeq]
	if c != nil {
		e.completing++
	}
	e.mu.Unlock()
	if c == nil {
		return
	}
	defer e.endComplete()
	err := fmt.Errorf("%w: %s: delivered %d times to consumer %s without completing", ErrMaxDeliveries, c.name, adv.Deliveries, adv.Consumer)
	c.r.Complete(nil, registry.EncodeError(c.name, err))
}

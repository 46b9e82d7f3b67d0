package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
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

// Handler runs one task on a worker: it receives the encoded argument and
// returns the encoded result. Serve uses registry.Invoke (the functions
// registered in this binary) unless WithHandler sets another.
type Handler func(ctx context.Context, name string, payload []byte) ([]byte, error)

// WorkerInfo is a worker's answer to a status ping.
type WorkerInfo struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Queue       string            `json:"queue"`
	PID         int               `json:"pid"`
	Concurrency int               `json:"concurrency"`
	Running     int64             `json:"running"`
	Done        int64             `json:"done"`
	Failed      int64             `json:"failed"`
	Started     time.Time         `json:"started"`
	Info        map[string]string `json:"info,omitempty"`
	// Functions are the functions the worker runs (WithFunctions).
	Functions []string `json:"functions,omitempty"`
}

// TaskID returns the id of the cluster task ctx belongs to, and false
// outside a cluster worker. The id is the same on every delivery of a task,
// so a function can use it to stay idempotent under at-least-once delivery
// (Python's RQ exposes job.id the same way).
func TaskID(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(taskKey{}).(*taskInfo)
	if !ok {
		return "", false
	}
	return t.id, true
}

// Delivery returns which delivery of its task ctx belongs to (1 for the
// first), and 0 outside a cluster worker.
func Delivery(ctx context.Context) int {
	t, ok := ctx.Value(taskKey{}).(*taskInfo)
	if !ok {
		return 0
	}
	return t.delivery
}

type taskKey struct{}

type taskInfo struct {
	id       string
	delivery int
}

const maxRememberedCancels = 100_000

var errCancelRequested = errors.New("cluster: cancelled by the submitter")
var errWorkerStopping = errors.New("cluster: worker stopping")

type worker struct {
	conn  *Conn
	o     config
	conss []jetstream.Consumer // one per function, as o.functions
	id    string
	start time.Time
	slots *slotPool

	mu        sync.Mutex
	running   map[string]context.CancelCauseFunc
	cancelled map[string]time.Time // cancel requests for tasks not (yet) running here

	nRunning, nDone, nFailed atomic.Int64
}

// Serve runs tasks from the queue until ctx ends (the worker side of the
// cluster executor, like an RQ worker). Call it in a binary that registered
// the same functions as the submitter. On return every task it took is
// either finished or handed back to the queue for another worker, and its
// goroutines are gone.
//
// Serve refuses (ErrInsecure) a connection to a non-loopback server made
// without credentials.
func Serve(ctx context.Context, conn *Conn, opts ...Option) error {
	o, err := newConfig(false, opts)
	if err != nil {
		return err
	}
	if conn.anonymousRemote {
		return fmt.Errorf("%w (worker)", ErrInsecure)
	}
	fns := slices.Compact(slices.Sorted(slices.Values(o.functions)))
	if len(fns) == 0 || fns[0] == "" {
		return fmt.Errorf("cluster: worker of queue %s has no function to run (nothing is registered in this binary and WithFunctions is not given)", o.queue)
	}
	o.functions = fns
	// One consumer per function, shared by all its workers (see
	// taskSubject); creating it again updates its settings.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conss := make([]jetstream.Consumer, 0, len(fns))
	for _, fn := range fns {
		cons, err := conn.js.CreateOrUpdateConsumer(cctx, TaskStream, jetstream.ConsumerConfig{
			Durable:       consumerName(o.queue, fn),
			Description:   fmt.Sprintf("trident workers of queue %s, function %q", o.queue, fn),
			FilterSubject: taskSubject(o.queue, fn),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       o.ackWait,
			// One more than the limit: the worker that sees the extra
			// delivery fails the task with a clear error instead of
			// JetStream dropping it silently.
			MaxDeliver:    o.maxDeliver + 1,
			MaxAckPending: -1,
		})
		if err != nil {
			return fmt.Errorf("cluster: creating consumer for function %q of queue %s: %w", fn, o.queue, err)
		}
		conss = append(conss, cons)
	}
	cancel()
	w := &worker{conn: conn, o: o, conss: conss, id: nuid.Next(), start: time.Now(), slots: newSlotPool(o.concurrency),
		running: map[string]context.CancelCauseFunc{}, cancelled: map[string]time.Time{}}

	cancelSub, err := conn.nc.Subscribe(cancelSubject(o.queue), w.onCancel)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to cancellations: %w", err)
	}
	defer cancelSub.Unsubscribe()
	pingSub, err := conn.nc.Subscribe(subjectPing, w.onPing)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to status pings: %w", err)
	}
	defer pingSub.Unsubscribe()

	return w.loop(ctx)
}

func (w *worker) loop(ctx context.Context) error {
	// Tasks run under their own base context: when ctx ends they are
	// cancelled with errWorkerStopping and handed back (Nak).
	base, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	var tasks sync.WaitGroup
	defer func() {
		if w.o.grace > 0 {
			finished := make(chan struct{})
			go func() { tasks.Wait(); close(finished) }()
			t := time.NewTimer(w.o.grace)
			select {
			case <-finished:
			case <-t.C:
			}
			t.Stop()
		}
		stop(errWorkerStopping)
		tasks.Wait()
	}()
	// One pull loop per function; the first fatal error stops them all.
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	var (
		pulls    sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, cons := range w.conss {
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			if err := w.pull(pctx, base, cons, &tasks); err != nil {
				errOnce.Do(func() { firstErr = err })
				pcancel()
			}
		}()
	}
	pulls.Wait()
	return firstErr
}

// pull fetches the tasks of one function's consumer while a slot is free,
// until ctx ends. It fetches as many as there are free slots but does not
// hold them while it waits: a fetch may stay open for seconds on a function
// with no tasks, and the worker's other functions must be able to use those
// slots meanwhile. A delivered task takes a slot, waiting for one (and
// telling JetStream it is in progress) if the worker's other functions took
// them all in between.
func (w *worker) pull(ctx, base context.Context, cons jetstream.Consumer, tasks *sync.WaitGroup) error {
	backoff := 50 * time.Millisecond
	pause := func() bool {
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	for {
		n, ok := w.slots.waitFree(ctx)
		if !ok || ctx.Err() != nil {
			return nil
		}
		fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
		if err != nil {
			fcancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("cluster: worker connection closed: %w", err)
			}
			if !pause() {
				return nil
			}
			continue
		}
		for m := range batch.Messages() {
			if !w.slots.take(ctx, m, w.o.ackWait) {
				_ = m.Nak() // stopping: someone else will run it
				continue
			}
			tasks.Add(1)
			go func() {
				defer tasks.Done()
				defer w.slots.release()
				w.handle(base, m)
			}()
		}
		fcancel()
		if berr := batch.Error(); berr != nil && ctx.Err() == nil &&
			!errors.Is(berr, context.DeadlineExceeded) && !errors.Is(berr, nats.ErrTimeout) {
			if errors.Is(berr, nats.ErrConnectionClosed) {
				return fmt.Errorf("cluster: worker connection closed: %w", berr)
			}
			if !pause() {
				return nil
			}
			continue
		}
		backoff = 50 * time.Millisecond
	}
}

// slotPool counts a worker's free task slots.
type slotPool struct {
	mu   sync.Mutex
	free int
	wake chan struct{} // closed and replaced when a slot is released
}

func newSlotPool(n int) *slotPool { return &slotPool{free: n, wake: make(chan struct{})} }

// waitFree waits until a slot is free and returns how many are, without
// taking any; false when ctx ended first.
func (p *slotPool) waitFree(ctx context.Context) (int, bool) {
	for {
		p.mu.Lock()
		n, wake := p.free, p.wake
		p.mu.Unlock()
		if n > 0 {
			return n, true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, false
		}
	}
}

// take takes a slot for the delivered task m, waiting for one if need be
// and meanwhile telling JetStream every ackWait/3 that m is in progress (so
// that it is not given to another worker); false when ctx ended first.
func (p *slotPool) take(ctx context.Context, m jetstream.Msg, ackWait time.Duration) bool {
	var beat *time.Ticker
	defer func() {
		if beat != nil {
			beat.Stop()
		}
	}()
	for {
		p.mu.Lock()
		if p.free > 0 {
			p.free--
			p.mu.Unlock()
			return true
		}
		wake := p.wake
		p.mu.Unlock()
		if beat == nil {
			beat = time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		}
		select {
		case <-wake:
		case <-beat.C:
			_ = m.InProgress()
		case <-ctx.Done():
			return false
		}
	}
}

func (p *slotPool) release() {
	p.mu.Lock()
	p.free++
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// handle runs one delivered task message to its end: result published and
// message acknowledged, dead-lettered, or handed back.
func (w *worker) handle(base context.Context, m jetstream.Msg) {
	h := m.Headers()
	id, name, reply := h.Get(hdrTaskID), h.Get(hdrFunc), h.Get(hdrReply)
	delivery := 1
	if md, err := m.Metadata(); err == nil {
		delivery = int(md.NumDelivered)
	}
	if id == "" || name == "" || reply == "" {
		w.deadLetter(m, fmt.Sprintf("missing %s, %s or %s header", hdrTaskID, hdrFunc, hdrReply))
		if reply != "" {
			w.reply(reply, id, name, delivery, fmt.Errorf("%w: missing task headers", ErrUndecodable))
		}
		_ = m.Term()
		return
	}
	if c := h.Get(hdrCodec); c != "" && c != w.o.codec.Name() {
		reason := fmt.Sprintf("codec %q, this worker uses %q", c, w.o.codec.Name())
		w.deadLetter(m, reason)
		w.reply(reply, id, name, delivery, fmt.Errorf("%w: %s", ErrUndecodable, reason))
		_ = m.Term()
		return
	}
	deadline, hasDeadline, derr := parseDeadline(h)
	if derr != nil {
		w.deadLetter(m, derr.Error())
		w.reply(reply, id, name, delivery, fmt.Errorf("%w: %v", ErrUndecodable, derr))
		_ = m.Term()
		return
	}
	if delivery > w.o.maxDeliver {
		reason := fmt.Sprintf("delivered %d times without completing (limit %d)", delivery-1, w.o.maxDeliver)
		w.deadLetter(m, reason)
		w.reply(reply, id, name, delivery, fmt.Errorf("%w: task %s (%s): %s", ErrMaxDeliveries, id, name, reason))
		_ = m.Term()
		return
	}

	ctx, cancel := context.WithCancelCause(context.WithValue(base, taskKey{}, &taskInfo{id: id, delivery: delivery}))
	defer cancel(nil)
	if hasDeadline {
		var dcancel context.CancelFunc
		ctx, dcancel = context.WithDeadline(ctx, deadline)
		defer dcancel()
	}
	w.mu.Lock()
	if _, gone := w.cancelled[id]; gone {
		delete(w.cancelled, id)
		w.mu.Unlock()
		_ = m.Ack() // cancelled before it ran: drop it
		return
	}
	w.running[id] = cancel
	w.mu.Unlock()
	w.nRunning.Add(1)
	defer func() {
		w.nRunning.Add(-1)
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
	}()

	type outcome struct {
		out []byte
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o = outcome{nil, future.NewPanicError(r)}
			}
			done <- o
		}()
		if h.Get(hdrBatch) != "" {
			o.out, o.err = registry.InvokeBatch(ctx, w.o.codec, name, m.Data())
		} else {
			o.out, o.err = w.o.handler(ctx, name, m.Data())
		}
	}()
	beat := time.NewTicker(max(w.o.ackWait/3, 10*time.Millisecond))
	defer beat.Stop()
	var res outcome
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-beat.C:
			_ = m.InProgress()
		case <-ctx.Done():
			// Deadline, cancellation or shutdown: give the function a short
			// grace to return, then abandon it.
			select {
			case res = <-done:
			case <-time.After(100 * time.Millisecond):
				res = outcome{nil, context.Cause(ctx)}
			}
			break wait
		}
	}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errWorkerStopping):
		_ = m.Nak() // someone else will run it
		return
	case errors.Is(cause, errCancelRequested):
		_ = m.Ack()
		w.nFailed.Add(1)
		w.reply(reply, id, name, delivery, future.CancelledError(errCancelRequested))
		return
	case errors.Is(cause, context.DeadlineExceeded) && res.err != nil:
		res.err = fmt.Errorf("cluster: task %s (%s) passed its deadline on worker %s: %w", id, name, w.o.name, context.DeadlineExceeded)
	}
	if res.err != nil && (errors.Is(res.err, registry.ErrDecode) || errors.Is(res.err, registry.ErrUnknownFunction)) {
		w.deadLetter(m, res.err.Error())
		if errors.Is(res.err, registry.ErrDecode) {
			res.err = fmt.Errorf("%w: %w", ErrUndecodable, res.err)
		}
		w.nFailed.Add(1)
		w.reply(reply, id, name, delivery, res.err)
		_ = m.Term()
		return
	}
	if res.err != nil {
		w.nFailed.Add(1)
		w.reply(reply, id, name, delivery, res.err)
	} else {
		w.nDone.Add(1)
		w.publish(reply, id, delivery, statusOK, res.out)
	}
	_ = m.Ack()
}

func (w *worker) reply(reply, id, name string, delivery int, err error) {
	b, merr := registry.EncodeError(name, err).MarshalBinary()
	if merr != nil {
		b, _ = (&registry.RemoteError{Func: name, Message: err.Error()}).MarshalBinary()
	}
	w.publish(reply, id, delivery, statusErr, b)
}

func (w *worker) publish(reply, id string, delivery int, status string, data []byte) {
	msg := nats.NewMsg(reply)
	msg.Header.Set(hdrTaskID, id)
	msg.Header.Set(hdrStatus, status)
	msg.Header.Set(hdrDelivery, strconv.Itoa(delivery))
	msg.Header.Set(hdrWorker, w.o.name)
	msg.Data = data
	_ = w.conn.nc.PublishMsg(msg)
}

// deadLetter copies m to the dead-letter stream with the reason.
func (w *worker) deadLetter(m jetstream.Msg, reason string) {
	dl := nats.NewMsg(subjectDeadPrefix + w.o.queue)
	for k, v := range m.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		dl.Header[k] = v
	}
	dl.Header.Set(hdrReason, reason)
	dl.Header.Set(hdrWorker, w.o.name)
	dl.Data = m.Data()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = w.conn.js.PublishMsg(ctx, dl)
}

func (w *worker) onCancel(m *nats.Msg) {
	id := string(m.Data)
	w.mu.Lock()
	defer w.mu.Unlock()
	if cancel, ok := w.running[id]; ok {
		cancel(errCancelRequested)
		return
	}
	// Remember cancellations of tasks not running here, in case the task
	// arrives later; forget old ones so the set stays bounded.
	now := time.Now()
	if len(w.cancelled) >= maxRememberedCancels {
		for k, t := range w.cancelled {
			if now.Sub(t) > 10*time.Minute {
				delete(w.cancelled, k)
			}
		}
		if len(w.cancelled) >= maxRememberedCancels {
			clear(w.cancelled) // a flood: the stream deletions still apply
		}
	}
	w.cancelled[id] = now
}

func (w *worker) onPing(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	b, _ := json.Marshal(WorkerInfo{
		ID: w.id, Name: w.o.name, Queue: w.o.queue, PID: os.Getpid(), Concurrency: w.o.concurrency,
		Running: w.nRunning.Load(), Done: w.nDone.Load(), Failed: w.nFailed.Load(), Started: w.start, Info: w.o.info,
		Functions: w.o.functions,
	})
	_ = m.Respond(b)
}

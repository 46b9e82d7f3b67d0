package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// jobWaiters lets many goroutines of one process wait for their jobs'
// final records on one watch of the bucket's new writes, instead of one
// watch (a consumer on the server) per job: how JobExecutor's futures
// wait. The watch runs while someone waits, and stops with the last
// waiter.
type jobWaiters struct {
	mu    sync.Mutex
	cc    jetstream.ConsumeContext
	byID  map[string][]chan<- *Job // nil *Job: the record was deleted or expired
	stops int                      // watches stopped (tests)
}

// register starts waiting for job id's next final write: every final
// write made after register returns is delivered on the returned channel
// (buffered: the watch never blocks), once. Call the returned function
// when done waiting, delivered or not.
func (q *Jobs) register(ctx context.Context, id string) (<-chan *Job, func(), error) {
	w := &q.waiters
	ch := make(chan *Job, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cc == nil {
		cons, err := q.conn.js.OrderedConsumer(ctx, "KV_"+JobBucket, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{q.kvPre + jobKeyPrefix + ">"},
			DeliverPolicy:  jetstream.DeliverNewPolicy,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: watching job records: %w", err)
		}
		cc, err := cons.Consume(q.delivered)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: watching job records: %w", err)
		}
		w.cc = cc
		w.byID = map[string][]chan<- *Job{}
	}
	w.byID[id] = append(w.byID[id], ch)
	return ch, func() { q.unregister(id, ch) }, nil
}

// unregister ends a wait, and the watch with the last one.
func (q *Jobs) unregister(id string, ch chan<- *Job) {
	w := &q.waiters
	w.mu.Lock()
	var stop jetstream.ConsumeContext
	defer func() {
		w.mu.Unlock()
		if stop != nil {
			stop.Stop()
		}
	}()
	chs := w.byID[id]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(w.byID, id)
	} else {
		w.byID[id] = chs
	}
	if len(w.byID) == 0 && w.cc != nil {
		stop = w.cc
		w.cc, w.byID = nil, nil
		w.stops++
	}
}

// delivered hands a new write of a job record to its waiters when it is
// final, or a deletion (expiry) as nil.
func (q *Jobs) delivered(m jetstream.Msg) {
	id := strings.TrimPrefix(m.Subject(), q.kvPre+jobKeyPrefix)
	w := &q.waiters
	w.mu.Lock()
	chs := w.byID[id]
	w.mu.Unlock()
	if len(chs) == 0 {
		return
	}
	var j *Job
	if m.Headers().Get("KV-Operation") == "" {
		var rec Job
		if err := json.Unmarshal(m.Data(), &rec); err != nil || !rec.State.Final() {
			return
		}
		if md, err := m.Metadata(); err == nil {
			rec.Revision = md.Sequence.Stream
		}
		j = &rec
	}
	w.mu.Lock()
	chs = w.byID[id]
	delete(w.byID, id)
	w.mu.Unlock()
	for _, ch := range chs {
		c := j
		if j != nil && len(chs) > 1 {
			cp := *j
			c = &cp
		}
		select {
		case ch <- c:
		default: // delivered already
		}
	}
}

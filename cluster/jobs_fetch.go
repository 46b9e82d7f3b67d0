package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// fetchChunk is how many records one batched read asks for: the server
// answers at most 1024 per request, and this many records of up to
// MaxInlineResult each stay well under its default reply limit.
const fetchChunk = 256

// FetchMany returns the current records of ids, in order, with nil for an
// ID not found (never enqueued, or expired), as RQ's Job.fetch_many does.
// It reads them in batches of 256 with JetStream's batched direct get, all
// batches in flight at once, instead of one request per job: the way to
// collect the results of many jobs. Results kept in the result store are
// read too. An invalid ID is an error, as with Job.
func (q *Jobs) FetchMany(ctx context.Context, ids []string) ([]*Job, error) {
	for _, id := range ids {
		if err := validJobID(id); err != nil {
			return nil, err
		}
	}
	ctx = ctxOrTimeout(ctx)
	recs, err := q.readMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Job, len(ids))
	for i, id := range ids {
		r, ok := recs[id]
		if !ok {
			continue
		}
		c := *r // a job asked for twice gets two records
		out[i] = &c
		if c.ResultObject != "" {
			if err := q.loadResult(ctx, &c); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// readMany reads the records of valid job IDs with batched direct gets,
// every batch in flight at once, and returns those found by ID, as
// stored (a result in the result store is not read).
func (q *Jobs) readMany(ctx context.Context, ids []string) (map[string]*Job, error) {
	out := make(map[string]*Job, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	nchunks := (len(ids) + fetchChunk - 1) / fetchChunk
	// Every record answers once at most, and every batch ends with one
	// status message: the channel never fills.
	answers := make(chan *nats.Msg, len(ids)+nchunks)
	prefix, done, err := q.reads.open(q.conn.nc, answers)
	if err != nil {
		return nil, fmt.Errorf("cluster: reading %d jobs: %w", len(ids), err)
	}
	defer done()
	api := "$JS.API.DIRECT.GET.KV_" + JobBucket
	for c := range nchunks {
		lo, hi := c*fetchChunk, min((c+1)*fetchChunk, len(ids))
		subjects := make([]string, 0, hi-lo)
		for _, id := range ids[lo:hi] {
			subjects = append(subjects, q.kvPre+jobKey(id))
		}
		req, _ := json.Marshal(struct {
			MultiLast []string `json:"multi_last"`
		}{subjects})
		if err := q.conn.nc.PublishRequest(api, prefix+strconv.Itoa(c), req); err != nil {
			return nil, fmt.Errorf("cluster: reading %d jobs: %w", len(ids), err)
		}
	}
	var retry []string // IDs of batches the server cut short
	for left := nchunks; left > 0; {
		var m *nats.Msg
		select {
		case m = <-answers:
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: reading %d jobs: %w", len(ids), ctx.Err())
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of a batch
			left--
			if np, _ := strconv.Atoi(m.Header.Get("Nats-Num-Pending")); np > 0 {
				chunk, _ := strconv.Atoi(m.Subject[len(prefix):])
				retry = append(retry, ids[chunk*fetchChunk:min((chunk+1)*fetchChunk, len(ids))]...)
			}
			continue
		case "404": // none of the batch exists
			left--
			continue
		default:
			return nil, fmt.Errorf("cluster: reading %d jobs: the server answered %s %s", len(ids), status, m.Header.Get("Description"))
		}
		key := m.Header.Get("Nats-Subject")
		if !strings.HasPrefix(key, q.kvPre+jobKeyPrefix) || m.Header.Get("KV-Operation") != "" {
			continue // deleted or expired: not found
		}
		var j Job
		if err := json.Unmarshal(m.Data, &j); err != nil {
			return nil, fmt.Errorf("cluster: job record %s: %w", key[len(q.kvPre):], err)
		}
		j.Revision, _ = strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		out[key[len(q.kvPre)+len(jobKeyPrefix):]] = &j
	}
	for _, id := range retry {
		if _, ok := out[id]; ok {
			continue
		}
		j, err := q.record(ctx, id)
		if errors.Is(err, ErrJobNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = j
	}
	return out, nil
}

// readMux routes the answers of batched reads (readMany) on one
// subscription of the connection, made at the first read: a read costs
// its requests, not a subscription of its own.
type readMux struct {
	mu     sync.Mutex
	sub    *nats.Subscription
	inbox  string
	next   uint64
	routes map[string]chan<- *nats.Msg // read token -> its answers
}

// open registers a read and returns the reply prefix of its requests
// (PREFIX + batch number) and the function that ends it.
func (r *readMux) open(nc *nats.Conn, answers chan<- *nats.Msg) (string, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sub == nil || !r.sub.IsValid() {
		r.inbox = nc.NewRespInbox()
		r.routes = map[string]chan<- *nats.Msg{}
		sub, err := nc.Subscribe(r.inbox+".>", r.route)
		if err != nil {
			return "", nil, err
		}
		_ = sub.SetPendingLimits(-1, -1) // every answer is wanted
		r.sub = sub
	}
	r.next++
	tok := strconv.FormatUint(r.next, 36)
	r.routes[tok] = answers
	return r.inbox + "." + tok + ".", func() {
		r.mu.Lock()
		delete(r.routes, tok)
		r.mu.Unlock()
	}, nil
}

// route hands an answer to its read; an answer of a read that ended is
// dropped.
func (r *readMux) route(m *nats.Msg) {
	r.mu.Lock()
	tok, _, _ := strings.Cut(strings.TrimPrefix(m.Subject, r.inbox+"."), ".")
	ch := r.routes[tok]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default: // more answers than asked for: not a batched read's
		}
	}
}

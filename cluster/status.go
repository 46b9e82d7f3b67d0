package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is a snapshot of one queue, as `trident cluster status` prints it.
type Status struct {
	// Queue is the queue described.
	Queue string `json:"queue"`
	// Workers are the workers of any queue that answered the status ping,
	// sorted by name.
	Workers []WorkerInfo `json:"workers"`
	// QueueDepth is the number of tasks waiting for a worker.
	QueueDepth uint64 `json:"queue_depth"`
	// InFlight is the number of tasks delivered and not yet acknowledged.
	InFlight int `json:"in_flight"`
	// Redelivered is the number of in-flight tasks delivered more than once.
	Redelivered int `json:"redelivered"`
	// DeadLetters is the number of messages in the dead-letter stream.
	DeadLetters uint64 `json:"dead_letters"`
	// NoConsumer is true when no worker has ever served the queue, so the
	// depth is the whole task stream's.
	NoConsumer bool `json:"no_consumer,omitempty"`
}

// GetStatus asks the server for the queue's counters and the workers for
// their state, collecting worker answers for wait (0 means 500ms).
func GetStatus(ctx context.Context, conn *Conn, queue string, wait time.Duration) (*Status, error) {
	if queue == "" {
		queue = DefaultQueue
	}
	if err := validQueue(queue); err != nil {
		return nil, err
	}
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	st := &Status{Queue: queue, Workers: []WorkerInfo{}}

	inbox := conn.nc.NewRespInbox()
	replies := make(chan []byte, 1024)
	sub, err := conn.nc.Subscribe(inbox, func(m *nats.Msg) {
		select {
		case replies <- m.Data:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: status: %w", err)
	}
	defer sub.Unsubscribe()
	if err := conn.nc.PublishRequest(subjectPing, inbox, nil); err != nil {
		return nil, fmt.Errorf("cluster: status: %w", err)
	}

	cons, err := conn.js.Consumer(ctx, TaskStream, consumerName(queue))
	switch {
	case err == nil:
		ci, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster: status of queue %s: %w", queue, err)
		}
		st.QueueDepth, st.InFlight, st.Redelivered = ci.NumPending, ci.NumAckPending, ci.NumRedelivered
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		st.NoConsumer = true
		s, err := conn.js.Stream(ctx, TaskStream)
		if err != nil {
			return nil, fmt.Errorf("cluster: status: %w", err)
		}
		si, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster: status: %w", err)
		}
		st.QueueDepth = si.State.Msgs
	default:
		return nil, fmt.Errorf("cluster: status of queue %s: %w", queue, err)
	}
	if s, err := conn.js.Stream(ctx, DeadStream); err == nil {
		if si, err := s.Info(ctx); err == nil {
			st.DeadLetters = si.State.Msgs
		}
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
collect:
	for {
		select {
		case b := <-replies:
			var wi WorkerInfo
			if json.Unmarshal(b, &wi) == nil {
				st.Workers = append(st.Workers, wi)
			}
		case <-timer.C:
			break collect
		case <-ctx.Done():
			break collect
		}
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].Name < st.Workers[j].Name })
	return st, nil
}

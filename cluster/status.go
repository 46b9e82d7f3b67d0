package cluster

import (
	"context"
	"encoding/json"
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
	// NoConsumer is true when no worker has ever served the queue.
	NoConsumer bool `json:"no_consumer,omitempty"`
	// Functions describes, per function, the tasks of the queue: those of
	// functions with tasks waiting or in flight, and those some worker of
	// the queue runs; sorted by name.
	Functions []FunctionStatus `json:"functions"`
}

// FunctionStatus is the part of a queue's status about one function.
type FunctionStatus struct {
	// Name is the function's registered name (CommandFunc for command jobs).
	Name string `json:"name"`
	// Waiting is the number of its tasks no worker has taken yet.
	Waiting uint64 `json:"waiting"`
	// InFlight is the number taken and not yet acknowledged.
	InFlight int `json:"in_flight"`
	// Redelivered is the number in flight delivered more than once.
	Redelivered int `json:"redelivered"`
	// Workers is the number of workers of the queue that answered the
	// status ping and run the function. Tasks of a function that no live
	// worker runs wait until one comes.
	Workers int `json:"workers"`
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

	fs, err := queueFunctions(ctx, conn, queue)
	if err != nil {
		return nil, err
	}
	st.NoConsumer = true
	for _, f := range fs {
		st.QueueDepth += f.Waiting
		st.InFlight += f.InFlight
		st.Redelivered += f.Redelivered
		if f.consumer {
			st.NoConsumer = false
		}
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
	index := map[string]int{}
	for i, f := range fs {
		index[f.Name] = i
	}
	for _, wi := range st.Workers {
		if wi.Queue != queue {
			continue
		}
		for _, fn := range wi.Functions {
			i, ok := index[fn]
			if !ok {
				i = len(fs)
				index[fn] = i
				fs = append(fs, functionState{FunctionStatus: FunctionStatus{Name: fn}})
			}
			fs[i].Workers++
		}
	}
	st.Functions = make([]FunctionStatus, 0, len(fs))
	for _, f := range fs {
		if f.Waiting > 0 || f.InFlight > 0 || f.Workers > 0 {
			st.Functions = append(st.Functions, f.FunctionStatus)
		}
	}
	sort.Slice(st.Functions, func(i, j int) bool { return st.Functions[i].Name < st.Functions[j].Name })
	return st, nil
}

// functionState is a FunctionStatus and whether the function has a
// consumer (some worker served it once).
type functionState struct {
	FunctionStatus
	consumer bool
}

// queueFunctions returns the task counts of every function of queue that
// has tasks in the stream or a consumer, unsorted.
func queueFunctions(ctx context.Context, conn *Conn, queue string) ([]functionState, error) {
	s, err := conn.js.Stream(ctx, TaskStream)
	if err != nil {
		return nil, fmt.Errorf("cluster: status of queue %s: %w", queue, err)
	}
	prefix := queueSubjectPrefix(queue)
	// Messages per subject: waiting and in-flight tasks (a work queue keeps
	// a task until it is acknowledged).
	si, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("cluster: status of queue %s: %w", queue, err)
	}
	byName := map[string]*functionState{}
	var out []*functionState
	get := func(fn string) *functionState {
		f := byName[fn]
		if f == nil {
			f = &functionState{FunctionStatus: FunctionStatus{Name: fn}}
			byName[fn] = f
			out = append(out, f)
		}
		return f
	}
	stored := map[string]uint64{}
	for subj, n := range si.State.Subjects {
		if fn, ok := funcFromSubject(queue, subj); ok {
			stored[fn] += n
		}
	}
	lister := s.ListConsumers(ctx)
	for ci := range lister.Info() {
		fn, ok := funcFromSubject(queue, ci.Config.FilterSubject)
		if !ok || ci.Name != consumerName(queue, fn) {
			continue
		}
		f := get(fn)
		f.consumer = true
		f.Waiting, f.InFlight, f.Redelivered = ci.NumPending, ci.NumAckPending, ci.NumRedelivered
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("cluster: status of queue %s: listing consumers: %w", queue, err)
	}
	for fn, n := range stored {
		if f := get(fn); !f.consumer {
			f.Waiting = n
		}
	}
	res := make([]functionState, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res, nil
}

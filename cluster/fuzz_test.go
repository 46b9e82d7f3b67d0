package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trident-go/trident/registry"
)

// fakeMsg is a task message as a worker receives it, recording how the
// worker settles it.
type fakeMsg struct {
	h        nats.Header
	data     []byte
	delivery uint64
	mu       sync.Mutex
	settled  []string
}

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	if m.delivery == 0 {
		return nil, errors.New("no metadata")
	}
	return &jetstream.MsgMetadata{NumDelivered: m.delivery}, nil
}
func (m *fakeMsg) Data() []byte         { return m.data }
func (m *fakeMsg) Headers() nats.Header { return m.h }
func (m *fakeMsg) Subject() string      { return taskSubject("fuzz", "x") }
func (m *fakeMsg) Reply() string        { return "" }
func (m *fakeMsg) settle(s string) error {
	m.mu.Lock()
	m.settled = append(m.settled, s)
	m.mu.Unlock()
	return nil
}
func (m *fakeMsg) Ack() error                         { return m.settle("ack") }
func (m *fakeMsg) DoubleAck(context.Context) error    { return m.settle("ack") }
func (m *fakeMsg) Nak() error                         { return m.settle("nak") }
func (m *fakeMsg) NakWithDelay(time.Duration) error   { return m.settle("nak") }
func (m *fakeMsg) InProgress() error                  { return nil }
func (m *fakeMsg) Term() error                        { return m.settle("term") }
func (m *fakeMsg) TermWithReason(reason string) error { return m.settle("term") }

// FuzzWorkerMessage feeds arbitrary task messages to a worker: it must
// settle each exactly once (ack or term, never a redelivery loop) and
// never panic.
func FuzzWorkerMessage(f *testing.F) {
	good, _ := square.Encode(registry.Gob, 3)
	f.Add("id1", square.Name(), "trident.result.x", "gob", "", good, uint64(1), false)
	f.Add("id2", square.Name(), "trident.result.x", "gob", "", []byte("junk"), uint64(2), true)
	f.Add("", "", "", "", "", []byte{}, uint64(0), false)
	f.Add("id3", "nope", "trident.result.x", "json", "12x", []byte("{}"), uint64(9), true)
	f.Add("id4", square.Name(), "trident.result.x", "gob", strconv.FormatInt(time.Now().UnixNano(), 10), good, uint64(1), false)

	s, err := StartServer(context.Background(), ServerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Shutdown()
	conn, err := Connect(context.Background(), s.ConnectOptions())
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	w := &worker{conn: conn, o: config{queue: "fuzz", concurrency: 1, ackWait: time.Second, maxDeliver: 3,
		codec: registry.Gob, name: "fuzz",
		handler: func(ctx context.Context, name string, payload []byte) ([]byte, error) {
			return registry.Invoke(ctx, registry.Gob, name, payload)
		}},
		running: map[string]context.CancelCauseFunc{}, cancelled: map[string]time.Time{}}

	f.Fuzz(func(t *testing.T, id, fn, reply, codec, deadline string, data []byte, delivery uint64, batch bool) {
		h := nats.Header{}
		for k, v := range map[string]string{hdrTaskID: id, hdrFunc: fn, hdrReply: reply, hdrCodec: codec, hdrDeadline: deadline} {
			if v != "" {
				h.Set(k, v)
			}
		}
		if batch {
			h.Set(hdrBatch, "1")
		}
		m := &fakeMsg{h: h, data: data, delivery: delivery % 10}
		w.handle(context.Background(), m)
		if len(m.settled) != 1 || m.settled[0] == "nak" {
			t.Fatalf("message settled %v, want exactly one ack or term", m.settled)
		}
	})
}

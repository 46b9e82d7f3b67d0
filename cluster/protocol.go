package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Names of the JetStream streams trident creates (idempotently) on connect.
const (
	// TaskStream is the work-queue stream holding submitted tasks until a
	// worker acknowledges them.
	TaskStream = "TRIDENT_TASKS"
	// DeadStream keeps dead letters: tasks that could not be decoded or run,
	// or that hit the delivery limit, with the reason in the Trident-Reason
	// header.
	DeadStream = "TRIDENT_DEAD"
)

const (
	subjectTaskPrefix   = "trident.task."
	subjectDeadPrefix   = "trident.dead."
	subjectResultPrefix = "trident.result."
	subjectCancelPrefix = "trident.cancel."
	subjectPing         = "trident.ctl.ping"

	hdrTaskID   = "Trident-Task-Id"
	hdrFunc     = "Trident-Func"
	hdrReply    = "Trident-Reply"
	hdrDeadline = "Trident-Deadline" // unix nanoseconds
	hdrStatus   = "Trident-Status"   // "ok" or "err"
	hdrDelivery = "Trident-Delivery"
	hdrWorker   = "Trident-Worker"
	hdrReason   = "Trident-Reason"
	hdrCodec    = "Trident-Codec"
	hdrBatch    = "Trident-Batch" // "1": the payload is a chunk of calls

	statusOK  = "ok"
	statusErr = "err"
)

// DefaultQueue is the queue used when none is named.
const DefaultQueue = "default"

func taskSubject(queue string) string   { return subjectTaskPrefix + queue }
func cancelSubject(queue string) string { return subjectCancelPrefix + queue }
func consumerName(queue string) string  { return "trident-" + queue }

// validQueue reports whether q is usable as one NATS subject token.
func validQueue(q string) error {
	if q == "" {
		return errors.New("cluster: empty queue name")
	}
	for _, r := range q {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("cluster: queue name %q: only letters, digits, '-' and '_' are allowed", q)
		}
	}
	return nil
}

func deadlineHeader(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func parseDeadline(h nats.Header) (time.Time, bool, error) {
	v := h.Get(hdrDeadline)
	if v == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("bad %s header %q", hdrDeadline, v)
	}
	return time.Unix(0, n), true, nil
}

package cluster

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Each function has its own subject in a queue, trident.task.<queue>.<fn>,
// and its own durable consumer, shared by every worker that runs it: a
// worker pulls only from the consumers of the functions it can run, so a
// task is never taken by a worker that cannot run it, and a task of a
// function that no worker runs waits in the stream until one comes. (A
// work-queue stream requires consumers with disjoint subject filters, so
// workers that run overlapping sets of functions cannot each have one
// consumer filtering on their set; one consumer per function is the
// partition JetStream accepts.)

func taskSubject(queue, fn string) string { return queueSubjectPrefix(queue) + funcToken(fn) }
func queueSubjectPrefix(queue string) string {
	return subjectTaskPrefix + queue + "."
}
func cancelSubject(queue string) string { return subjectCancelPrefix + queue }

// consumerName is the durable consumer of one function of a queue. The
// hash keeps it a valid, fixed-length consumer name whatever the function
// name holds; its description names both.
func consumerName(queue, fn string) string {
	h := sha256.Sum256([]byte(fn))
	return "trident-" + queue + "-" + hex.EncodeToString(h[:8])
}

// funcToken is a function name as the tail of its task subject: the name
// itself when it is made of dot-separated words of letters, digits, '-'
// and '_' (such as "trident.command"), else "~" and its base64url encoding
// (never a valid plain name, so the two forms cannot collide).
func funcToken(fn string) string {
	if plainFuncName(fn) {
		return fn
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(fn))
}

// funcFromSubject is the inverse of taskSubject for a queue's subjects.
func funcFromSubject(queue, subject string) (string, bool) {
	tok, ok := strings.CutPrefix(subject, queueSubjectPrefix(queue))
	if !ok || tok == "" {
		return "", false
	}
	if enc, ok := strings.CutPrefix(tok, "~"); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		return string(b), err == nil
	}
	return tok, plainFuncName(tok)
}

func plainFuncName(fn string) bool {
	for _, w := range strings.Split(fn, ".") {
		if w == "" {
			return false
		}
		for _, r := range w {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

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

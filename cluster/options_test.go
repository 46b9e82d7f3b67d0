package cluster

import (
	"context"

	"strings"
	"testing"
	"time"
)

// NewExecutor and Serve report every bad option at once, each naming the
// option and its value, before they touch the connection.
func TestOptionErrors(t *testing.T) {
	conn := &Conn{} // never used: options are checked first
	err := Serve(context.Background(), conn, WithConcurrency(0), nil, WithAckWait(-time.Second),
		WithMaxDeliver(0), WithQueue("a b"), WithCodec(nil), WithHandler(nil), WithFunctions(),
		WithFunctions("f", ""), WithGrace(-1), WithName(""))
	if err == nil {
		t.Fatal("Serve with bad options: nil error")
	}
	for _, want := range []string{"WithConcurrency(0)", "WithAckWait(-1s)", "WithMaxDeliver(0)", `WithQueue("a b")`,
		"WithCodec(nil)", "WithHandler(nil)", "WithFunctions()", `WithFunctions(["f" ""])`, "WithGrace(-1ns)", `WithName("")`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Serve error does not name %s:\n%v", want, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 10 {
		t.Errorf("Serve joined %d errors, want 10 (one per bad option, the nil option skipped):\n%v", n, err)
	}

	_, err = NewExecutor(context.Background(), conn, WithQueue("q"), WithConcurrency(4), WithInfo(nil))
	if err == nil {
		t.Fatal("NewExecutor with worker options: nil error")
	}
	for _, want := range []string{"WithConcurrency(4) applies to Serve", "WithInfo applies to Serve"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewExecutor error does not say %q:\n%v", want, err)
		}
	}
}

// The options set what they name, WithQueue("") is the default queue, and
// the defaults fill in what no option set.
func TestOptionValues(t *testing.T) {
	info := map[string]string{"k": "v"}
	c, err := newConfig(false, []Option{WithQueue("q1"), WithConcurrency(3), WithAckWait(time.Second), WithMaxDeliver(2),
		WithFunctions("b", "a"), WithGrace(time.Minute), WithName("w"), WithInfo(info)})
	if err != nil {
		t.Fatal(err)
	}
	info["k"] = "changed"
	if c.queue != "q1" || c.concurrency != 3 || c.ackWait != time.Second || c.maxDeliver != 2 ||
		strings.Join(c.functions, ",") != "b,a" || c.grace != time.Minute || c.name != "w" || c.info["k"] != "v" ||
		c.handler == nil || c.codec == nil {
		t.Errorf("config = %+v", c)
	}
	c, err = newConfig(true, []Option{WithQueue("")})
	if err != nil {
		t.Fatal(err)
	}
	if c.queue != DefaultQueue || c.codec == nil {
		t.Errorf("executor config = %+v, want DefaultQueue and a codec", c)
	}
}

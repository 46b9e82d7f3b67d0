package future

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinel(t *testing.T) {
	e := Sentinel("mypool: pool is shut down", ErrShutdown)
	if e.Error() != "mypool: pool is shut down" {
		t.Fatalf("message %q", e.Error())
	}
	if !errors.Is(e, ErrShutdown) || errors.Is(e, ErrBroken) {
		t.Fatalf("Is: shutdown %v broken %v", errors.Is(e, ErrShutdown), errors.Is(e, ErrBroken))
	}
	wrapped := fmt.Errorf("submit f: %w", e)
	if !errors.Is(wrapped, e) || !errors.Is(wrapped, ErrShutdown) {
		t.Fatalf("wrapped %v does not match", wrapped)
	}
	if other := Sentinel("mypool: pool is shut down", ErrShutdown); errors.Is(e, other) {
		t.Fatal("two sentinels with one message must stay distinct")
	}
}

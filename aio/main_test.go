package aio_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/trident-go/trident/procpool"
)

func TestMain(m *testing.M) {
	procpool.Main() // in a procpool worker process this serves calls and never returns
	goleak.VerifyTestMain(m)
}

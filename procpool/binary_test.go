package procpool_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

// TestWorkerBinary builds the example program, runs it as a program, and
// uses it as the worker binary of a pool in this process (WithWorkerCommand).
func TestWorkerBinary(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "examplemain")
	if out, err := exec.Command(gobin, "build", "-o", bin, "./internal/examplemain").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "10", "20").CombinedOutput()
	if err != nil || string(out) != "fib(10) = 55\nfib(20) = 6765\n" {
		t.Fatalf("examplemain: %v %q", err, out)
	}

	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1), procpool.WithWorkerCommand(bin))
	b, _ := registry.Gob.Marshal(21)
	res, err := p.Backend().SubmitRaw(ctx, "examplemain.fib", b).Future().Result(ctx)
	var v int
	if err != nil || registry.Gob.Unmarshal(res, &v) != nil || v != 10946 {
		t.Fatalf("fib(21) in the example binary: %v %v", v, err)
	}
	// The example binary does not know this test's functions.
	if _, err := square.Submit(p, ctx, 2).Result(ctx); err == nil || !strings.Contains(err.Error(), "unknown function") {
		t.Fatalf("want unknown function, got %v", err)
	}
}

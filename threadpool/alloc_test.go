package threadpool

import (
	"context"
	"sync"
	"testing"
)

// TestAllocs checks the allocation budget of the hot paths: at most 2 per
// Submit-and-collect, none per Go beyond the caller's closure.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("alloc counting is slow")
	}
	p, err := New(WithWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	const n = 1000
	fn := func(context.Context) (int, error) { return 1, nil }
	sub := testing.AllocsPerRun(5, func() {
		var fs [n]interface {
			Result(context.Context) (int, error)
		}
		for i := range fs {
			fs[i] = Submit(p, ctx, fn)
		}
		for _, f := range fs {
			f.Result(ctx)
		}
	}) / n
	var wg sync.WaitGroup
	gfn := func(context.Context) error { wg.Done(); return nil }
	gop := testing.AllocsPerRun(5, func() {
		wg.Add(n)
		for range n {
			p.Go(ctx, gfn)
		}
		wg.Wait()
	}) / n
	t.Logf("allocs per task: Submit %.2f, Go %.2f", sub, gop)
	if sub > 2.05 {
		t.Errorf("Submit path allocates %.2f per task, want <= 2", sub)
	}
	if gop > 0.05 {
		t.Errorf("Go path allocates %.2f per task, want 0", gop)
	}
}

package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type point struct{ X, Y int }

type hidden struct{ x int } // no exported fields: gob refuses it

var (
	errOdd = registry.RegisterError("registry_test.errOdd", errors.New("odd input"))

	double = registry.Register("registry_test.double", func(ctx context.Context, n int) (int, error) {
		return 2 * n, nil
	})
	sum = registry.Register("registry_test.sum", func(ctx context.Context, p point) (int, error) {
		return p.X + p.Y, nil
	})
	evenOnly = registry.Register("registry_test.evenOnly", func(ctx context.Context, n int) (int, error) {
		if n%2 != 0 {
			return 0, fmt.Errorf("checking %d: %w", n, errOdd)
		}
		return n, nil
	})
	boom = registry.Register("registry_test.boom", func(ctx context.Context, s string) (int, error) {
		panic("boom: " + s)
	})
	badResult = registry.Register("registry_test.badResult", func(ctx context.Context, n int) (hidden, error) {
		return hidden{n}, nil
	})
	badArg = registry.Register("registry_test.badArg", func(ctx context.Context, h hidden) (int, error) {
		return h.x, nil
	})
	waitCancel = registry.Register("registry_test.waitCancel", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	notFound = registry.Register("registry_test.notFound", func(ctx context.Context, p string) (int, error) {
		return 0, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	})
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSubmitAndMap(t *testing.T) {
	ctx := ctxT(t)
	for _, ex := range []registry.Executor{registry.Local{}, registry.Local{C: registry.JSON}} {
		t.Run(ex.Backend().Codec().Name(), func(t *testing.T) {
			v, err := double.Submit(ex, ctx, 21).Result(ctx)
			if err != nil || v != 42 {
				t.Fatalf("double(21) = %v, %v", v, err)
			}
			s, err := sum.Submit(ex, ctx, point{3, 4}).Result(ctx)
			if err != nil || s != 7 {
				t.Fatalf("sum = %v, %v", s, err)
			}
			in := make([]int, 100)
			for i := range in {
				in[i] = i
			}
			got, err := future.Results(ctx, double.Map(ex, ctx, in, registry.ChunkSize(7)))
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				if g != 2*i {
					t.Fatalf("map[%d] = %d", i, g)
				}
			}
		})
	}
}

func TestRemoteErrorSentinels(t *testing.T) {
	ctx := ctxT(t)
	ex := registry.Local{}
	_, err := evenOnly.Submit(ex, ctx, 3).Result(ctx)
	var re *registry.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("error %T %v is not a *RemoteError", err, err)
	}
	if !errors.Is(err, errOdd) {
		t.Fatalf("errors.Is(%v, errOdd) = false; sentinels %v", err, re.Sentinels)
	}
	if re.Func != "registry_test.evenOnly" || !strings.Contains(re.Message, "checking 3") || re.Type != "*fmt.wrapError" {
		t.Fatalf("unexpected remote error fields: %+v", re)
	}
	_, err = notFound.Submit(ex, ctx, "/nope").Result(ctx)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist through the boundary, got %v", err)
	}
	var pe *future.PanicError
	if errors.As(err, &pe) {
		t.Fatalf("a plain error must not look like a panic")
	}
}

func TestPanicCarriesStack(t *testing.T) {
	ctx := ctxT(t)
	_, err := boom.Submit(registry.Local{}, ctx, "x").Result(ctx)
	var pe *future.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("want *future.PanicError in %v", err)
	}
	if pe.Value != "boom: x" || !strings.Contains(string(pe.Stack), "registry_test") {
		t.Fatalf("panic value %v, stack %q", pe.Value, pe.Stack)
	}
	if !strings.Contains(err.Error(), "panic: boom: x") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestBadInput(t *testing.T) {
	ctx := ctxT(t)
	ex := registry.Local{}
	t.Run("unencodable argument fails at submit", func(t *testing.T) {
		f := badArg.Submit(ex, ctx, hidden{1})
		if !f.Finished() {
			t.Fatal("future should be final at submit")
		}
		if err := f.Err(); !errors.Is(err, registry.ErrEncode) || !strings.Contains(err.Error(), "registry_test.badArg") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unencodable result is the task's error", func(t *testing.T) {
		_, err := badResult.Submit(ex, ctx, 1).Result(ctx)
		if !errors.Is(err, registry.ErrEncode) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		_, err := ex.Backend().SubmitRaw(ctx, "no.such.function", nil).Future().Result(ctx)
		if !errors.Is(err, registry.ErrUnknownFunction) || !strings.Contains(err.Error(), "no.such.function") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("undecodable argument", func(t *testing.T) {
		_, err := ex.Backend().SubmitRaw(ctx, double.Name(), []byte("garbage")).Future().Result(ctx)
		if !errors.Is(err, registry.ErrDecode) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("map keeps going past a bad input", func(t *testing.T) {
		for _, chunk := range []int{0, 1} {
			fs := badArg.Map(ex, ctx, []hidden{{1}, {2}}, registry.ChunkSize(chunk))
			for _, f := range fs {
				if _, err := f.Result(ctx); !errors.Is(err, registry.ErrEncode) {
					t.Fatalf("chunk %d: err = %v", chunk, err)
				}
			}
		}
	})
	t.Run("duplicate names panic", func(t *testing.T) {
		for _, fn := range []func(){
			func() {
				registry.Register("registry_test.double", func(context.Context, int) (int, error) { return 0, nil })
			},
			func() { registry.RegisterError("context.Canceled", errors.New("x")) },
			func() { registry.Register[int, int]("", nil) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("expected a panic")
					}
				}()
				fn()
			}()
		}
	})
}

func TestCancelReachesTask(t *testing.T) {
	ctx := ctxT(t)
	f := waitCancel.Submit(registry.Local{}, ctx, 0)
	time.Sleep(10 * time.Millisecond)
	if !f.Cancel() {
		t.Fatal("Cancel on a pending typed future should report true")
	}
	if _, err := f.Result(ctx); !errors.Is(err, future.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	// The goroutine of the call must end (goleak checks it at exit); wait a bit.
	time.Sleep(20 * time.Millisecond)

	cctx, cancel := context.WithCancel(ctx)
	g := waitCancel.Submit(registry.Local{}, cctx, 0)
	cancel()
	if _, err := g.Result(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestWireErrorRoundTrip(t *testing.T) {
	in := &registry.RemoteError{Func: "f", Message: "m", Type: "T", Sentinels: []string{"io.EOF", "unknown.X"}, Panic: true, Stack: "stack"}
	b, _ := in.MarshalBinary()
	var out registry.RemoteError
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*in) != fmt.Sprint(out) {
		t.Fatalf("%+v != %+v", *in, out)
	}
	if len(out.Unwrap()) != 2 { // io.EOF and the panic; unknown.X is skipped
		t.Fatalf("unwrap = %v", out.Unwrap())
	}
	for i := 0; i < len(b); i++ {
		var x registry.RemoteError
		if err := x.UnmarshalBinary(b[:i]); !errors.Is(err, registry.ErrDecode) {
			t.Fatalf("truncated at %d: err = %v", i, err)
		}
	}
	if registry.EncodeError("f", nil) != nil {
		t.Fatal("EncodeError(nil) must be nil")
	}
	again := registry.EncodeError("g", &out)
	if again.Func != "f" || again.Message != "m" {
		t.Fatalf("re-encoding changed the error: %+v", again)
	}
}

func TestStressLocal(t *testing.T) {
	ctx := ctxT(t)
	in := make([]int, 2000)
	for i := range in {
		in[i] = i
	}
	fs := evenOnly.Map(registry.Local{}, ctx, in)
	for i, f := range fs {
		v, err := f.Result(ctx)
		if i%2 == 0 && (err != nil || v != i) || i%2 == 1 && !errors.Is(err, errOdd) {
			t.Fatalf("%d: %v %v", i, v, err)
		}
	}
}

func FuzzRemoteErrorUnmarshal(f *testing.F) {
	b, _ := (&registry.RemoteError{Func: "f", Message: "m", Sentinels: []string{"io.EOF"}}).MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e registry.RemoteError
		if err := e.UnmarshalBinary(data); err != nil {
			return
		}
		again, _ := e.MarshalBinary()
		var e2 registry.RemoteError
		if err := e2.UnmarshalBinary(again); err != nil || fmt.Sprint(e) != fmt.Sprint(e2) {
			t.Fatalf("round trip changed %+v into %+v (%v)", e, e2, err)
		}
	})
}

func TestMapAllAndChunks(t *testing.T) {
	ctx := ctxT(t)
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	for _, ex := range []registry.Executor{registry.Local{}, registry.Local{C: registry.JSON}} {
		got, err := double.MapAll(ex, ctx, in, registry.ChunkSize(33))
		if err != nil || len(got) != len(in) {
			t.Fatal(err)
		}
		for i, g := range got {
			if g != 2*i {
				t.Fatalf("[%d] = %d", i, g)
			}
		}
		// Errors: the first in input order, typed; futures per call via Map.
		if _, err := evenOnly.MapAll(ex, ctx, []int{2, 4, 5, 7}); !errors.Is(err, errOdd) || !strings.Contains(err.Error(), "checking 5") {
			t.Fatalf("MapAll error: %v", err)
		}
		fs := evenOnly.Map(ex, ctx, []int{2, 3}, registry.ChunkSize(0))
		if v, err := fs[0].Result(ctx); err != nil || v != 2 {
			t.Fatal(v, err)
		}
		if _, err := fs[1].Result(ctx); !errors.Is(err, errOdd) {
			t.Fatal(err)
		}
	}
	// A result that cannot be encoded fails only its own call in a chunk.
	if _, err := badResult.MapAll(registry.Local{}, ctx, []int{1, 2}); !errors.Is(err, registry.ErrEncode) {
		t.Fatalf("bad result in a chunk: %v", err)
	}
	// A chunk whose inputs cannot be encoded fails as a whole.
	if _, err := badArg.MapAll(registry.Local{}, ctx, []hidden{{1}}); !errors.Is(err, registry.ErrEncode) {
		t.Fatalf("bad input in a chunk: %v", err)
	}
	// Panics in a chunk are per call.
	fs := boom.Map(registry.Local{}, ctx, []string{"a", "b"})
	for _, f := range fs {
		var pe *future.PanicError
		if _, err := f.Result(ctx); !errors.As(err, &pe) {
			t.Fatalf("panic in chunk: %v", err)
		}
	}
}

func TestGobFastPath(t *testing.T) {
	for _, v := range []any{0, -5, 1 << 40, int64(-3), uint64(7), 2.5, "", "héllo", true, false, []byte{1, 2}} {
		b, err := registry.Gob.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var a any
		if err := registry.Gob.Unmarshal(b, &a); err != nil || fmt.Sprint(a) != fmt.Sprint(v) {
			t.Fatalf("%v: got %v, %v", v, a, err)
		}
	}
	b, _ := registry.Gob.Marshal(42)
	var s string
	if err := registry.Gob.Unmarshal(b, &s); err == nil {
		t.Fatal("an int must not decode into a string")
	}
	var n int
	for _, bad := range [][]byte{{0}, {0, 1}, {0, 99, 1}, {0, 6, 2}, {0, 4, 1}} {
		if err := registry.Gob.Unmarshal(bad, &n); err == nil {
			t.Fatalf("%v decoded", bad)
		}
	}
}

func FuzzGobUnmarshal(f *testing.F) {
	for _, v := range []any{1, "s", 2.5, true, []byte{1}, point{1, 2}, []int{1, 2}, []string{"a"}, []float64{1}} {
		b, _ := registry.Gob.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a any
		registry.Gob.Unmarshal(data, &a)
		var p point
		registry.Gob.Unmarshal(data, &p)
		var n int
		registry.Gob.Unmarshal(data, &n)
	})
}

func TestGobFastSlices(t *testing.T) {
	for _, v := range []any{[]int{}, []int{1, -2, 1 << 50}, []int64{3, -4}, []float64{1.5, -2}, []string{"", "a", "héllo"}} {
		b, err := registry.Gob.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var a any
		if err := registry.Gob.Unmarshal(b, &a); err != nil || fmt.Sprint(a) != fmt.Sprint(v) {
			t.Fatalf("%v: got %v, %v", v, a, err)
		}
	}
	b, _ := registry.Gob.Marshal([]int{1, 2, 3})
	var xs []int
	if err := registry.Gob.Unmarshal(b, &xs); err != nil || len(xs) != 3 || xs[2] != 3 {
		t.Fatal(xs, err)
	}
	var ss []string
	if err := registry.Gob.Unmarshal(b, &ss); err == nil {
		t.Fatal("[]int decoded into []string")
	}
	for i := 0; i < len(b); i++ {
		if err := registry.Gob.Unmarshal(b[:i], &xs); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}

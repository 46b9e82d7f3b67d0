package procpool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/registry"
)

// release unblocks the "it.block" calls of one TestServeInProcess run; each
// run installs a fresh channel, so the test can run with -count > 1.
var release atomic.Pointer[chan struct{}]

var (
	_ = registry.Register("it.echo", func(ctx context.Context, s string) (string, error) { return s, nil })
	_ = registry.Register("it.block", func(ctx context.Context, _ int) (int, error) { <-*release.Load(); return 1, nil })
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	call := callMsg{id: 7, name: "f", deadline: 123, flags: flagBatch, payload: []byte("ccc")}
	res := resultMsg{id: 7, elapsed: 99, failed: true, data: []byte("e")}
	setup := setupMsg{version: 1, workerID: 3, codec: "gob", initName: "i", initArg: []byte{1}}
	buf.Write(call.encode())
	buf.Write(res.encode())
	buf.Write(setup.encode())
	buf.Write(encodeCancel(42))
	r := bufio.NewReader(&buf)

	ty, body, err := readFrame(r)
	if err != nil || ty != fCall {
		t.Fatal(ty, err)
	}
	if got, err := decodeCall(body); err != nil || got.id != 7 || got.name != "f" || got.deadline != 123 || got.flags != flagBatch || string(got.payload) != "ccc" {
		t.Fatalf("%+v %v", got, err)
	}
	ty, body, _ = readFrame(r)
	if got, err := decodeResult(body); ty != fResult || err != nil || got.elapsed != 99 || !got.failed || string(got.data) != "e" {
		t.Fatalf("%+v %v", got, err)
	}
	ty, body, _ = readFrame(r)
	if got, err := decodeSetup(body); ty != fSetup || err != nil || got.workerID != 3 || got.codec != "gob" || got.initName != "i" {
		t.Fatalf("%+v %v", got, err)
	}
	ty, body, _ = readFrame(r)
	if id, err := decodeCancel(body); ty != fCancel || err != nil || id != 42 {
		t.Fatal(id, err)
	}
	if _, _, err := readFrame(r); err != io.EOF {
		t.Fatalf("want io.EOF at the end, got %v", err)
	}
}

func TestMalformedFrames(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty frame":     {0, 0, 0, 0},
		"too long":        {0xff, 0xff, 0xff, 0xff},
		"truncated body":  {0, 0, 0, 9, 4, 1},
		"truncated head":  {0, 0},
		"bad call flags":  append([]byte{0, 0, 0, 6}, byte(fCall), 1, 0, 0, 2, 0),
		"trailing bytes":  append([]byte{0, 0, 0, 4}, byte(fCancel), 1, 2, 3),
		"payload too big": append([]byte{0, 0, 0, 7}, byte(fCall), 1, 0, 0, 1, 100, 1),
	} {
		ty, body, err := readFrame(bufio.NewReader(bytes.NewReader(data)))
		if err == nil {
			switch ty {
			case fCall:
				_, err = decodeCall(body)
			case fCancel:
				_, err = decodeCancel(body)
			}
		}
		if !errors.Is(err, errMalformed) {
			t.Errorf("%s: want a malformed-frame error, got %v", name, err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(callMsg{id: 1, name: "f", payload: []byte{1, 2}}.encode())
	f.Add(resultMsg{id: 1, data: []byte{1}}.encode())
	f.Add(setupMsg{codec: "gob"}.encode())
	f.Add(encodeCancel(3))
	f.Add([]byte{0, 0, 0, 1, 99})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			ty, body, err := readFrame(r)
			if err != nil {
				return
			}
			switch ty {
			case fHello:
				decodeHello(body)
			case fSetup:
				if m, err := decodeSetup(body); err == nil {
					if again, err := decodeSetup(m.encode()[5:]); err != nil || again.codec != m.codec {
						t.Fatalf("setup round trip: %v", err)
					}
				}
			case fCall:
				if m, err := decodeCall(body); err == nil {
					if again, err := decodeCall(m.encode()[5:]); err != nil || !bytes.Equal(again.payload, m.payload) || again.flags != m.flags {
						t.Fatalf("call round trip: %v", err)
					}
				}
			case fCancel:
				decodeCancel(body)
			case fResult:
				if m, err := decodeResult(body); err == nil {
					if again, err := decodeResult(m.encode()[5:]); err != nil || !bytes.Equal(again.data, m.data) || again.failed != m.failed {
						t.Fatalf("result round trip: %v", err)
					}
				}
			}
		}
	})
}

// TestServeInProcess drives the worker side over pipes in this process:
// handshake, calls, an unknown name, and the fallback that ends the worker
// when the pool's pipe closes even while a call runs.
func TestServeInProcess(t *testing.T) {
	rel := make(chan struct{})
	release.Store(&rel)
	exited := make(chan int, 4)
	exit = func(code int) { exited <- code }
	defer func() { exit = os.Exit }()
	callR, callW, _ := os.Pipe()
	resR, resW, _ := os.Pipe()
	defer resR.Close()
	served := make(chan int, 1)
	go func() { served <- serve(callR, resW); callR.Close(); resW.Close() }()
	r := bufio.NewReader(resR)
	ty, body, err := readFrame(r)
	if h, herr := decodeHello(body); err != nil || ty != fHello || herr != nil || h.magic != protocolMagic || h.pid != uint64(os.Getpid()) {
		t.Fatalf("hello: %v %v %+v", ty, err, h)
	}
	callW.Write(setupMsg{version: protocolVersion, workerID: 1, codec: "gob"}.encode())
	if ty, _, err := readFrame(r); ty != fReady || err != nil {
		t.Fatalf("ready: %v %v", ty, err)
	}
	arg, _ := registry.Gob.Marshal("hi")
	callW.Write(callMsg{id: 1, name: "it.echo", payload: arg}.encode())
	callW.Write(callMsg{id: 2, name: "it.nope", payload: arg}.encode())
	_, body, _ = readFrame(r)
	res, err := decodeResult(body)
	var s string
	if err != nil || res.id != 1 || res.failed || registry.Gob.Unmarshal(res.data, &s) != nil || s != "hi" {
		t.Fatalf("echo: %+v %v", res, err)
	}
	_, body, _ = readFrame(r)
	res, _ = decodeResult(body)
	var re registry.RemoteError
	if res.id != 2 || !res.failed || re.UnmarshalBinary(res.data) != nil || !errors.Is(&re, registry.ErrUnknownFunction) {
		t.Fatalf("unknown: %+v %v", res, re)
	}
	callW.Write(callMsg{id: 3, name: "it.block", payload: arg}.encode())
	time.Sleep(20 * time.Millisecond)
	callW.Close() // the pool is gone
	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker did not exit when its pipe closed")
	}
	close(rel)
	<-served
}

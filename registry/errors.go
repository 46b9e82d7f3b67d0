package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/trident-go/trident/future"
)

// ErrUnknownFunction is the error of a call whose name no function was
// registered under in the process that ran it. Python's equivalent is the
// AttributeError a spawned worker raises when it cannot find the pickled
// function; here it is a plain sentinel and the worker keeps running.
var ErrUnknownFunction = errors.New("registry: unknown function")

// ErrEncode is matched by errors from a codec that could not encode an
// argument (reported at submit) or a result (reported as that call's error).
// Python's counterpart is a PicklingError.
var ErrEncode = errors.New("registry: cannot encode value")

// ErrDecode is matched by errors from a codec that could not decode an
// argument (in the worker) or a result (in the caller).
var ErrDecode = errors.New("registry: cannot decode value")

var sentinels = struct {
	sync.RWMutex
	byName map[string]error
	names  []string // sorted, for a deterministic scan order
}{byName: map[string]error{}}

// RegisterError gives err a name that travels across the process boundary:
// when a remote call fails with an error whose chain contains err (by
// errors.Is), the caller's *RemoteError unwraps to err, so errors.Is works on
// both sides. It returns err so it can wrap a package-level declaration:
//
//	var ErrOdd = registry.RegisterError("example.ErrOdd", errors.New("odd"))
//
// Python has no counterpart: a pickled exception is re-created by class. It
// panics if name is empty or already used, or err is nil. The sentinels of
// context, io, io/fs and os, and those of this package, are registered
// already.
func RegisterError(name string, err error) error {
	if name == "" || err == nil {
		panic("registry: RegisterError needs a name and a non-nil error")
	}
	sentinels.Lock()
	defer sentinels.Unlock()
	if _, dup := sentinels.byName[name]; dup {
		panic(fmt.Sprintf("registry: error name %q registered twice", name))
	}
	sentinels.byName[name] = err
	i := sort.SearchStrings(sentinels.names, name)
	sentinels.names = append(sentinels.names, "")
	copy(sentinels.names[i+1:], sentinels.names[i:])
	sentinels.names[i] = name
	return err
}

// LookupError returns the sentinel registered under name.
func LookupError(name string) (error, bool) {
	sentinels.RLock()
	defer sentinels.RUnlock()
	err, ok := sentinels.byName[name]
	return err, ok
}

func init() {
	for name, err := range map[string]error{
		"context.Canceled":            context.Canceled,
		"context.DeadlineExceeded":    context.DeadlineExceeded,
		"io.EOF":                      io.EOF,
		"io.ErrUnexpectedEOF":         io.ErrUnexpectedEOF,
		"io.ErrClosedPipe":            io.ErrClosedPipe,
		"io.ErrShortWrite":            io.ErrShortWrite,
		"fs.ErrNotExist":              fs.ErrNotExist,
		"fs.ErrExist":                 fs.ErrExist,
		"fs.ErrPermission":            fs.ErrPermission,
		"fs.ErrInvalid":               fs.ErrInvalid,
		"fs.ErrClosed":                fs.ErrClosed,
		"os.ErrDeadlineExceeded":      os.ErrDeadlineExceeded,
		"errors.ErrUnsupported":       errors.ErrUnsupported,
		"future.ErrCancelled":         future.ErrCancelled,
		"registry.ErrUnknownFunction": ErrUnknownFunction,
		"registry.ErrEncode":          ErrEncode,
		"registry.ErrDecode":          ErrDecode,
	} {
		RegisterError(name, err)
	}
}

// RemoteError is how an error returned (or a panic raised) by a function in
// another process reaches the caller. It keeps the message, the Go type of
// the original error, the names of every registered sentinel found in its
// chain and, for a panic, the worker-side stack.
//
// errors.Is(remoteErr, s) is true for every registered sentinel s that the
// original error matched, and errors.As finds a *future.PanicError (Value is
// the panic message, Stack the worker's stack) when the function panicked.
// Python re-raises the pickled exception with the remote traceback as a
// string attached; trident keeps the identity it can prove (registered
// sentinels) instead of re-creating arbitrary types.
type RemoteError struct {
	// Func is the registered name of the function that failed.
	Func string
	// Message is the original error's Error() text, or the panic value.
	Message string
	// Type is the Go type of the original error, as %T prints it.
	Type string
	// Sentinels are the registered names of the sentinels the original
	// error matched with errors.Is.
	Sentinels []string
	// Panic is true when the function panicked.
	Panic bool
	// Stack is the worker-side goroutine stack of a panic.
	Stack string
}

// Error returns "remote NAME: MESSAGE" ("remote NAME: panic: VALUE" for a
// panic). The stack is not included; read Stack.
func (e *RemoteError) Error() string {
	if e.Panic {
		return "remote " + e.Func + ": panic: " + e.Message
	}
	return "remote " + e.Func + ": " + e.Message
}

// Unwrap returns the registered sentinels named in Sentinels that this
// process knows, and a *future.PanicError for a panic.
func (e *RemoteError) Unwrap() []error {
	var out []error
	for _, n := range e.Sentinels {
		if s, ok := LookupError(n); ok {
			out = append(out, s)
		}
	}
	if e.Panic {
		out = append(out, &future.PanicError{Value: e.Message, Stack: []byte(e.Stack)})
	}
	return out
}

// EncodeError describes err, returned by or panicking in the function named
// fn, as a *RemoteError ready to travel. It returns nil for a nil err, and
// err's fields unchanged (with Func filled in) when err already is a
// *RemoteError, so errors survive several hops.
func EncodeError(fn string, err error) *RemoteError {
	if err == nil {
		return nil
	}
	var re *RemoteError
	if errors.As(err, &re) && re == err {
		c := *re
		if c.Func == "" {
			c.Func = fn
		}
		return &c
	}
	out := &RemoteError{Func: fn, Message: err.Error(), Type: fmt.Sprintf("%T", err)}
	var pe *future.PanicError
	if errors.As(err, &pe) {
		out.Panic = true
		out.Message = fmt.Sprint(pe.Value)
		out.Stack = string(pe.Stack)
	}
	sentinels.RLock()
	for _, n := range sentinels.names {
		if errors.Is(err, sentinels.byName[n]) {
			out.Sentinels = append(out.Sentinels, n)
		}
	}
	sentinels.RUnlock()
	return out
}

const wireErrVersion = 1

// MarshalBinary encodes the error in a compact, codec-independent form, so
// that a failure can be reported even when the codec is what failed.
func (e *RemoteError) MarshalBinary() ([]byte, error) {
	n := 16 + len(e.Func) + len(e.Message) + len(e.Type) + len(e.Stack)
	for _, s := range e.Sentinels {
		n += len(s) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, wireErrVersion)
	flags := byte(0)
	if e.Panic {
		flags = 1
	}
	b = append(b, flags)
	for _, s := range []string{e.Func, e.Message, e.Type, e.Stack} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Sentinels)))
	for _, s := range e.Sentinels {
		b = appendString(b, s)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced. Malformed input gives
// an error matching ErrDecode, never a panic.
func (e *RemoteError) UnmarshalBinary(b []byte) error {
	bad := func(what string) error { return fmt.Errorf("%w: remote error: %s", ErrDecode, what) }
	if len(b) < 2 {
		return bad("too short")
	}
	if b[0] != wireErrVersion {
		return bad(fmt.Sprintf("unknown version %d", b[0]))
	}
	if b[1] > 1 {
		return bad("bad flags")
	}
	var out RemoteError
	out.Panic = b[1] == 1
	b = b[2:]
	var ok bool
	for _, p := range []*string{&out.Func, &out.Message, &out.Type, &out.Stack} {
		if *p, b, ok = readString(b); !ok {
			return bad("truncated string")
		}
	}
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return bad("bad sentinel count")
	}
	b = b[k:]
	for i := uint64(0); i < cnt; i++ {
		var s string
		if s, b, ok = readString(b); !ok {
			return bad("truncated sentinel name")
		}
		out.Sentinels = append(out.Sentinels, s)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	*e = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	b = b[k:]
	return string(b[:n]), b[n:], true
}

// describe is used in error texts.
func describe(name string) string {
	if strings.TrimSpace(name) == "" {
		return `""`
	}
	return fmt.Sprintf("%q", name)
}

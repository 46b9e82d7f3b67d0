package future

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// logger is the logger set with SetLogger; nil means slog.Default().
var logger atomic.Pointer[slog.Logger]

// SetLogger sets the logger that reports a panic in a done callback, for
// every future (Python logs an exception raised by a callback on the module
// logger logging.getLogger("concurrent.futures")). nil, the default, means
// slog.Default() at the time of the panic, which writes through the
// standard log package unless slog.SetDefault was called: so by default the
// report goes where log.Printf output goes (stderr unless log.SetOutput
// changed it), and a program that configured slog gets it in its own
// format. The record has level Error and the attributes future (the
// future's String), panic (the panic value) and stack (where it panicked).
func SetLogger(l *slog.Logger) { logger.Store(l) }

// logCallbackPanic reports a panic recovered from a done callback of the
// future described by what (Python's LOGGER.exception('exception calling
// callback for %r', future)). It is called from the deferred function that
// recovered, so the stack shows where the callback panicked.
func logCallbackPanic(what fmt.Stringer, v any) {
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	l.Error("future: panic calling done callback",
		slog.String("future", what.String()),
		slog.Any("panic", v),
		slog.String("stack", string(debug.Stack())))
}

// runCallbacks calls cbs in order. A panic in one is recovered and logged
// (logCallbackPanic) and the ones after it still run, as Python's
// Future._invoke_callbacks does with an exception. One deferred recover
// covers a whole run of callbacks, so the loop pays nothing for it until
// a callback panics.
func runCallbacks(what fmt.Stringer, cbs []doneCB) {
	for len(cbs) > 0 {
		cbs = runUntilPanic(what, cbs)
	}
}

// runUntilPanic calls cbs in order until one panics; it returns the ones
// after it, not called yet (nil when none panicked).
func runUntilPanic(what fmt.Stringer, cbs []doneCB) (rest []doneCB) {
	i := 0
	defer func() {
		if i < len(cbs) {
			// Only a panic leaves the loop early (runtime.Goexit too, and
			// then recover returns nil and the goroutine goes on exiting).
			if v := recover(); v != nil {
				logCallbackPanic(what, v)
				rest = cbs[i+1:]
			}
		}
	}()
	for ; i < len(cbs); i++ {
		cbs[i].fn()
	}
	return nil
}

// callSafely calls one callback of a future that is already final, as
// runCallbacks would.
func callSafely(what fmt.Stringer, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			logCallbackPanic(what, v)
		}
	}()
	fn()
}

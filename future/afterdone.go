package future

import (
	"reflect"
	"slices"
	"sync"
)

// doneCB is a registered done callback; id is 0 for callbacks that cannot
// be removed (OnDone) and unique within the future otherwise (onDoneStop).
type doneCB struct {
	fn func()
	id uint64
}

// afterDoner is implemented by waitables whose done callbacks can be
// withdrawn: *Future, and the types of other packages that embed one (the
// method is promoted to them). Wait and AsCompleted use it, when a waitable
// has it, to remove their callbacks when they return, so that waiting again
// and again on the same futures does not pile callbacks up.
type afterDoner interface {
	// onDoneStop is OnDone with a way back: it arranges for fn to be called
	// once the waitable is final (at once, in the caller's goroutine, if it
	// already is) and returns stop, which withdraws fn. stop reports true
	// if it withdrew fn before it was called, false if fn has been or is
	// being called, or stop was called already.
	onDoneStop(fn func()) (stop func() bool)
}

// onDoneStop arranges for fn to be called once the future is final, like
// OnDone, and returns a stop function that withdraws fn (the shape of
// context.AfterFunc). stop reports true if it withdrew fn before it was
// called; false if fn has been called or is being called, or if stop was
// called before. If the future is already final, fn is called at once in
// the caller's goroutine and stop always reports false. A panic in fn is
// recovered and logged, as with AddDoneCallback. Python's Future has
// add_done_callback but no remove_done_callback; asyncio's has one.
func (f *Future[T]) onDoneStop(fn func()) (stop func() bool) {
	f.mu.Lock()
	if State(f.state.Load()).Final() {
		f.mu.Unlock()
		callSafely(f, fn)
		return stopNothing
	}
	f.cbID++
	id := f.cbID
	f.cbs = append(f.cbs, doneCB{fn: fn, id: id})
	f.mu.Unlock()
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		// finishLocked takes the whole list before calling anything, so
		// an id still listed here has not been called and never will be.
		i := slices.IndexFunc(f.cbs, func(c doneCB) bool { return c.id == id })
		if i < 0 {
			return false
		}
		f.cbs = slices.Delete(f.cbs, i, i+1)
		if len(f.cbs) == 0 {
			f.cbs = nil // let a long-gone burst of waiters' memory go
		}
		return true
	}
}

func stopNothing() bool { return false }

// afterDone registers fn on w so that it can be withdrawn. Waitables that
// implement afterDoner do it themselves. For the others, each waitable gets
// one OnDone callback for its whole life, which fans out to a set of
// withdrawable subscribers kept in hubs until w is final: repeated waits
// then cost one set entry each while they wait, nothing after. Waitables
// whose dynamic type is not comparable (and so cannot key the set) fall
// back to plain OnDone.
func afterDone(w Waitable, fn func()) (stop func() bool) {
	if ad, ok := w.(afterDoner); ok {
		return ad.onDoneStop(fn)
	}
	if w.State().Final() {
		fn()
		return stopNothing
	}
	if t := reflect.TypeOf(w); t == nil || !t.Comparable() {
		w.OnDone(fn)
		return stopNothing
	}
	for {
		v, loaded := hubs.LoadOrStore(w, &hub{subs: map[*func()]struct{}{}})
		h := v.(*hub)
		if !loaded {
			w.OnDone(func() { h.fire(w) })
		}
		if stop, ok := h.add(fn); ok {
			return stop
		}
		// h fired between LoadOrStore and add: w is final now, so the
		// next round calls fn at once or finds a fresh hub.
		if w.State().Final() {
			fn()
			return stopNothing
		}
	}
}

// hubs maps a waitable without a removable callback to its *hub while it is pending.
var hubs sync.Map

// hub is the one OnDone registration of a waitable without a removable callback; it
// calls the subscribers present when the waitable becomes final.
type hub struct {
	mu    sync.Mutex
	fired bool
	subs  map[*func()]struct{}
}

func (h *hub) add(fn func()) (stop func() bool, ok bool) {
	key := &fn
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fired {
		return nil, false
	}
	h.subs[key] = struct{}{}
	return func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[key]; !ok {
			return false
		}
		delete(h.subs, key)
		return true
	}, true
}

func (h *hub) fire(w Waitable) {
	h.mu.Lock()
	h.fired = true
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	hubs.CompareAndDelete(w, h)
	for fn := range subs {
		(*fn)()
	}
}

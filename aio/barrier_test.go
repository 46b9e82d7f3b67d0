package aio_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// Barrier against CPython 3.11's asyncio.Barrier on the same scenario:
// arrival indexes over two rounds (a party arriving while the first round
// drains waits for the second), a cancelled party leaving without breaking
// the barrier, Reset releasing a waiter with BrokenBarrierError, Abort
// breaking it for waiters and later callers until Reset.
func TestBarrierAsInPython(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace lineTrace
	say, add, flush := trace.say, trace.add, trace.flush
	runV(t, func(t *aio.T) error {
		b, err := aio.NewBarrier(3)
		if err != nil {
			return err
		}
		party := func(name string, delay time.Duration) func(*aio.T) (int, error) {
			return func(t *aio.T) (int, error) {
				if err := aio.Sleep(t, delay); err != nil {
					return 0, err
				}
				i, err := b.Wait(t)
				switch {
				case err == nil:
					add("%s: index %d", name, i)
				case errors.Is(err, aio.ErrBrokenBarrier):
					add("%s: broken", name)
				case errors.Is(err, aio.ErrCancelled):
					add("%s: cancelled", name)
					return 0, err
				default:
					return 0, err
				}
				return i, nil
			}
		}
		ms := time.Millisecond
		var ts []*aio.Task[int]
		for _, p := range []struct {
			n string
			d time.Duration
		}{{"a", 10 * ms}, {"b", 20 * ms}, {"c", 30 * ms}, {"d", 30 * ms}, {"e", 40 * ms}, {"f", 50 * ms}} {
			ts = append(ts, aio.Go(t, party(p.n, p.d)))
		}
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		flush()
		say("parties=%d n_waiting=%d broken=%s", b.Parties(), b.NWaiting(), pyBool(b.Broken()))

		ta := aio.Go(t, party("a", 0))
		tb := aio.Go(t, party("b", 0))
		aio.Sleep(t, 10*ms)
		say("n_waiting=%d", b.NWaiting())
		ta.Cancel()
		aio.GatherAll(t, ta)
		say("after cancel: n_waiting=%d broken=%s", b.NWaiting(), pyBool(b.Broken()))

		if err := b.Reset(t); err != nil {
			return err
		}
		if _, err := aio.Await(t, tb); err != nil {
			return err
		}
		flush()
		say("after reset: n_waiting=%d broken=%s", b.NWaiting(), pyBool(b.Broken()))

		ts = []*aio.Task[int]{aio.Go(t, party("x", 0)), aio.Go(t, party("y", 0))}
		aio.Sleep(t, 10*ms)
		if err := b.Abort(t); err != nil {
			return err
		}
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		if _, err := party("z", 0)(t); err != nil {
			return err
		}
		flush()
		say("after abort: broken=%s", pyBool(b.Broken()))
		if err := b.Reset(t); err != nil {
			return err
		}
		ts = []*aio.Task[int]{aio.Go(t, party("p", 0)), aio.Go(t, party("q", 0)), aio.Go(t, party("r", 0))}
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		flush()
		say("after reset: broken=%s n_waiting=%d", pyBool(b.Broken()), b.NWaiting())
		return nil
	})
	compareTraces(t, "barrier", trace.traceLog)
}

func TestNewBarrierRejectsNoParties(t *testing.T) {
	for _, n := range []int{0, -1} {
		if b, err := aio.NewBarrier(n); err == nil || b != nil || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("NewBarrier(%d) = %v, %v; want an error naming the bound", n, b, err)
		}
	}
}

// Many rounds of many parties, with a cancelled party now and then: every
// round releases exactly Parties parties with distinct indexes 0..n-1 when
// nobody leaves, and nothing hangs.
func TestBarrierStress(t *testing.T) {
	const parties, rounds = 7, 200
	runV(t, func(t *aio.T) error {
		b, err := aio.NewBarrier(parties)
		if err != nil {
			return err
		}
		seen := make([]map[int]bool, rounds)
		for r := range seen {
			seen[r] = map[int]bool{}
		}
		var ts []*aio.Task[int]
		for p := range parties {
			ts = append(ts, aio.Go(t, func(t *aio.T) (int, error) {
				for r := range rounds {
					if (p+r)%3 == 0 {
						aio.Yield(t)
					}
					i, err := b.Wait(t)
					if err != nil {
						return 0, fmt.Errorf("party %d round %d: %w", p, r, err)
					}
					if seen[r][i] {
						return 0, fmt.Errorf("round %d: index %d twice", r, i)
					}
					seen[r][i] = true
				}
				return 0, nil
			}))
		}
		if _, err := aio.Gather(t, ts...); err != nil {
			return err
		}
		for r, s := range seen {
			if len(s) != parties {
				return fmt.Errorf("round %d released %d parties", r, len(s))
			}
		}
		// A party cancelled while waiting leaves; the round then needs
		// one more and is not broken.
		w := aio.Go(t, func(t *aio.T) (int, error) { return b.Wait(t) })
		aio.Yield(t)
		w.Cancel()
		if _, err := aio.Await(t, w); !errors.Is(err, aio.ErrCancelled) {
			return fmt.Errorf("cancelled party: %v", err)
		}
		if b.NWaiting() != 0 || b.Broken() {
			return fmt.Errorf("after a cancelled party: n_waiting %d broken %v", b.NWaiting(), b.Broken())
		}
		return nil
	})
}

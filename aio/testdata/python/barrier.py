# The CPython side of TestBarrierAsInPython.
import asyncio


async def main():
    b = asyncio.Barrier(3)
    log = []

    async def party(name, delay):
        await asyncio.sleep(delay)
        try:
            i = await b.wait()
            log.append(f"{name}: index {i}")
        except asyncio.BrokenBarrierError:
            log.append(f"{name}: broken")
        except asyncio.CancelledError:
            log.append(f"{name}: cancelled")
            raise

    # Three parties, two generations; the fourth arrives while the first
    # generation drains and waits for the next one.
    ts = [asyncio.create_task(party(n, d)) for n, d in
          [("a", 0.01), ("b", 0.02), ("c", 0.03), ("d", 0.03), ("e", 0.04), ("f", 0.05)]]
    await asyncio.gather(*ts)
    print("; ".join(log))
    log.clear()
    print(f"parties={b.parties} n_waiting={b.n_waiting} broken={b.broken}")

    # A cancelled waiter leaves; the barrier is not broken.
    ta = asyncio.create_task(party("a", 0))
    tb = asyncio.create_task(party("b", 0))
    await asyncio.sleep(0.01)
    print(f"n_waiting={b.n_waiting}")
    ta.cancel()
    await asyncio.gather(ta, return_exceptions=True)
    print(f"after cancel: n_waiting={b.n_waiting} broken={b.broken}")

    # Reset while b waits: b gets BrokenBarrierError, the barrier fills again.
    await b.reset()
    await tb
    print("; ".join(log))
    log.clear()
    print(f"after reset: n_waiting={b.n_waiting} broken={b.broken}")

    # Abort: waiters and later callers get BrokenBarrierError until reset.
    ts = [asyncio.create_task(party(n, 0)) for n in "xy"]
    await asyncio.sleep(0.01)
    await b.abort()
    await asyncio.gather(*ts)
    await party("z", 0)
    print("; ".join(log))
    log.clear()
    print(f"after abort: broken={b.broken}")
    await b.reset()
    ts = [asyncio.create_task(party(n, 0)) for n in "pqr"]
    await asyncio.gather(*ts)
    print("; ".join(log))
    print(f"after reset: broken={b.broken} n_waiting={b.n_waiting}")


asyncio.run(main())

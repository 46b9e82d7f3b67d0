"""CPython's threading primitives on the shapes of the syncx suite:

  queue     queue.Queue(maxsize=1024): a producer thread puts N ints, the
            main thread gets them (ns per item)
  barrier2  threading.Barrier(2): 2 threads wait N times (ns per cycle)
  barrier8  threading.Barrier(8): 8 threads wait N times (ns per cycle)
  event     two threading.Events ping-ponged N times: set, wait, clear
            (ns per round trip)

usage: syncx_threading.py NQUEUE NSYNC ROUNDS  -> prints one JSON object with
the median ns of each shape.
"""
import json
import queue
import sys
import threading
import time


def queue_batch(n):
    q = queue.Queue(maxsize=1024)

    def producer():
        for i in range(n):
            q.put(i)

    t = threading.Thread(target=producer)
    t.start()
    s = 0
    for _ in range(n):
        s += q.get()
    t.join()
    return s


def barrier_batch(parties, n):
    b = threading.Barrier(parties)

    def party():
        for _ in range(n):
            b.wait()

    ts = [threading.Thread(target=party) for _ in range(parties - 1)]
    for t in ts:
        t.start()
    party()
    for t in ts:
        t.join()


def event_batch(n):
    ping, pong = threading.Event(), threading.Event()

    def responder():
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    t = threading.Thread(target=responder)
    t.start()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    t.join()


def median_ns(rounds, n, fn):
    fn(max(1, n // 10))  # warm up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        fn(n)
        times.append((time.perf_counter_ns() - t0) / n)
    times.sort()
    return times[len(times) // 2]


def main():
    nq = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    ns = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print(json.dumps({
        "queue": median_ns(rounds, nq, queue_batch),
        "barrier2": median_ns(rounds, ns, lambda n: barrier_batch(2, n)),
        "barrier8": median_ns(rounds, ns, lambda n: barrier_batch(8, n)),
        "event": median_ns(rounds, ns, event_batch),
        "version": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()

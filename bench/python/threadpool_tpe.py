"""CPython ThreadPoolExecutor on many tiny tasks: submit N, then collect
every result, the same shape as the Go rows of the threadpool suite.

usage: threadpool_tpe.py N WORKERS ROUNDS  -> prints one JSON object
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def tiny_work(i):
    return i * 2 + 1


def batch(ex, n):
    fs = [ex.submit(tiny_work, i) for i in range(n)]
    s = 0
    for f in fs:
        s += f.result()
    return s


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    times = []
    with ThreadPoolExecutor(max_workers=workers) as ex:
        batch(ex, max(1, n // 10))  # warm up: start the threads
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            batch(ex, n)
            times.append((time.perf_counter_ns() - t0) / n)
    times.sort()
    print(json.dumps({
        "ns_per_task": times[len(times) // 2],
        "n": n,
        "workers": workers,
        "rounds": rounds,
        "version": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()

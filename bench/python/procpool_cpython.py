# CPython side of the procpool suite (stdlib only). Prints one JSON object.
#   mode "ppe":   ProcessPoolExecutor(workers).map(tiny, range(n), chunksize=1)
#   mode "pool":  multiprocessing.Pool(workers).map(tiny, range(n)) (default chunks)
#   mode "spawn": spawn-context ProcessPoolExecutor(1): creation to first result
# Each mode runs `rounds` timed rounds after a warm-up and reports the best
# round's ns per task (per start for "spawn"), timeit's convention on a
# shared machine; the median is reported too.
import json
import multiprocessing as mp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def tiny(i):
    return i * 2 + 1


def main():
    mode, n, workers, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    out = {"mode": mode, "python": sys.version.split()[0], "n": n, "workers": workers}
    times = []
    if mode == "ppe":
        with ProcessPoolExecutor(workers) as ex:
            list(ex.map(tiny, range(max(n // 10, 10)), chunksize=1))  # warm up: start workers
            for _ in range(rounds):
                t0 = time.perf_counter_ns()
                s = sum(ex.map(tiny, range(n), chunksize=1))
                times.append((time.perf_counter_ns() - t0) / n)
    elif mode == "pool":
        with mp.Pool(workers) as pool:
            pool.map(tiny, range(max(n // 10, 10)))
            for _ in range(rounds):
                t0 = time.perf_counter_ns()
                s = sum(pool.map(tiny, range(n)))
                times.append((time.perf_counter_ns() - t0) / n)
    elif mode == "spawn":
        ctx = mp.get_context("spawn")
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            ex = ProcessPoolExecutor(1, mp_context=ctx)
            ex.submit(tiny, 1).result()
            times.append(time.perf_counter_ns() - t0)
            ex.shutdown()
    else:
        raise SystemExit("unknown mode " + mode)
    out["ns_per_task"] = min(times)
    out["median_ns_per_task"] = statistics.median(times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

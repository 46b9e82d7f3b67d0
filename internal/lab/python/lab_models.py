"""trident lab: the articles' workloads under CPython's concurrency models.

Stdlib only. Run by `trident lab` (embedded in the Go binary and written to a
temporary directory). One invocation runs one workload under one model and
prints ONE JSON object on stdout:

  python3 lab_models.py calibrate
  python3 lab_models.py serve LAB_PID   (the lab's way: one request per line)
  python3 lab_models.py run --model threading --tasks 8 --numbers 2000 \
      --reads 0 --url http://127.0.0.1:PORT/item --sleep-ms 0 --parts 7

Figures: wall_s (the model's run, pool start-up and shut-down included),
cpu_s (user+system of this process and its waited-for children),
self_maxrss_kb, children_maxrss_kb (sum of each worker process's own peak),
workers, spans [[lane, task, kind, start_us, end_us], ...].
"""

import argparse
import asyncio
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import resource
import signal
import socket
import sys
import threading
import time
import urllib.parse

BASE = 1 << 20
PART_CPU, PART_READS, PART_SLEEP = 1, 2, 4


def is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(lo, hi):
    c = 0
    for n in range(lo, hi):
        if is_prime(n):
            c += 1
    return c


def calibrate():
    """Numbers (from BASE) that one millisecond of CPU checks here. It counts
    this thread's CPU time, not wall time, so a busy machine does not skew
    it: one doubling search finds a count that takes at least 20 ms, two more
    tries at that count follow, and the best of the three is kept."""
    def try_(n):
        c0 = time.thread_time()
        count_primes(BASE, BASE + n)
        return max(time.thread_time() - c0, 1e-9)
    n = 200
    el = try_(n)
    while el < 0.02 and n < 1 << 24:
        n *= 2
        el = try_(n)
    best = n / (el * 1000.0)
    for _ in range(2):
        best = max(best, n / (try_(n) * 1000.0))
    return best


def now_us(epoch):
    return (time.time_ns() - epoch) / 1e3


def maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ---- the parts of a task, blocking style -------------------------------------

def cpu_part(spec):
    """Counts primes in chunks and returns the spans: "run" where this thread
    got CPU time for at least half of a chunk's wall time, "ready" where it
    did not (it waited for the GIL or for a core), so a timeline draws
    computing apart from waiting to compute."""
    epoch, task = spec["epoch"], spec["task"]
    lo, hi = BASE, BASE + spec["numbers"]
    chunk = max(1, int(spec.get("chunk", 500)))
    primes = 0
    spans = []
    while lo < hi:
        end = min(lo + chunk, hi)
        w0, c0 = time.perf_counter(), time.thread_time()
        t0 = now_us(epoch)
        primes += count_primes(lo, end)
        dc, dw = time.thread_time() - c0, time.perf_counter() - w0
        t1 = now_us(epoch)
        kind = "run" if dc >= 0.5 * dw else "ready"
        if spans and spans[-1][1] == kind:
            spans[-1][3] = t1
        else:
            spans.append([task, kind, t0, t1])
        lo = end
    return primes, spans


def reads_part(spec):
    """Raw HTTP/1.1 keep-alive GETs over a blocking socket: the same protocol
    the asyncio version speaks over streams, so threads and the event loop
    differ in how they wait, not in how much parsing they do."""
    spans = []
    u = urllib.parse.urlsplit(spec["url"])
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u.path, u.netloc)).encode()
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    f = sock.makefile("rb")
    try:
        for _ in range(spec["reads"]):
            t0 = now_us(spec["epoch"])
            sock.sendall(req)
            status = f.readline()
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            data = f.read(length)
            if not status.startswith(b"HTTP/1.1 200") or len(data) != 1024:
                raise RuntimeError("local server answered %r" % status[:40])
            spans.append([spec["task"], "wait", t0, now_us(spec["epoch"])])
    finally:
        f.close()
        sock.close()
    return spans


def sleep_part(spec):
    t0 = now_us(spec["epoch"])
    time.sleep(spec["sleep"])
    return [spec["task"], "wait", t0, now_us(spec["epoch"])]


def run_task(spec):
    """One whole task, blocking style (sequential, threads, processes)."""
    spans = []
    parts = spec["parts"]
    if parts & PART_CPU and spec["numbers"] > 0:
        _, s = cpu_part(spec)
        spans.extend(s)
    if parts & PART_READS and spec["reads"] > 0:
        spans.extend(reads_part(spec))
    if parts & PART_SLEEP and spec["sleep"] > 0:
        spans.append(sleep_part(spec))
    return {"pid": os.getpid(), "tid": threading.get_ident(), "maxrss": maxrss_kb(), "spans": spans}


def cpu_only(spec):
    """The CPU part alone, for asyncio offloading to a thread or a process."""
    if spec["numbers"] <= 0:
        return {"pid": os.getpid(), "tid": threading.get_ident(), "maxrss": maxrss_kb(), "spans": []}
    _, s = cpu_part(spec)
    return {"pid": os.getpid(), "tid": threading.get_ident(), "maxrss": maxrss_kb(), "spans": s}


def reads_only(spec):
    return {"pid": os.getpid(), "tid": threading.get_ident(), "maxrss": maxrss_kb(), "spans": reads_part(spec)}


# ---- the parts of a task, asyncio style ----------------------------------------

async def async_reads(spec):
    """Raw HTTP/1.1 keep-alive GETs over asyncio streams (the stdlib has no
    async HTTP client)."""
    spans = []
    u = urllib.parse.urlsplit(spec["url"])
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u.path, u.netloc)).encode()
    try:
        for _ in range(spec["reads"]):
            t0 = now_us(spec["epoch"])
            writer.write(req)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            data = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or len(data) != 1024:
                raise RuntimeError("local server answered %r" % head[:40])
            spans.append([spec["task"], "wait", t0, now_us(spec["epoch"])])
    finally:
        writer.close()
        await writer.wait_closed()
    return spans


async def async_task(spec, mode, executor):
    spans = []
    infos = []
    parts = spec["parts"]
    loop = asyncio.get_running_loop()
    if parts & PART_CPU:
        if mode == "asyncio":
            if spec["numbers"] > 0:
                _, s = cpu_part(spec)  # blocks the loop: the articles' warning
                spans.extend(s)
        elif mode == "asyncio-to-thread":
            infos.append(await asyncio.to_thread(cpu_only, spec))
        else:
            infos.append(await loop.run_in_executor(executor, cpu_only, spec))
    if parts & PART_READS and spec["reads"] > 0:
        if mode == "asyncio-to-thread":
            infos.append(await asyncio.to_thread(reads_only, spec))
        else:
            spans.extend(await async_reads(spec))
    if parts & PART_SLEEP and spec["sleep"] > 0:
        t0 = now_us(spec["epoch"])
        await asyncio.sleep(spec["sleep"])
        spans.append([spec["task"], "wait", t0, now_us(spec["epoch"])])
    for info in infos:
        spans.extend(info["spans"])
    return {"pid": os.getpid(), "tid": 0, "maxrss": maxrss_kb(), "spans": spans, "infos": infos}


# ---- the models ---------------------------------------------------------------

def lanes_by(results, key):
    """Give each distinct worker (thread or pid) a lane number in order of
    first appearance."""
    lanes = {}
    out = []
    for r in results:
        lane = lanes.setdefault(r[key], len(lanes))
        for s in r["spans"]:
            out.append([lane] + s)
    return out, len(lanes)


def lanes_by_task(results):
    out = []
    for r in results:
        for s in r["spans"]:
            out.append([s[0]] + s)
    return out


def children_rss(results):
    per = {}
    me = os.getpid()
    for r in results:
        for info in [r] + r.get("infos", []):
            if info["pid"] != me:
                per[info["pid"]] = max(per.get(info["pid"], 0), info["maxrss"])
    return sum(per.values())


def run_model(model, specs):
    n = len(specs)
    cores = os.cpu_count() or 1
    if model == "sequential":
        res = [run_task(s) for s in specs]
        return res, 1, lambda: [[0] + s for r in res for s in r["spans"]]
    if model == "threading":
        res = [None] * n
        errs = []

        def target(i):
            try:
                res[i] = run_task(specs[i])
            except BaseException as e:  # reported below, never lost
                errs.append(e)

        threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errs:
            raise errs[0]
        return res, n, lambda: lanes_by_task(res)
    if model == "thread-pool":
        ex = cf.ThreadPoolExecutor()
        try:
            res = list(ex.map(run_task, specs))
        finally:
            ex.shutdown(wait=True)
        return res, ex._max_workers, lambda: lanes_by(res, "tid")[0]
    if model == "multiprocessing":
        pool = mp.Pool()
        try:
            res = pool.map(run_task, specs, chunksize=1)
        finally:
            pool.close()
            pool.join()
        return res, cores, lambda: lanes_by(res, "pid")[0]
    if model == "process-pool":
        ex = cf.ProcessPoolExecutor()
        try:
            res = list(ex.map(run_task, specs))
        finally:
            ex.shutdown(wait=True)
        return res, ex._max_workers, lambda: lanes_by(res, "pid")[0]
    if model in ("asyncio", "asyncio-to-thread", "asyncio-processes"):
        async def main():
            executor = None
            if model == "asyncio-processes" and any(s["parts"] & PART_CPU for s in specs):
                executor = cf.ProcessPoolExecutor()
            try:
                return await asyncio.gather(*(async_task(s, model, executor) for s in specs))
            finally:
                if executor is not None:
                    executor.shutdown(wait=True)
        res = asyncio.run(main())
        workers = n
        return res, workers, lambda: lanes_by_task(res)
    raise SystemExit("unknown model %r" % model)


def cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def reset_peak():
    """Restarts this process's peak-RSS count (Linux), so that a long-lived
    interpreter reports each row's own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return maxrss_kb()


def run_one(req):
    """Runs one row and returns its JSON-ready result."""
    epoch = time.time_ns()
    specs = [{"task": i, "numbers": req["numbers"], "reads": req["reads"], "url": req["url"],
              "sleep": req["sleep_ms"] / 1000.0, "epoch": epoch, "parts": req["parts"],
              "chunk": req.get("chunk", 500)} for i in range(req["tasks"])]
    reset_peak()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    res, workers, spans = run_model(req["model"], specs)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    return {
        "wall_s": wall, "cpu_s": cpu, "workers": workers,
        "self_maxrss_kb": peak_kb(), "children_maxrss_kb": children_rss(res),
        "spans": spans(), "python": sys.version.split()[0],
        "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
    }


def watch_parent(parent, interval=0.1):
    """Ends this interpreter's process group (itself and the worker processes
    of the row it is running) as soon as its parent, the lab, is gone: a lab
    killed with SIGKILL cannot close stdin in time, and a row in the middle
    of a pool would run on, and its workers with it. The lab starts the
    interpreter as the leader of its own process group and passes its pid
    (a pyenv shim may have taken long enough to start the interpreter for
    the lab to be gone already); a parent's death shows as a change of
    os.getppid() (the orphan is handed to init or a subreaper). It checks
    every interval seconds, starting now."""
    if parent is None:
        parent = os.getppid()

    me = os.getpid()

    def end_group(*_):
        if os.getpid() != me:  # a forked worker: SIGTERM as usual
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    # The lab asks the kernel for a SIGTERM to this process when it dies
    # (Pdeathsig): the quick way out; the loop below is the backstop.
    # Forked workers get the default back (a pool terminating its workers
    # must not end the group).
    signal.signal(signal.SIGTERM, end_group)
    os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))

    def loop():
        while True:
            if os.getppid() != parent:
                end_group()
            time.sleep(interval)

    threading.Thread(target=loop, name="watch-parent", daemon=True).start()


def serve(parent=None):
    """One JSON request per line on stdin, one JSON answer per line on
    stdout, until stdin closes: the lab keeps one interpreter for the whole
    run, so no row pays for starting Python and importing its modules.
    parent is the lab's pid (None: this process's parent now)."""
    watch_parent(parent)
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        try:
            if req.get("cmd") == "calibrate":
                out = {"numbers_per_ms": calibrate(), "python": sys.version.split()[0],
                       "gil": getattr(sys, "_is_gil_enabled", lambda: True)()}
            else:
                out = run_one(req)
        except Exception as e:  # reported to the lab as the row's error
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]) if len(sys.argv) > 2 else None)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["calibrate", "run", "serve"])
    ap.add_argument("--model", default="sequential")
    ap.add_argument("--tasks", type=int, default=1)
    ap.add_argument("--numbers", type=int, default=0)
    ap.add_argument("--reads", type=int, default=0)
    ap.add_argument("--url", default="")
    ap.add_argument("--sleep-ms", type=float, default=0)
    ap.add_argument("--parts", type=int, default=7)
    a = ap.parse_args()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    if a.cmd == "calibrate":
        print(json.dumps({"numbers_per_ms": calibrate(), "python": sys.version.split()[0], "gil": gil}))
        return
    epoch = time.time_ns()
    specs = [{"task": i, "numbers": a.numbers, "reads": a.reads, "url": a.url,
              "sleep": a.sleep_ms / 1000.0, "epoch": epoch, "parts": a.parts} for i in range(a.tasks)]
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    res, workers, spans = run_model(a.model, specs)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    print(json.dumps({
        "wall_s": wall, "cpu_s": cpu, "workers": workers,
        "self_maxrss_kb": maxrss_kb(), "children_maxrss_kb": children_rss(res),
        "spans": spans(), "python": sys.version.split()[0], "gil": gil,
    }))


if __name__ == "__main__":
    main()

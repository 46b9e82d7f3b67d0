"""RQ (Python's Redis Queue) end-to-end anchor for the trident `jobs` suite.

usage: rq_jobs.py REDIS_URL N BATCH WORKERS [CLASS ...]
       CLASS is SimpleWorker (default) and/or Worker; N may be given per class
       as CLASS:N (e.g. Worker:2000).

For each worker class: start WORKERS worker processes (each `CLASS(...).work()`
on the same queue, not burst, so they are up and idle before the clock starts,
as trident's workers are), then time
  enqueue: N tiny jobs with Queue.enqueue_many, one pipelined call per BATCH;
  run:     until every job is in the queue's FinishedJobRegistry (polled
           with ZCARD every 5 ms; a failed job aborts the run);
  read:    every job read back in batches of BATCH: Job.fetch_many (job
           hashes, pipelined) plus the latest result of each job from its
           results stream (pipelined XREVRANGE, decoded with
           rq.results.Result.restore: job.return_value() would cost a round
           trip per job); every job must be finished with value 2*i+1.
The workers get SIGTERM (RQ's warm shutdown) afterwards and the database is
flushed between classes.

Prints one JSON object: the first class's figures at the top level, and
"rows": one object per class. Stdlib + rq + redis only.
"""
import json
import os
import signal
import subprocess
import sys
import time

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.results import Result

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rq_jobfuncs  # noqa: E402

QUEUE = "trident-bench"
CLASSES = {"SimpleWorker": SimpleWorker, "Worker": Worker}


def worker_main(url, cls_name):
    """Child process: one RQ worker until SIGTERM."""
    conn = Redis.from_url(url)
    w = CLASSES[cls_name]([Queue(QUEUE, connection=conn)], connection=conn,
                          log_job_description=False)
    w.work(burst=False, logging_level="WARNING")


def start_workers(url, cls_name, k, conn):
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", url, cls_name],
                              env=env, stdout=subprocess.DEVNULL)
             for _ in range(k)]
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=conn)) < k:
        for p in procs:
            if p.poll() is not None:
                stop_workers(procs)
                raise SystemExit("rq worker exited early with code %s" % p.returncode)
        if time.monotonic() > deadline:
            stop_workers(procs)
            raise SystemExit("rq workers did not register within 60 s")
        time.sleep(0.02)
    return procs


def stop_workers(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_class(url, cls_name, n, batch, workers):
    conn = Redis.from_url(url)
    conn.flushdb()
    q = Queue(QUEUE, connection=conn)
    procs = start_workers(url, cls_name, workers, conn)
    try:
        t0 = time.perf_counter()
        ids = []
        for lo in range(0, n, batch):
            datas = [Queue.prepare_data(rq_jobfuncs.tiny, args=(i,))
                     for i in range(lo, min(lo + batch, n))]
            ids.extend(j.id for j in q.enqueue_many(datas))
        t1 = time.perf_counter()
        finished = q.finished_job_registry
        failed = q.failed_job_registry
        while True:
            if failed.count:
                raise SystemExit("%d rq jobs failed" % failed.count)
            if finished.count >= n:
                break
            time.sleep(0.005)
        t2 = time.perf_counter()
        bad = 0
        for lo in range(0, n, batch):
            chunk = ids[lo:lo + batch]
            jobs = Job.fetch_many(chunk, connection=conn)
            with conn.pipeline() as pipe:
                for jid in chunk:
                    pipe.xrevrange(Result.get_key(jid), "+", "-", count=1)
                latest = pipe.execute()
            for k, (job, res) in enumerate(zip(jobs, latest)):
                if job is None or job.get_status(refresh=False) != JobStatus.FINISHED or not res:
                    bad += 1
                    continue
                rid, payload = res[0]
                r = Result.restore(job.id, rid.decode(), payload, connection=conn)
                if r.type != Result.Type.SUCCESSFUL or r.return_value != 2 * (lo + k) + 1:
                    bad += 1
        t3 = time.perf_counter()
    finally:
        stop_workers(procs)
    if bad:
        raise SystemExit("%d of %d rq jobs not finished with the right result" % (bad, n))
    conn.flushdb()
    total = t3 - t0
    return {"n": n, "enqueue_s": t1 - t0, "run_s": t2 - t1, "read_s": t3 - t2,
            "total_s": total, "jobs_per_s": n / total, "worker": cls_name,
            "workers": workers, "batch": batch}


def main(argv):
    if len(argv) >= 2 and argv[1] == "--worker":
        worker_main(argv[2], argv[3])
        return
    if len(argv) < 5:
        raise SystemExit(__doc__)
    url, n, batch, workers = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    specs = argv[5:] or ["SimpleWorker"]
    rows = []
    for spec in specs:
        name, _, k = spec.partition(":")
        if name not in CLASSES:
            raise SystemExit("unknown worker class %r" % name)
        rows.append(run_class(url, name, int(k) if k else n, batch, workers))
    out = dict(rows[0])
    out["rows"] = rows
    import rq
    import redis
    out["rq_version"] = rq.__version__
    out["redis_py_version"] = redis.__version__
    out["redis_server_version"] = Redis.from_url(url).info("server").get("redis_version", "?")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)

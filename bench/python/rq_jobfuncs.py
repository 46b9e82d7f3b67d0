"""The job function rq_jobs.py enqueues; RQ workers import it by name
("rq_jobfuncs.tiny"), so it lives in its own importable module next to the
script. Same work as trident's bench.jobs.tiny."""


def tiny(n):
    return n * 2 + 1

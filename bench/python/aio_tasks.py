# CPython asyncio side of the aio suite: create N trivial tasks, then await
# each; and one sleep(0) switch. Prints one JSON object.
import asyncio, json, sys, time

async def trivial():
    return 1

async def create_await(n):
    tasks = [asyncio.create_task(trivial()) for _ in range(n)]
    s = 0
    for t in tasks:
        s += await t
    return s

async def switches(n):
    for _ in range(n):
        await asyncio.sleep(0)

def timed(coro_fn, n):
    t0 = time.perf_counter_ns()
    asyncio.run(coro_fn(n))
    return (time.perf_counter_ns() - t0) / n

def main():
    n = int(sys.argv[1]); rounds = int(sys.argv[2])
    timed(create_await, max(1, n // 10))
    ca = sorted(timed(create_await, n) for _ in range(rounds))
    sw = sorted(timed(switches, n) for _ in range(rounds))
    print(json.dumps({"create_await_ns": ca[len(ca) // 2], "switch_ns": sw[len(sw) // 2],
                      "version": sys.version.split()[0]}))

main()

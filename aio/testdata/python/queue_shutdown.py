# The CPython side of TestQueueShutdownAsInPython313 (needs Python 3.13).
import asyncio


async def main():
    log = []

    async def getter(q, name):
        try:
            v = await q.get()
            log.append(f"{name}: got {v}")
        except asyncio.QueueShutDown:
            log.append(f"{name}: QueueShutDown")

    async def putter(q, name, v):
        try:
            await q.put(v)
            log.append(f"{name}: put {v}")
        except asyncio.QueueShutDown:
            log.append(f"{name}: QueueShutDown")

    # Plain shutdown: waiting putters fail, the items left are still got,
    # then gets fail; puts fail.
    q = asyncio.Queue(2)
    q.put_nowait(1)
    q.put_nowait(2)
    p = asyncio.create_task(putter(q, "blocked putter", 3))
    await asyncio.sleep(0)
    q.shutdown()
    await p
    for name in ["get a", "get b", "get c"]:
        await getter(q, name)
    try:
        q.put_nowait(4)
    except asyncio.QueueShutDown:
        log.append("put_nowait: QueueShutDown")
    try:
        q.get_nowait()
    except asyncio.QueueShutDown:
        log.append("get_nowait: QueueShutDown")
    print("; ".join(log))
    log.clear()

    # Getters waiting on an empty queue wake up failing.
    q = asyncio.Queue()
    gs = [asyncio.create_task(getter(q, f"waiting getter {i}")) for i in range(2)]
    await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*gs)
    print("; ".join(log))
    log.clear()

    # Immediate: the items are dropped and count as done, so join returns.
    q = asyncio.Queue()
    for i in range(3):
        q.put_nowait(i)
    v = await q.get()
    log.append(f"got {v}, unfinished 3")
    j = asyncio.create_task(q.join())
    await asyncio.sleep(0)
    q.shutdown(immediate=True)
    await asyncio.sleep(0)
    log.append(f"join done: {j.done()} (one item taken and not marked done)")
    q.task_done()
    await asyncio.sleep(0)
    log.append(f"after task_done: join done {j.done()}, qsize {q.qsize()}")
    await getter(q, "get")
    print("; ".join(log))


asyncio.run(main())

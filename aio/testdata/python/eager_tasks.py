# The CPython side of TestEagerTasksAsInPython (needs Python 3.12+).
import asyncio


async def main():
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
    log = []

    async def quick():
        log.append("quick runs")
        return 1

    async def slow():
        log.append("slow starts")
        await asyncio.sleep(0)
        log.append("slow resumes")
        return 2

    t1 = asyncio.create_task(quick())
    log.append(f"after create quick: done={t1.done()}")
    t2 = asyncio.create_task(slow())
    log.append(f"after create slow: done={t2.done()}")
    log.append(f"results {await t1} {await t2}")
    print("; ".join(log))
    log.clear()

    async def parent():
        log.append("parent starts")
        c = asyncio.create_task(quick())
        log.append(f"parent: child done={c.done()}")
        return await c

    log.append(f"nested -> {await asyncio.create_task(parent())}")
    async with asyncio.TaskGroup() as tg:
        t3 = tg.create_task(quick())
        log.append(f"group: child done at once={t3.done()}")
        t4 = tg.create_task(slow())
    log.append(f"group: {t3.result()} {t4.result()}")

    async def fails():
        raise ValueError("eager failure")

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(fails())
            log.append("group body goes on after the failed child")
            await asyncio.sleep(1)
            log.append("not reached")
    except ExceptionGroup as eg:
        log.append(f"group errors: {', '.join(str(e) for e in eg.exceptions)}")
    print("; ".join(log))


asyncio.run(main())

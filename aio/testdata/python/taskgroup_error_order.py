# The CPython side of TestTaskGroupErrorOrderChildrenFirst.
import asyncio


async def main():
    async def fail(msg, d):
        await asyncio.sleep(d)
        raise ValueError(msg)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(fail("child 1", 0.01))
            tg.create_task(fail("child 2", 1))
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise ValueError("body")
    except ExceptionGroup as eg:
        print("errors:", ", ".join(str(e) for e in eg.exceptions))

    # The body fails first, on its own: the children are cancelled and
    # the body's error is the only one.
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(fail("child", 1))
            raise ValueError("body")
    except ExceptionGroup as eg:
        print("errors:", ", ".join(str(e) for e in eg.exceptions))


asyncio.run(main())

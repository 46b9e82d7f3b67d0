# The CPython side of TestWaitForTaskThatSwallowsTimeout.
import asyncio


async def inner():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        print("inner: caught the timeout's cancellation, returns 7")
        return 7
    return 0


async def main():
    me = asyncio.current_task()
    v = await asyncio.wait_for(inner(), 0.01)
    print(f"wait_for: returned {v}, cancelling={me.cancelling()}")

    async with asyncio.timeout(0.01) as cm:
        v = await asyncio.create_task(inner())
        print(f"timeout: await returned {v}")
        await asyncio.sleep(0.01)
        print("timeout: the next await in the scope is not cancelled")
    print(f"timeout: scope exited without error, expired={cm.expired()}, cancelling={me.cancelling()}")


asyncio.run(main())

# The CPython side of TestAwaitOfTaskThatSwallowsCancellation.
import asyncio


async def main():
    async def inner():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            print("inner: caught the cancellation, returns 42")
            return 42
        return 0

    async def outer(it):
        v = await it
        me = asyncio.current_task()
        print(f"outer: await returned {v}, cancelling={me.cancelling()}")
        await asyncio.sleep(0.01)
        print("outer: its next await is not cancelled")
        return v + 1

    it = asyncio.create_task(inner())
    ot = asyncio.create_task(outer(it))
    await asyncio.sleep(0.01)
    print(f"cancel outer: {ot.cancel()}")
    r = await ot
    print(f"outer: result {r}, cancelled={ot.cancelled()}, inner cancelled={it.cancelled()}")

    # Cancelled again while the awaited task still runs: that request is
    # passed on to it as well.
    async def stubborn():
        n = 0
        while True:
            try:
                await asyncio.sleep(10)
                return -1
            except asyncio.CancelledError:
                n += 1
                print(f"stubborn: caught cancellation {n}")
                if n == 2:
                    return n

    async def outer2(st):
        v = await st
        print(f"outer2: await returned {v}, cancelling={asyncio.current_task().cancelling()}")
        return v

    st = asyncio.create_task(stubborn())
    ot2 = asyncio.create_task(outer2(st))
    await asyncio.sleep(0.01)
    ot2.cancel()
    await asyncio.sleep(0.01)
    ot2.cancel()
    r = await ot2
    print(f"outer2: result {r}, cancelled={ot2.cancelled()}")

    # An inner task that lets the cancellation through: the outer task
    # ends cancelled.
    async def plain():
        await asyncio.sleep(10)

    async def outer3(pt):
        await pt
        print("outer3: not reached")

    pt = asyncio.create_task(plain())
    ot3 = asyncio.create_task(outer3(pt))
    await asyncio.sleep(0.01)
    ot3.cancel()
    try:
        await ot3
    except asyncio.CancelledError:
        pass
    print(f"outer3: cancelled={ot3.cancelled()}, inner cancelled={pt.cancelled()}")


asyncio.run(main())

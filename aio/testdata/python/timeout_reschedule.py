# The CPython side of TestTimeoutScopeRescheduleAsInPython.
import asyncio


async def main():
    loop = asyncio.get_running_loop()

    # Moving the deadline later: the body outlives the first one.
    async with asyncio.timeout(0.05) as cm:
        print(f"deadline set: {cm.when() is not None}")
        cm.reschedule(loop.time() + 0.2)
        await asyncio.sleep(0.1)
        print(f"extended: slept past the first deadline, expired={cm.expired()}")

    # No deadline (None), then one.
    try:
        async with asyncio.timeout(None) as cm:
            print(f"no deadline: {cm.when() is None}")
            cm.reschedule(loop.time() + 0.01)
            await asyncio.sleep(1)
    except TimeoutError:
        print(f"timed out after a deadline was set, expired={cm.expired()}")

    # Removing the deadline.
    async with asyncio.timeout(0.01) as cm:
        cm.reschedule(None)
        await asyncio.sleep(0.05)
        print(f"deadline removed: no timeout, expired={cm.expired()}")

    # A deadline in the past expires at the loop's next iteration, not at once.
    try:
        async with asyncio.timeout(10) as cm:
            cm.reschedule(loop.time() - 1)
            print(f"past deadline: expired={cm.expired()} before the next await")
            await asyncio.sleep(0)
            print("not reached")
    except TimeoutError:
        print("past deadline: timed out at the next await")

    # Once expired, or after the scope, the deadline cannot change.
    try:
        async with asyncio.timeout(0.01) as cm:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                try:
                    cm.reschedule(None)
                except RuntimeError:
                    print("reschedule while expiring: RuntimeError")
                raise
    except TimeoutError:
        print("timed out")
    try:
        cm.reschedule(None)
    except RuntimeError:
        print("reschedule after the scope: RuntimeError")


asyncio.run(main())

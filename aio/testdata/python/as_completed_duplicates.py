# The CPython side of TestAsCompletedDeduplicates.
import asyncio


async def main():
    t = asyncio.create_task(asyncio.sleep(0.01, result=1))
    u = asyncio.create_task(asyncio.sleep(0.02, result=2))
    done = asyncio.create_task(asyncio.sleep(0, result=0))
    await asyncio.sleep(0.001)
    out = [await f for f in asyncio.as_completed([t, done, u, t, done])]
    print("results:", " ".join(str(v) for v in out))


asyncio.run(main())

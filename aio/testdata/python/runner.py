# The CPython side of TestRunnerAsInPython.
import asyncio

state = {}


async def first():
    state["loop"] = asyncio.get_running_loop()
    state["event"] = asyncio.Event()

    async def background():
        try:
            await state["event"].wait()
            print("background: saw the event set by run 2")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("background: cancelled by close")
            raise

    state["bg"] = asyncio.create_task(background())
    await asyncio.sleep(0)
    return 1


async def second():
    print(f"run 2: same loop {asyncio.get_running_loop() is state['loop']}, "
          f"background done {state['bg'].done()}")
    state["event"].set()
    await asyncio.sleep(0.01)
    return 2


async def failing():
    raise ValueError("run 3 failed")


async def group():
    async with asyncio.TaskGroup() as tg:
        ts = [tg.create_task(asyncio.sleep(0.01, result=i)) for i in range(3)]
    return sum(t.result() for t in ts)


with asyncio.Runner() as runner:
    print(f"run 1 -> {runner.run(first())}")
    print(f"between runs: background done {state['bg'].done()}")
    print(f"run 2 -> {runner.run(second())}")
    try:
        runner.run(failing())
    except ValueError as e:
        print(f"run 3 -> ValueError: {e}")
    print(f"run 4 (TaskGroup) -> {runner.run(group())}")
print(f"closed: background cancelled {state['bg'].cancelled()}")
coro = second()
try:
    runner.run(coro)
except RuntimeError:
    coro.close()
    print("run after close: RuntimeError")

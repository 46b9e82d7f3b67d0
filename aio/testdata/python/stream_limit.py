# The CPython side of TestStreamLimitExcludesSeparatorAndReadLineDiscards.
import asyncio


async def main():
    r = asyncio.StreamReader(limit=8)

    # An 8-byte line plus its newline fits a limit of 8; a longer line
    # makes readline raise and drop it (it is whole in the buffer).
    r.feed_data(b"12345678\nthis line is too long\nnext\n")
    print("readline", await r.readline())
    try:
        await r.readline()
    except ValueError as e:
        print("readline error:", e)
    print("readline", await r.readline())

    # An over-long line whose newline has not arrived: the buffer is
    # cleared, so what comes later is read as a line of its own.
    r.feed_data(b"0123456789")
    try:
        await r.readline()
    except ValueError as e:
        print("readline error:", e)
    r.feed_data(b"ab\nc\n")
    print("readline", await r.readline())
    print("readline", await r.readline())

    # readuntil: the limit excludes the separator too; with a separator of
    # n bytes, limit+n-1 bytes without it are still waited on.
    task = asyncio.create_task(r.readuntil(b"--"))
    r.feed_data(b"abcdefgh-")
    await asyncio.sleep(0)
    r.feed_data(b"-")
    print("readuntil", await task)
    # Over the limit: LimitOverrunError, and the data stays buffered.
    r.feed_data(b"ijklmnopq--")
    try:
        await r.readuntil(b"--")
    except asyncio.LimitOverrunError as e:
        print("readuntil error:", e, "consumed", e.consumed)
    print("readexactly", await r.readexactly(11))
    r.feed_eof()
    print("readline", await r.readline())


asyncio.run(main())

# CPython asyncio side of the aio suite: N tasks each sleeping S seconds on
# the real clock, twice in this process (the second run reuses the memory of
# the first); wall time of each and peak RSS. Prints one JSON object.
import asyncio, json, resource, sys, time

async def sleeper(s):
    await asyncio.sleep(s)

async def run(n, s):
    await asyncio.gather(*(sleeper(s) for _ in range(n)))

def rss_kb():
    # VmHWM (peak RSS of this process image, KiB). ru_maxrss is not used: on
    # Linux it keeps the high-water mark of the parent across fork+exec.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def main():
    n = int(sys.argv[1]); s = float(sys.argv[2])
    base = rss_kb()
    t0 = time.perf_counter()
    asyncio.run(run(n, s))
    wall = time.perf_counter() - t0
    peak = rss_kb()
    t0 = time.perf_counter()
    asyncio.run(run(n, s))
    wall2 = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "wall2_s": wall2, "peak_rss_kb": peak, "base_rss_kb": base,
                      "version": sys.version.split()[0]}))

main()

#!/usr/bin/env python3
"""Open-loop load for `./ngx_tunny_module bench overload`.

    overload.py PORT RATE SECONDS URL... [--tag T] [--rss PID,...]

Starts one request every 1/RATE seconds for SECONDS, each on a new
HTTP/1.0 connection, whatever the answers (an open loop: offered load
does not fall when the server slows down, as it would with wrk's closed
loop), cycling through the URLs.  Prints one JSON object: the statuses,
and for the admitted (2xx) and the refused (503) answers their count and
latency p50/p99/max in ms; socket errors are counted, never dropped.
With --rss, the largest summed RSS (kB) of those processes, sampled every
100 ms.  Only loopback is ever contacted.
"""

import asyncio
import json
import sys
import time


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


async def one(port, url, results):
    t0 = time.monotonic()
    status = 0
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), 30)
        writer.write(f"GET {url} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readline(), 120)
        parts = head.split()
        status = int(parts[1]) if len(parts) > 1 else 0
        while await asyncio.wait_for(reader.read(65536), 120):
            pass
        writer.close()
    except (OSError, asyncio.TimeoutError, ValueError):
        status = 0
    results.append((status, (time.monotonic() - t0) * 1000))


async def main():
    args = sys.argv[1:]
    tag, pids = "", []
    if "--tag" in args:
        i = args.index("--tag")
        tag = args[i + 1]
        del args[i:i + 2]
    if "--rss" in args:
        i = args.index("--rss")
        pids = [int(p) for p in args[i + 1].split(",") if p]
        del args[i:i + 2]
    port, rate, secs, urls = int(args[0]), float(args[1]), float(args[2]), \
        args[3:]

    results, tasks, peak = [], [], 0
    start = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        if now - start >= secs:
            break
        due = start + n / rate
        if now < due:
            await asyncio.sleep(min(due - now, 0.1))
            if pids:
                peak = max(peak, rss_kb(pids))
            continue
        tasks.append(asyncio.ensure_future(
            one(port, urls[n % len(urls)], results)))
        n += 1
    while tasks and not all(t.done() for t in tasks):
        if pids:
            peak = max(peak, rss_kb(pids))
        await asyncio.sleep(0.1)
    await asyncio.gather(*tasks)

    statuses = {}
    for s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    ok = [ms for s, ms in results if 200 <= s < 300]
    refused = [ms for s, ms in results if s == 503]
    print(json.dumps({
        "tag": tag, "offered_per_s": rate, "seconds": secs, "sent": n,
        "statuses": statuses,
        "admitted": {"n": len(ok), "p50_ms": pct(ok, .5),
                     "p99_ms": pct(ok, .99), "max_ms": pct(ok, 1)},
        "refused": {"n": len(refused), "p50_ms": pct(refused, .5),
                    "p99_ms": pct(refused, .99)},
        "peak_rss_kb": peak,
    }))


asyncio.run(main())

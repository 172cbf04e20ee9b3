"""The floor: a bare aiohttp client doing keep-alive GETs against the target, nothing else.

What any aiohttp-based monitor must spend per request; the gap between this and the daemon's CPU
per check is what scheduling, assertions, the store, metrics and logs cost. Runs in its own
process; prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp
from benchlib import self_cpu_s

from monitor import runtime


async def worker(session: aiohttp.ClientSession, url: str, counter: list[int], stop: int) -> None:
    """Request in a loop until `stop` requests have been made in total."""
    while counter[0] < stop:
        counter[0] += 1
        async with session.get(url) as resp:
            await resp.read()


async def run(target: str, delay_ms: float, workers: int, requests: int, warmup: int) -> dict[str, float]:
    """Warm the connections up, then time `requests` requests made by `workers` loops."""
    url = f"{target}/delay?ms={delay_ms:g}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as session:
        warm = [0]
        await asyncio.gather(*(worker(session, url, warm, warmup) for _ in range(workers)))
        counter = [0]
        cpu0, t0 = self_cpu_s(), time.monotonic()
        await asyncio.gather(*(worker(session, url, counter, requests) for _ in range(workers)))
        cpu1, t1 = self_cpu_s(), time.monotonic()
    return {
        "requests": counter[0],
        "cpu_s": cpu1 - cpu0,
        "cpu_per_request_us": (cpu1 - cpu0) / counter[0] * 1e6,
        "requests_per_s": counter[0] / (t1 - t0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    # The event loop the daemon runs on (monitor/runtime.py), so the floor is its floor.
    with asyncio.Runner(loop_factory=runtime.loop_factory()) as runner:
        result = runner.run(run(args.target, args.delay_ms, args.workers, args.requests, args.warmup))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

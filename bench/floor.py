"""The floors: what any monitor must spend per request, and how close to the truth any can time one.

CPU (the default): the checks' own HTTP client (monitor/httpclient/) doing keep-alive GETs
against the target, nothing else. The gap between this and the daemon's CPU per check is what
scheduling, assertions, the store, metrics and logs cost. A bare aiohttp ClientSession does the
same requests in the same process for reference: the client the checks used before.

Latency (`--latency-rate`): blocking sockets, one request in flight per thread, no event loop:
each answer is timed the moment the kernel wakes the thread. Its error against the target's true
hold is what the machine itself adds (loopback, waking an idle CPU of this VM), so no tool's
reported latency can be nearer the truth than this.

Runs in its own process; prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from benchlib import self_cpu_s
from yarl import URL

from monitor import runtime
from monitor.httpclient import HttpClient

Get = Callable[[str], Awaitable[bytes]]


async def worker(get: Get, url: str, counter: list[int], stop: int) -> None:
    """Request in a loop until `stop` requests have been made in total."""
    while counter[0] < stop:
        counter[0] += 1
        await get(url)


async def run(target: str, delay_ms: float, workers: int, requests: int, warmup: int) -> dict[str, Any]:
    """Both clients, one after the other, on the same target and loop."""
    client = HttpClient(user_agent="atom-monitor-bench")

    async def lean(url: str) -> bytes:
        return (await client.request("GET", URL(url), headers={}, cap=1 << 20)).body

    try:
        ours = await _timed(lean, target, delay_ms, workers, requests, warmup)
    finally:
        await client.close()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as session:

        async def bare(url: str) -> bytes:
            async with session.get(url) as resp:
                return await resp.read()

        return {**ours, "aiohttp": await _timed(bare, target, delay_ms, workers, requests, warmup)}


async def _timed(
    get: Get, target: str, delay_ms: float, workers: int, requests: int, warmup: int
) -> dict[str, float]:
    """Warm the connections up, then time `requests` requests made by `workers` loops."""
    url = f"{target}/delay?ms={delay_ms:g}"
    warm = [0]
    await asyncio.gather(*(worker(get, url, warm, warmup) for _ in range(workers)))
    counter = [0]
    cpu0, t0 = self_cpu_s(), time.monotonic()
    await asyncio.gather(*(worker(get, url, counter, requests) for _ in range(workers)))
    cpu1, t1 = self_cpu_s(), time.monotonic()
    return {
        "requests": counter[0],
        "cpu_s": cpu1 - cpu0,
        "cpu_per_request_us": (cpu1 - cpu0) / counter[0] * 1e6,
        "requests_per_s": counter[0] / (t1 - t0),
    }


def latency(target: str, delay_ms: float, rate: float, count: int) -> dict[str, dict[str, float]]:
    """`count` requests at `rate`/s from threads with a blocking keep-alive socket each; returns
    each request's duration by id (the target's hold records are keyed by the same id)."""
    host, port = target.removeprefix("http://").split(":")
    period = delay_ms / 1000 * 1.5  # each thread: one request, then idle, so no request queues
    threads = max(1, math.ceil(rate * period))
    durations: dict[str, float] = {}
    failures: list[BaseException] = []

    def one_thread(k: int) -> None:
        try:
            _requests(k)
        except Exception as exc:  # a thread's exception would only be printed: the run must fail
            failures.append(exc)

    def _requests(k: int) -> None:
        with socket.create_connection((host, int(port))) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            start = time.monotonic() + k * period / threads  # spread the threads over the period
            for i in range(k, count, threads):
                time.sleep(max(0.0, start + (i // threads) * period - time.monotonic()))
                ident = f"lf{i}"
                request = f"GET /delay?ms={delay_ms:g}&id={ident} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                t0 = time.perf_counter()
                sock.sendall(request.encode())
                buf = b""
                while not _complete(buf):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("the target closed the connection")
                    buf += chunk
                durations[ident] = time.perf_counter() - t0

    pool = [threading.Thread(target=one_thread, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(f"latency floor: {len(failures)} of {threads} connections failed: {failures[0]!r}")
    return {"durations": durations}


def _complete(buf: bytes) -> bool:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, help="measure the latency floor at this rate instead")
    args = parser.parse_args()
    if args.latency_rate:
        json.dump(latency(args.target, args.delay_ms, args.latency_rate, args.requests), sys.stdout)
        return
    # The event loop the daemon runs on (monitor/runtime.py), so the floor is its floor.
    with asyncio.Runner(loop_factory=runtime.loop_factory()) as runner:
        result = runner.run(run(args.target, args.delay_ms, args.workers, args.requests, args.warmup))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

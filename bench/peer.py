"""The peer: Debian's prometheus-blackbox-exporter, driven through /probe as Prometheus would.

Its CPU is read from /proc/<pid>/stat, so what it costs per probe includes serving the /probe
request and rendering its metrics: that is how it is used. Each probe's target carries its own
`id`, so the target can tell how long it really held that very request.
"""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from benchlib import pid_cpu_s

BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
"""


@dataclass
class BlackboxRun:
    rate: float
    probes: int
    failed: int
    cpu_s: float
    window_s: float
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_per_probe_us(self) -> float:
        return self.cpu_s / self.probes * 1e6 if self.probes else math.nan


@dataclass
class Exporter:
    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def version() -> str:
    done = subprocess.run([BLACKBOX, "--version"], capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0] if lines else "unknown version"


@contextmanager
def blackbox_exporter(workdir: Path) -> Iterator[Exporter]:
    """Start the exporter with an http_2xx module on a free 127.0.0.1 port; stop it after."""
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    port = free_port()
    cmd = [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
    with (workdir / "blackbox.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        exporter = Exporter(f"http://127.0.0.1:{port}", proc.pid)
        asyncio.run(wait_http(f"{exporter.url}/-/healthy"))
        yield exporter
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def wait_http(url: str, timeout: float = 10.0) -> None:
    """Poll until `url` answers 200 (the exporter needs a moment to bind)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up within {timeout:.0f}s")
            await asyncio.sleep(0.1)


def probe_metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def drive(
    exporter: Exporter, target: str, delay_ms: float, rate: float, count: int, tag: str
) -> BlackboxRun:
    """Fire `count` probes at `rate`/s, open loop (a probe does not wait for the one before, as
    independent Prometheus scrapes do not), after a short warm-up outside the window."""
    durations: dict[str, float] = {}
    failed = 0

    async def one(session: aiohttp.ClientSession, ident: str) -> None:
        nonlocal failed
        params = {"module": "http_2xx", "target": f"{target}/delay?ms={delay_ms:g}&id={ident}"}
        async with session.get(f"{exporter.url}/probe", params=params) as resp:
            text = await resp.text()
        duration = probe_metric(text, "probe_duration_seconds")
        if probe_metric(text, "probe_success") != 1.0 or duration is None:
            failed += 1
        else:
            durations[ident] = duration

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for i in range(50):
            await one(session, f"{tag}-warm-{i}")
        durations.clear()
        failed = 0
        cpu0, t0 = pid_cpu_s(exporter.pid), time.monotonic()
        tasks = []
        for i in range(count):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(session, f"{tag}-{i}")))
        await asyncio.gather(*tasks)
        cpu1, t1 = pid_cpu_s(exporter.pid), time.monotonic()
    return BlackboxRun(rate, count, failed, cpu1 - cpu0, t1 - t0, durations)

"""Shared fixtures: provider specs from ../shared, checks built from inline pack YAML, engine
contexts against real servers on 127.0.0.1, and the sandbox (in-process or as a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from monitor.config import ProbeKind, ResolvedCheck, ResolvedIntegration
from monitor.config.models import CheckSpec, NoAuth
from monitor.probes import ProbeContext
from monitor.sandbox import server as sandbox_server
from monitor.scrub import Scrubber

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def provider_specs() -> Path:
    """../shared/provider-specs; skipped where absent outside CI, an error in CI."""
    path = SHARED / "provider-specs"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip("../shared/provider-specs is not present")
    return path


def make_check(
    spec_yaml: str, *, integration: str = "t", timeout: float = 5.0, latency_under: float | None = None
) -> ResolvedCheck:
    spec = CheckSpec.model_validate(yaml.safe_load(spec_yaml))
    return ResolvedCheck(
        integration=integration,
        name="c",
        category=spec.category,
        kind=ProbeKind.HTTP if spec.http is not None else ProbeKind.STEPS,
        spec=spec,
        interval=60,
        timeout=timeout,
        latency_under=latency_under,
        headers={},
    )


def make_integration(
    base_url: str, auth: Any = None, vars: dict[str, Any] | None = None, name: str = "t"
) -> ResolvedIntegration:
    return ResolvedIntegration(
        name=name,
        pack="test",
        provider="test",
        base_url=base_url,
        auth=auth or NoAuth(kind="none"),
        vars=vars or {},
        claims=None,
        pack_spec=None,
        pack_file=Path("test.yaml"),
    )


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def probe_context(http_session: aiohttp.ClientSession) -> Any:
    """Build a ProbeContext for an integration at `base_url` with a scrubber of `secrets`."""

    def build(integration: ResolvedIntegration, secrets: tuple[str, ...] = ()) -> ProbeContext:
        return ProbeContext(
            session=http_session, integration=integration, run_id="run-1", scrubber=Scrubber(secrets)
        )

    return build


@pytest.fixture
async def sandbox() -> AsyncIterator[sandbox_server.RunningSandbox]:
    """Every simulated provider in-process on a free 127.0.0.1 port."""
    running = await sandbox_server.start("127.0.0.1:0")
    yield running
    await running.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[str]:
    """`atom-monitor sandbox` as a separate process; yields its root URL. Tests reset its faults."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "sandbox", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited: {proc.stdout.read() if proc.stdout else ''}") from None
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)

"""Shared fixtures: provider specs from ../shared, checks built from inline pack YAML, engine
contexts against real servers on 127.0.0.1, and the sandbox (in-process or as a subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from monitor.config import ProbeKind, ResolvedCheck, ResolvedIntegration
from monitor.config.models import CheckSpec, NoAuth
from monitor.httpclient import HttpClient
from monitor.probes import ProbeContext
from monitor.sandbox import server as sandbox_server
from monitor.scrub import Scrubber

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "e2e-admin-token-0123456789"
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


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """The HTTP client's tests run on uvloop as well: the daemon's loop, whose transports are not
    asyncio's classes (a bug that only uvloop showed). Every other test runs on asyncio's loop."""
    factories: dict[str, Any] = {"asyncio": asyncio.new_event_loop}
    if item.path.parent.name == "httpclient":
        with contextlib.suppress(ImportError):
            import uvloop

            factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def http_client() -> AsyncIterator[HttpClient]:
    client = HttpClient(user_agent="atom-monitor-tests")
    yield client
    await client.close()


@pytest.fixture
def probe_context(http_session: aiohttp.ClientSession, http_client: HttpClient) -> Any:
    """Build a ProbeContext for an integration at `base_url` with a scrubber of `secrets`."""

    def build(integration: ResolvedIntegration, secrets: tuple[str, ...] = ()) -> ProbeContext:
        return ProbeContext(
            session=http_session,
            http=http_client,
            integration=integration,
            run_id="run-1",
            scrubber=Scrubber(secrets),
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


def need_binary(binary: str, package: str = "prometheus") -> str:
    """The path of a real binary the test drives; a failure in CI (which installs it), else a skip."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed (Debian package {package}); .ci/run installs it")
        pytest.skip(f"{binary} not installed")
    return path


def http_get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(
        url, headers=headers or {}, data=data, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = pred()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def daemon_config(tmp_path: Path, interval: str = "1s") -> Path:
    """The embedded default's GitHub, Slack and Jira, fast: 1 s intervals, a 2 s timeout, and a
    hanging Slack. (The other providers' sandboxes are tested by tests/sandbox/.)"""
    text = (ROOT / "config.yaml").read_text()
    head, _, integrations = text.partition("\nintegrations:\n")
    blocks = re.split(r"(?m)^(?=  [a-z_]+:\s*$)", integrations)
    keep = [b for b in blocks if b.split(":", 1)[0].strip() in ("github", "slack", "jira")]
    text = head + "\nintegrations:\n" + "".join(keep)
    text = text.replace("store: sqlite:///./atom-monitor.db", f"store: sqlite:///{tmp_path}/results.db")
    text = text.replace("claims_files: [claims/", f"claims_files: [{ROOT}/claims/")
    text = text.replace("sandbox: true", "sandbox:\n  enabled: true\n  faults:\n    slack: [{kind: hang}]")
    text = text.replace(
        "log_level: info", "log_level: info\n  shutdown_grace: 2s\n  packs_dir: " + str(ROOT / "checks")
    )
    for name in ("github", "slack", "jira"):
        text = text.replace(
            f"    pack: {name}\n", f"    pack: {name}\n    interval: {interval}\n    timeout: 2s\n"
        )
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@contextlib.contextmanager
def serve_daemon(config: Path, env: dict[str, str], cwd: Path | None = None) -> Iterator[dict[str, Any]]:
    """`atom-monitor serve` as a subprocess on a free port, ready when this yields; killed after
    unless the test stopped it. Logs go to a file beside the config: a pipe nobody reads would
    fill up and block the daemon."""
    port = free_port()
    log = config.parent / "daemon.log"
    command = [
        sys.executable,
        "-m",
        "monitor",
        "serve",
        "--config",
        str(config),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=sink, env={**os.environ, **env}, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the daemon exited with {proc.returncode}: {log.read_text()[-2000:]}")
            return http_get(f"{url}/readyz")[0] == 200

        wait_for(ready, 30, "the daemon to be ready")
        yield {"proc": proc, "url": url, "config": config, "log": log}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`atom-monitor serve` on the fast default config, with the sandbox in-process."""
    with serve_daemon(daemon_config(tmp_path), {"ATOM_MONITOR_ADMIN_TOKEN": ADMIN}) as running:
        yield {**running, "db": tmp_path / "results.db"}

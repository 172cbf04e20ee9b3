"""`make bench`: atom-monitor's daemon measured against a local target, beside Debian's
prometheus-blackbox-exporter on the same target in the same run, with a bare aiohttp client as
the floor. Writes every figure, the machine and the command to bench/RESULTS.md.

Every party runs in a process of its own (target, daemon, floor, exporter), so each one's CPU time
and memory are its own; this orchestrator starts them, drives the exporter's /probe endpoint and
does the arithmetic. Benchmarks are not tests: nothing here fails on a slow figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import peer
from profile_report import summarize
from results_md import Figures, judge, latency_error, render

from monitor import runtime

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def progress(message: str) -> None:
    """One line per phase on stderr, so a slow phase is visible while it runs."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Target:
    proc: subprocess.Popen[str]
    url: str


@contextmanager
def target_server(python: str) -> Iterator[Target]:
    """Start bench/target.py; it prints its port once bound."""
    proc = subprocess.Popen(
        [python, str(BENCH / "target.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield Target(proc, f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def run_child(python: str, script: str, args: list[str], log: Path) -> dict[str, Any]:
    """Run a bench child to completion; it prints one JSON object. Its stderr goes to `log`."""
    with log.open("w") as err:
        done = subprocess.run(
            [python, str(BENCH / script), *args], stdout=subprocess.PIPE, stderr=err, text=True, check=False
        )
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise SystemExit(f"{script} failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def error_events(log: Path) -> dict[str, int]:
    """Error-level events in the daemon's JSON log: a benchmark must not hide a failing store."""
    found: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        if '"level": "error"' in line or '"level": "critical"' in line:
            try:
                event = json.loads(line)
            except ValueError:
                found["unparsable"] += 1
                continue
            name = event.get("event", "?")
            if "results" in event:  # store_write_failed says how many results it could not store
                name += f" (results not stored: {event['results']})"
            found[name] += 1
    return dict(found)


async def fetch_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.json()


# --------------------------------------------------------------------------- phases


def phase_daemon(
    args: argparse.Namespace,
    workdir: Path,
    target: str,
    name: str,
    checks: int,
    duration: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    d = workdir / name
    d.mkdir()
    cli = [
        "load",
        f"--workdir={d}",
        f"--target={target}",
        f"--checks={checks}",
        f"--interval={args.interval}",
        f"--delay-ms={args.delay_ms}",
        f"--concurrency={args.concurrency}",
        f"--warmup={args.warmup}",
        f"--duration={duration}",
    ]
    if profile is None:
        result = run_child(args.python, "daemon_load.py", cli, d / "daemon.log")
    else:
        result = _profiled_child(args, [*cli, f"--window-marker={d / 'window'}"], d, profile, duration)
    result["log_errors"] = error_events(d / "daemon.log")
    return result


def _profiled_child(
    args: argparse.Namespace, cli: list[str], d: Path, profile: Path, duration: float
) -> dict[str, Any]:
    """daemon_load with py-spy sampling it, from outside, over exactly its measured window.
    Blocking (py-spy pauses the daemon for each sample, a few per cent of its time): the
    non-blocking mode read stacks mid-change and charged ~45% of the samples to the event loop's
    bare frame, against ~11% when paused (bench/README.md)."""
    marker = d / "window"
    with (d / "daemon.log").open("w") as err:
        child = subprocess.Popen(
            [args.python, str(BENCH / "daemon_load.py"), *cli], stdout=subprocess.PIPE, stderr=err, text=True
        )
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        spy = subprocess.run(
            [
                str(Path(args.python).parent / "py-spy"),
                "record",
                f"--pid={child.pid}",
                f"--duration={max(1, int(duration) - 1)}",  # ends inside the window
                "--rate=250",
                "--format=raw",
                "--threads",
                f"--output={profile}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out, _ = child.communicate(timeout=duration + 120)
    if child.returncode != 0 or spy.returncode != 0:
        raise SystemExit(
            f"profiled daemon_load failed: {spy.stderr[-2000:]}\n{(d / 'daemon.log').read_text()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(out)
    return result


def phase_rss(args: argparse.Namespace, workdir: Path, target: str, checks: int) -> dict[str, Any]:
    d = workdir / f"rss-{checks}"
    d.mkdir()
    cli = [
        "rss",
        f"--workdir={d}",
        f"--target={target}",
        f"--checks={checks}",
        "--interval=3600",
        f"--concurrency={args.concurrency}",
        f"--duration={args.rss_settle}",
    ]
    return run_child(args.python, "daemon_load.py", cli, d / "daemon.log")


def phase_floor(
    args: argparse.Namespace, workdir: Path, target: str, *, latency: bool = False
) -> dict[str, Any]:
    """The bare aiohttp client's CPU per request; with `latency`, blocking sockets at the light
    rate instead: how near the truth anything can time an answer on this machine."""
    if latency:
        mode = [
            f"--latency-rate={args.light_rate}",
            f"--requests={int(args.light_rate * args.light_duration)}",
        ]
    else:
        mode = [f"--workers={args.floor_workers}", f"--requests={args.floor_requests}"]
    cli = [f"--target={target}", f"--delay-ms={args.delay_ms}", *mode]
    log = workdir / ("latency-floor.log" if latency else "floor.log")
    return run_child(args.python, "floor.py", cli, log)


def phase_components(args: argparse.Namespace, workdir: Path, target: str) -> dict[str, Any]:
    d = workdir / "components"
    d.mkdir()
    cli = [f"--workdir={d}", f"--target={target}", f"--checks={args.checks}", f"--rows={args.readiness_rows}"]
    result = run_child(args.python, "components.py", cli, d / "components.log")
    result.update(delay_ms=args.delay_ms, interval_s=args.interval)
    return result


def phase_blackbox(
    args: argparse.Namespace, workdir: Path, target: str
) -> tuple[peer.BlackboxRun, peer.BlackboxRun]:
    """Both rates against one exporter process: the load rate for CPU, a light one for accuracy."""
    with peer.blackbox_exporter(workdir) as exporter:
        load = asyncio.run(peer.drive(exporter, target, args.delay_ms, args.bb_rate, args.bb_probes, "bb"))
        progress(f"blackbox_exporter {load.cpu_per_probe_us:.0f} µs/probe; now at {args.light_rate:g}/s")
        light_count = int(args.light_rate * args.light_duration)
        light = asyncio.run(peer.drive(exporter, target, args.delay_ms, args.light_rate, light_count, "bbl"))
    return load, light


def measure(args: argparse.Namespace, workdir: Path) -> tuple[Figures, dict[str, Any] | None]:
    """Every phase against one target process; the profile run only when a target is missed."""
    with target_server(args.python) as target:
        progress(f"target up at {target.url}; floor: bare clients, {args.floor_requests:,} requests each")
        floor = phase_floor(args, workdir, target.url)
        progress(
            f"floor {floor['cpu_per_request_us']:.0f} µs/request (aiohttp "
            f"{floor['aiohttp']['cpu_per_request_us']:.0f}); blackbox_exporter at {args.bb_rate:g}/s"
        )
        bb_load, bb_light = phase_blackbox(args, workdir, target.url)
        progress(f"latency floor: blocking sockets at {args.light_rate:g}/s")
        latency_floor = phase_floor(args, workdir, target.url, latency=True)["durations"]
        progress(
            f"blackbox_exporter done; atom-monitor daemon, {args.checks:,} checks at {args.interval:g} s"
        )
        load = phase_daemon(args, workdir, target.url, "load", args.checks, args.duration)
        progress(
            f"daemon {load['cpu_per_check_us']:.0f} µs/check, {load['checks_per_s']:.0f} checks/s, lag p99 "
            f"{load['lag_p99_ms']:.1f} ms; light load, {int(args.light_rate * args.interval)} checks"
        )
        light = phase_daemon(
            args, workdir, target.url, "light", int(args.light_rate * args.interval), args.light_duration
        )
        sweep = []
        for rate in args.sweep_rates:
            progress(f"sweep: {rate:g} checks/s for {args.sweep_duration:g} s")
            run = phase_daemon(
                args, workdir, target.url, f"sweep-{rate:g}", int(rate * args.interval), args.sweep_duration
            )
            sweep.append(run)
        progress("parts of a check one at a time (components)")
        components = phase_components(args, workdir, target.url)
        rss = []
        for n in args.rss_checks:
            progress(f"RSS with {n:,} checks")
            rss.append(phase_rss(args, workdir, target.url, n))
        holds: dict[str, int] = asyncio.run(fetch_json(f"{target.url}/stats"))["holds_ns"]
        latency = {
            "ours_load": latency_error(load.pop("durations"), holds, args.delay_ms),
            "ours_light": latency_error(light.pop("durations"), holds, args.delay_ms),
            "bb_load": latency_error(bb_load.durations, holds, args.delay_ms),
            "bb_light": latency_error(bb_light.durations, holds, args.delay_ms),
            "floor_light": latency_error(latency_floor, holds, args.delay_ms),
        }
        for run in sweep:
            run["latency"] = latency_error(run.pop("durations"), holds, args.delay_ms)
        figures = Figures(floor, bb_load, bb_light, load, light, components, rss, latency, sweep)
        profiled = None
        missed = not all(g.met for g in judge(figures))
        if args.profile == "always" or (args.profile == "auto" and missed):
            # py-spy samples from its own process, so the daemon runs the load run's workload at
            # full speed; a separate run so that py-spy's CPU is not in the load run's figures.
            progress(f"a target is missed: py-spy on the daemon at {args.checks / args.interval:g} checks/s")
            path = workdir / "load.pyspy.txt"
            profiled = phase_daemon(
                args, workdir, target.url, "profile", args.checks, args.profile_duration, path
            )
            profiled["profile_path"] = str(path)
    return figures, profiled


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    loop = runtime.loop_factory()()
    try:
        kind = f"{type(loop).__module__.split('.')[0]} {_version(type(loop).__module__.split('.')[0])}"
    finally:
        loop.close()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "os": platform.platform(),
        "loop": kind,
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return platform.python_version()  # asyncio is the standard library's


def git_commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *a], capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = " (monitor/ has uncommitted changes)" if git("status", "--porcelain", "monitor") else ""
    return git("rev-parse", "--short", "HEAD") + dirty


def meta(
    args: argparse.Namespace, started: datetime, took: float, load_before: str, load_after: str, steal: float
) -> dict[str, str]:
    m = machine()
    cpu_seconds = took * int(m["nproc"])
    return {
        "Date": f"{started:%Y-%m-%d %H:%M} UTC; the run took {took:.0f} s",
        "Command": f"`{command()}` (`make bench`)",
        "Machine": f"{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['os']}",
        "Event loop (daemon and floor)": f"{m['loop']}, GIL switch interval and GC thresholds as "
        "`serve` sets them (monitor/runtime.py)",
        "Load average (1/5/15 min) before / after": f"{load_before} / {load_after} (other work on the "
        "machine shares its 2 CPUs and adds noise)",
        "CPU time the hypervisor took (steal)": f"{steal:.1f} s of the run's {cpu_seconds:.0f} CPU-seconds "
        f"({steal / cpu_seconds:.1%}); stolen time lands in tails (lag, latency error) as pauses",
        "Peer": peer.version(),
        "atom-monitor": git_commit(),
        "Workload": f"{args.checks:,} HTTP checks (10 per integration; bearer auth, status, JSON Schema, "
        f"body and header assertions, latency budget) at a {args.interval:g} s interval against a "
        f"{args.delay_ms:g} ms "
        f"delay; monitor.concurrency {args.concurrency}; SQLite store; JSON logs to a file; warm-up "
        f"{args.warmup:g} s, window {args.duration:g} s, /metrics scraped "
        f"every 15 s. Light load: "
        f"{args.light_rate:g} checks/s and probes/s for {args.light_duration:g} s. Sweep: "
        f"{', '.join(f'{r:g}' for r in args.sweep_rates)} checks/s for {args.sweep_duration:g} s each. "
        "blackbox_exporter: "
        f"{args.bb_probes:,} probes at {args.bb_rate:g}/s. Floor: {args.floor_requests:,} requests over "
        f"{args.floor_workers} keep-alive loops.",
    }


def command() -> str:
    return " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def steal_s() -> float:
    """CPU time the hypervisor has taken from this VM since boot (/proc/stat, all CPUs)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checks", type=int, default=1000, help="checks in the load run (default 1000)")
    p.add_argument("--interval", type=float, default=1.0, help="their interval in seconds (default 1)")
    p.add_argument("--delay-ms", type=float, default=50.0, help="the target's fixed delay (default 50)")
    p.add_argument("--concurrency", type=int, default=200, help="monitor.concurrency (default 200)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before a window opens (default 2)")
    p.add_argument("--duration", type=float, default=15.0, help="load window in seconds (default 15)")
    p.add_argument("--bb-rate", type=float, default=1000.0, help="blackbox probes per second (default 1000)")
    p.add_argument("--bb-probes", type=int, default=6000, help="blackbox probes at that rate (default 6000)")
    p.add_argument("--light-rate", type=float, default=200.0, help="light load, checks/probes per second")
    p.add_argument("--light-duration", type=float, default=15.0, help="light load window in seconds")
    p.add_argument("--floor-requests", type=int, default=6000)
    p.add_argument("--floor-workers", type=int, default=50)
    p.add_argument(
        "--readiness-rows", type=int, default=10000, help="stored results for the readiness figure"
    )
    p.add_argument("--rss-checks", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10000])
    p.add_argument("--rss-settle", type=float, default=3.0, help="seconds after start before reading RSS")
    p.add_argument(
        "--sweep-rates",
        type=lambda v: [float(x) for x in v.split(",") if x],
        default=[100.0, 250.0, 500.0, 750.0],
        help="checks/s of the shorter runs that show how lag and latency error grow with load",
    )
    p.add_argument("--sweep-duration", type=float, default=8.0)
    p.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--profile-duration", type=float, default=6.0)
    p.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases, profile)")
    p.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if not Path(peer.BLACKBOX).exists():
        raise SystemExit(f"{peer.BLACKBOX} is missing: apt-get install prometheus-blackbox-exporter")
    started, t0, load_before, steal0 = datetime.now(UTC), time.monotonic(), loadavg(), steal_s()
    workdir = Path(tempfile.mkdtemp(prefix="atom-bench-"))
    try:
        figures, profiled = measure(args, workdir)
        profile = summarize(Path(profiled["profile_path"]), profiled) if profiled else None
        took = time.monotonic() - t0
        text = render(meta(args, started, took, load_before, loadavg(), steal_s() - steal0), figures, profile)
    finally:
        if args.keep:
            progress(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.write_text(text)
    print(text)
    progress(f"wrote {args.out} in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()

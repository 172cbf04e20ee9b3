"""Commands that run checks: `run --once`, `serve` (the daemon) and `sandbox`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from monitor import __version__
from monitor.cli.common import EXIT_FAILED, EXIT_OK, UsageError, load
from monitor.config import Config
from monitor.model import CheckResult, Outcome


def cmd_run(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.scrub import Scrubber

    config = load(args)
    if args.integration:
        unknown = sorted(set(args.integration) - set(config.integrations))
        if unknown:
            raise UsageError(
                f"unknown integration {', '.join(unknown)} "
                f"(configured: {', '.join(sorted(config.integrations))})"
            )
        config = config.select(args.integration)
    logs.configure(args.log_level or "warning", Scrubber(config.secrets))
    results = asyncio.run(_run_once(config, progress=not args.no_progress))
    from monitor.output import print_json, print_table

    if args.format == "json":
        print_json(results, sys.stdout)
    else:
        print_table(results, sys.stdout)
    bad = any(r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in results)
    return EXIT_FAILED if bad else EXIT_OK


async def _run_once(config: Config, progress: bool) -> list[CheckResult]:
    from monitor.engine import start_engine
    from monitor.output import ProgressDisplay

    async with start_engine(config) as engine:
        with ProgressDisplay(len(engine.config.checks), enabled=progress) as display:
            return await engine.run_once(on_result=display.advance)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from monitor import logs, runtime
    from monitor.daemon import DAEMON
    from monitor.scrub import Scrubber
    from monitor.server import create_app

    config = load(args)
    listen = args.listen or config.file.monitor.listen
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen {listen!r} must be HOST:PORT, e.g. 127.0.0.1:9400")
    logs.configure(config.file.monitor.log_level.value, Scrubber(config.secrets))
    app = create_app(config.source, config)

    async def on_startup(app: web.Application) -> None:
        daemon = app[DAEMON]

        def reload() -> None:
            task = asyncio.create_task(daemon.reload())
            daemon.background.add(task)
            task.add_done_callback(daemon.background.discard)

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)

    app.on_startup.append(on_startup)
    base = f"http://{host or '127.0.0.1'}:{port}"
    print(
        f"atom-monitor {__version__} serving on {base}: /report, /metrics, /api/v1/readiness, "
        f"/api/v1/results, /api/v1/openapi.json ({len(config.checks)} checks; Ctrl-C stops)",
        flush=True,
    )
    runtime.tune_for_daemon()
    web.run_app(
        app,
        host=host or "127.0.0.1",
        port=int(port),
        print=None,
        access_log=None,
        shutdown_timeout=5,
        loop=runtime.loop_factory()(),
    )
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from monitor.sandbox import server

    async def serve() -> None:
        running = await server.start(args.listen)
        print(f"sandbox listening on http://{running.host}:{running.port}", flush=True)
        for name, url in sorted(running.urls.items()):
            print(f"  {name:<10} {url}   (credential: sandbox-{name}-token)", flush=True)
        print(f"  control    {running.control_url}/faults", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()

    asyncio.run(serve())
    return EXIT_OK


def quiet_logs(config: Config) -> None:
    from monitor import logs
    from monitor.scrub import Scrubber

    logs.configure("warning", Scrubber(config.secrets))

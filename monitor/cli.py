"""`atom-monitor`: the command line. Exit codes: 0 ok, 1 checks failed, 2 usage or config error,
3 internal error. A config mistake prints one line per mistake and never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.config import Config, ConfigError, config_path, load_config
from monitor.config.models import ConfigFile
from monitor.model import CheckResult, Outcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (an unknown integration name)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"atom-monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("ATOM_MONITOR_DEBUG"):
            raise
        print(
            f"atom-monitor: internal error: {type(exc).__name__}: {exc} "
            "(set ATOM_MONITOR_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="F", help="config file (default: $ATOM_MONITOR_CONFIG or ./config.yaml)"
    )
    p = argparse.ArgumentParser(prog="atom-monitor", description="Integration readiness, measured.")
    p.add_argument("--version", action="version", version=f"atom-monitor {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run every selected check once and print the results")
    run.add_argument(
        "--once", action="store_true", required=True, help="run once and exit (the daemon is `serve`)"
    )
    run.add_argument(
        "--integration",
        action="append",
        default=[],
        metavar="NAME",
        help="only this integration (repeatable)",
    )
    run.add_argument("--format", choices=("table", "json"), default="table")
    run.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default: warning for run"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    run.set_defaults(func=_cmd_run)

    serve = sub.add_parser("serve", parents=[common], help="the daemon: scheduler, /metrics and the HTTP API")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: monitor.listen (127.0.0.1:9400)")
    serve.set_defaults(func=_cmd_serve)

    cfg = sub.add_parser("config", help="validate config.yaml or print its JSON Schema")
    cfg_sub = cfg.add_subparsers(metavar="ACTION")
    validate = cfg_sub.add_parser(
        "validate", parents=[common], help="check config.yaml and its packs; exit 2 on mistakes"
    )
    validate.add_argument(
        "file",
        nargs="?",
        help="config file (default: --config, then $ATOM_MONITOR_CONFIG, then ./config.yaml)",
    )
    validate.set_defaults(func=_cmd_validate)
    schema = cfg_sub.add_parser("schema", parents=[common], help="print the JSON Schema of config.yaml")
    schema.set_defaults(func=_cmd_schema)

    sandbox = sub.add_parser("sandbox", parents=[common], help="run the simulated providers alone")
    sandbox.add_argument("--listen", default="127.0.0.1:9410", metavar="HOST:PORT")
    sandbox.set_defaults(func=_cmd_sandbox)
    return p


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(getattr(args, "file", None) or args.config))


def _cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    print(f"{config.source}: ok ({len(config.integrations)} integrations, {len(config.checks)} checks)")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2))
    return EXIT_OK


def config_schema() -> dict[str, object]:
    schema = ConfigFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atom-monitor config.yaml"
    return schema


def _cmd_run(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.scrub import Scrubber

    config = _load(args)
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


def _cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from monitor import logs
    from monitor.daemon import DAEMON
    from monitor.scrub import Scrubber
    from monitor.server import create_app

    config = _load(args)
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
        f"atom-monitor {__version__} serving on {base}: /metrics, /healthz, /readyz, /api/v1/results, "
        f"/api/v1/openapi.json ({len(config.checks)} checks; Ctrl-C stops)",
        flush=True,
    )
    web.run_app(
        app, host=host or "127.0.0.1", port=int(port), print=None, access_log=None, shutdown_timeout=5
    )
    return EXIT_OK


def _cmd_sandbox(args: argparse.Namespace) -> int:
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

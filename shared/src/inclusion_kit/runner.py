"""The command line every service shares: ``api``, ``worker``, ``migrate``, ``dlt-replay``.

A service's ``entrypoints/cli.py`` calls :func:`service_cli` with its settings class and its
composition root; the same image runs any of the three process types (ARCHITECTURE.md §2).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from inclusion_kit.observability import configure_logging
from inclusion_kit.settings import ServiceSettings


@dataclass(frozen=True)
class ExtraCommand:
    """A service-specific subcommand: ``main`` receives the arguments after the command's name."""

    help: str
    main: Callable[[Sequence[str]], int]


class CliMain(Protocol):
    def __call__(self, argv: Sequence[str] | None = None) -> int: ...


def service_cli(
    prog: str,
    settings_factory: Callable[[], ServiceSettings],
    kernel_factory: Callable[[Any], Any],
    app_factory: Callable[[Any], Any],
    commands: Mapping[str, ExtraCommand] | None = None,
) -> CliMain:
    """The service's command line. ``commands`` adds service-specific subcommands (shown in
    ``--help``), each given the arguments after its name."""
    # uvicorn's worker processes import the app themselves: they need its import path.
    app_path = f"{app_factory.__module__}:{app_factory.__name__}"

    def main(argv: Sequence[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=prog, description=f"{prog} service")
        sub = parser.add_subparsers(dest="command", required=True)
        api = sub.add_parser("api", help="serve the HTTP API")
        api.add_argument("--host", default="0.0.0.0")  # noqa: S104 - containers listen on all interfaces
        api.add_argument("--port", type=int, default=8000)
        api.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes serving the API (each builds its app from the environment)",
        )
        worker = sub.add_parser("worker", help="run the outbox relay and the consumers (Kafka mode)")
        worker.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
        sub.add_parser("migrate", help="upgrade the database schema to the code's head and exit")
        sub.add_parser("dlt-replay", help="re-dispatch dead letters through the normal path")
        for name, extra in (commands or {}).items():
            sub.add_parser(name, help=extra.help, add_help=False)
        given = list(sys.argv[1:] if argv is None else argv)
        if given and commands and given[0] in commands:
            return commands[given[0]].main(given[1:])
        args = parser.parse_args(given)

        settings = settings_factory()
        configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
        if args.command == "api":
            import uvicorn

            options: dict[str, Any] = {
                "host": args.host,
                "port": args.port,
                "log_config": None,
                "proxy_headers": True,
                "timeout_keep_alive": 5,
            }
            if args.workers > 1:
                uvicorn.run(app_path, factory=True, workers=args.workers, **options)
            else:
                uvicorn.run(app_factory(settings), **options)
            return 0
        kernel = kernel_factory(settings)
        if args.command == "migrate":
            asyncio.run(_with_dispose(kernel, kernel.migrate()))
            print(f"{prog}: schema is at head")
            return 0
        if args.command == "worker":
            return asyncio.run(_run_worker(kernel, args.metrics_port))
        report = asyncio.run(_with_dispose(kernel, kernel.replay_dead_letters()))
        print(f"{prog} dlt-replay: {report}")
        failed = report.failed if hasattr(report, "failed") else report.get("failed", 0)
        return 1 if failed else 0

    return main


async def _with_dispose(kernel: Any, coro: Any) -> Any:
    try:
        return await coro
    finally:
        await kernel.dispose()


async def _run_worker(kernel: Any, metrics_port: int | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, registry=kernel.metrics.registry)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    except Exception as exc:
        print(f"worker stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await kernel.dispose()
    return 0

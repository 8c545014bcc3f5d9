"""`exclusions` command: api | worker | migrate | dlt-replay | scheduler [--once].

``worker`` runs the outbox relay, the roll consumers and the scheduled checks together;
``scheduler`` runs the scheduled checks alone (``--once``: one pass, e.g. from cron).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from exclusions.entrypoints import worker
from exclusions.entrypoints.api.app import create_app
from inclusion_kit.observability import configure_logging
from inclusion_kit.runner import service_cli

_service_main = service_cli("exclusions", Settings, bootstrap, create_app)


def _scheduler_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="exclusions scheduler", description="the scheduled checks")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args(list(argv))
    settings = Settings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    report = asyncio.run(worker.run_scheduler(settings, once=args.once))
    if report is not None:
        print(
            f"exclusions scheduler: {report.today.isoformat()}: sixth-day provision missed "
            f"{report.provision_missed}, alerts raised {report.alerts_raised}"
        )
    return 0


def _worker_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="exclusions worker", description="outbox relay, consumers and the scheduled checks"
    )
    parser.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
    args = parser.parse_args(list(argv))
    settings = Settings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    return asyncio.run(_worker(settings, args.metrics_port))


async def _worker(settings: Settings, metrics_port: int | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(settings, stop, metrics_port=metrics_port)
    except Exception as exc:
        print(f"worker stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scheduler"]:
        return _scheduler_main(args[1:])
    if args[:1] == ["worker"]:
        return _worker_main(args[1:])
    return _service_main(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""`exclusions` command: api | worker | migrate | dlt-replay | scheduler [--once].

``worker`` runs the outbox relay, the roll consumers and the scheduled checks (a kit periodic
task) together; ``scheduler`` runs the scheduled checks alone (``--once``: one pass, e.g. cron).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from exclusions.bootstrap import bootstrap
from exclusions.config import Settings
from exclusions.entrypoints import worker
from exclusions.entrypoints.api.app import create_app
from inclusion_kit.observability import configure_logging
from inclusion_kit.runner import ExtraCommand, service_cli


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


main = service_cli(
    "exclusions",
    Settings,
    bootstrap,
    create_app,
    commands={
        "scheduler": ExtraCommand(
            "run the scheduled checks alone (--once: one pass, e.g. from cron); `worker` runs them too",
            _scheduler_main,
        )
    },
)

if __name__ == "__main__":
    raise SystemExit(main())

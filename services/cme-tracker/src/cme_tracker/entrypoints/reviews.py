"""`cme-tracker reviews`: the scheduled job that finds overdue case reviews.

Run it from a scheduler (e.g. a Kubernetes CronJob) once a day, or keep it running with ``--loop``.
Each run emits ``CmeReviewOverdue`` once per case and overdue period (running twice in a period
emits nothing new) and prints the overdue cases: ids, districts and dates only, no personal data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence

from cme_tracker.bootstrap import bootstrap, context
from cme_tracker.config import Settings
from cme_tracker.service_layer.handlers import OverdueReview, check_reviews
from inclusion_kit.clock import Clock
from inclusion_kit.observability import configure_logging


async def run_once(settings: Settings, clock: Clock | None = None) -> list[OverdueReview]:
    ctx = context(settings, clock)
    kernel = bootstrap(settings, ctx=ctx)
    try:
        await kernel.check_schema()
        return await check_reviews(kernel.uow, ctx)
    finally:
        await kernel.dispose()


async def run_loop(settings: Settings, stop: asyncio.Event, clock: Clock | None = None) -> None:
    ctx = context(settings, clock)
    kernel = bootstrap(settings, ctx=ctx)
    try:
        await kernel.check_schema()
        while not stop.is_set():
            found = await check_reviews(kernel.uow, ctx)
            print(_summary(found), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.reviews_interval_seconds)
    finally:
        await kernel.dispose()


def _summary(found: list[OverdueReview]) -> str:
    notified = sum(1 for f in found if f.notified)
    return f"cme-tracker reviews: {len(found)} case(s) overdue for review, {notified} newly notified"


def reviews_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="cme-tracker reviews", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--loop", action="store_true", help="run every CME_REVIEWS_INTERVAL_SECONDS until stopped"
    )
    args = parser.parse_args(list(argv))
    settings = Settings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    if args.loop:

        async def loop() -> None:
            stop = asyncio.Event()
            running = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                running.add_signal_handler(sig, stop.set)
            await run_loop(settings, stop)

        asyncio.run(loop())
        return 0
    found = asyncio.run(run_once(settings))
    for f in found:
        print(
            f"{f.case_id}\t{f.district or '-'}\treview due {f.review_due.isoformat()}\t"
            f"{f.days_overdue} day(s) overdue\tperiod {f.period}" + ("\tnotified" if f.notified else "")
        )
    print(_summary(found))
    return 0

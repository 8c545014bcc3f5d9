"""The worker process of cme-tracker: outbox relay and consumers (run by `cme-tracker worker`),
and, beside them when asked, the review job's loop (`cme-tracker reviews --loop` runs it alone)."""

from __future__ import annotations

import asyncio

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings
from cme_tracker.entrypoints.reviews import run_loop


async def run(settings: Settings, stop: asyncio.Event, *, with_reviews: bool = False) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        if with_reviews:
            await asyncio.gather(kernel.run_worker(stop), run_loop(settings, stop))
        else:
            await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

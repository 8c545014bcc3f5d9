"""The worker process of cme-tracker: outbox relay and consumers (run by `cme-tracker worker`)."""

from __future__ import annotations

import asyncio

from cme_tracker.bootstrap import bootstrap
from cme_tracker.config import Settings


async def run(settings: Settings, stop: asyncio.Event) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

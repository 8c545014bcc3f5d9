"""The worker process of reporting: outbox relay and consumers (run by `reporting worker`)."""

from __future__ import annotations

import asyncio

from reporting.bootstrap import bootstrap
from reporting.config import Settings


async def run(settings: Settings, stop: asyncio.Event) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

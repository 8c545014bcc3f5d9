"""The worker process of exclusions: outbox relay and consumers (run by `exclusions worker`)."""

from __future__ import annotations

import asyncio

from exclusions.bootstrap import bootstrap
from exclusions.config import Settings


async def run(settings: Settings, stop: asyncio.Event) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

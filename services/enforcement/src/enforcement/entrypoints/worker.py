"""The worker process of enforcement: outbox relay and consumers (run by `enforcement worker`)."""

from __future__ import annotations

import asyncio

from enforcement.bootstrap import bootstrap
from enforcement.config import Settings


async def run(settings: Settings, stop: asyncio.Event) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

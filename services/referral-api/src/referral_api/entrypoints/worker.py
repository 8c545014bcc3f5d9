"""The worker process of referral-api: outbox relay and consumers (run by `referral-api worker`)."""

from __future__ import annotations

import asyncio

from referral_api.bootstrap import bootstrap
from referral_api.config import Settings


async def run(settings: Settings, stop: asyncio.Event) -> None:
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()

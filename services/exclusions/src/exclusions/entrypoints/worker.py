"""The worker process of exclusions: outbox relay, consumers and the scheduled checks
(run by `exclusions worker`; `exclusions scheduler` runs the checks alone)."""

from __future__ import annotations

import asyncio
import signal

from exclusions.bootstrap import bootstrap, context
from exclusions.config import Settings
from exclusions.service_layer import scheduler
from inclusion_kit.clock import Clock


async def run(
    settings: Settings, stop: asyncio.Event, clock: Clock | None = None, metrics_port: int | None = None
) -> None:
    """The relay, the roll consumers and the scheduled checks (a kit periodic task)."""
    kernel = bootstrap(settings, clock)
    try:
        await kernel.check_schema()
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, registry=kernel.metrics.registry)
        await kernel.run_worker(stop)
    finally:
        await kernel.dispose()


async def run_scheduler(
    settings: Settings, *, once: bool, clock: Clock | None = None
) -> scheduler.SchedulerReport | None:
    """`exclusions scheduler [--once]`: the checks without the relay (e.g. from cron)."""
    kernel = bootstrap(settings)
    try:
        await kernel.check_schema()
        ctx = context(settings, clock)
        if once:
            return await scheduler.run_once(kernel.uow, ctx)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.run_forever(kernel.uow, ctx, stop, settings.scheduler_interval_seconds)
        return None
    finally:
        await kernel.dispose()

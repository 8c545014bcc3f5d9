"""Periodic tasks: run every interval until stopped, survive a failing run, and on PostgreSQL run
on one replica at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inclusion_kit.contracts.events import REGISTRY
from inclusion_kit.db import KitTables, make_metadata
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.service import PeriodicTask, ServiceKernel
from inclusion_kit.settings import ServiceSettings
from inclusion_kit.testing import infra


def kernel(url: str, *tasks: PeriodicTask) -> ServiceKernel[UnitOfWork]:
    return ServiceKernel(
        settings=ServiceSettings(service_name="periodic-test", database_url=url),
        source="inclusion/periodic-test",
        migrations=Path("unused"),
        tables=KitTables(make_metadata()),
        registry=REGISTRY,
        uow_class=UnitOfWork,
        periodic=tasks,
    )


async def test_runs_every_interval_and_a_failure_does_not_stop_it(sqlite_url: str) -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one bad tick")

    task = PeriodicTask("tick", job, interval_seconds=0.02)
    k = kernel(sqlite_url, task)
    stop = asyncio.Event()
    runner = asyncio.create_task(k.run_periodic(task, stop))
    for _ in range(200):
        if len(runs) >= 4:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    await k.dispose()
    assert len(runs) >= 4  # the failing second run did not end the loop


@pytest.mark.integration
async def test_on_postgresql_one_replica_runs_a_task_at_a_time(postgres_admin_url: str) -> None:
    name = await infra.create_database(postgres_admin_url)
    url = infra.database_url(postgres_admin_url, name)
    running = 0
    overlap = 0
    runs = 0

    async def slow() -> None:
        nonlocal running, overlap, runs
        running += 1
        overlap = max(overlap, running)
        runs += 1
        await asyncio.sleep(0.15)
        running -= 1

    task = PeriodicTask("slow", slow, interval_seconds=0.01)
    replicas = [kernel(url, task), kernel(url, task)]
    stop = asyncio.Event()
    loops = [asyncio.create_task(k.run_periodic(task, stop)) for k in replicas]
    try:
        await asyncio.sleep(0.8)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*loops), 5)
        for k in replicas:
            await k.dispose()
        await infra.drop_database(postgres_admin_url, name)
    assert runs >= 2 and overlap == 1

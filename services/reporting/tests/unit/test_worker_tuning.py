"""The worker's settings for volume: the kit's collector tuning before it consumes, the batch size."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from inclusion_kit.service import WORKER_GC_THRESHOLD
from reporting.bootstrap import bootstrap
from reporting.config import BATCH_MAX_RECORDS, Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
async def test_the_worker_tunes_the_collector_before_it_consumes() -> None:
    gc.set_threshold(700, 10, 10)
    kernel = bootstrap(Settings(database_url="sqlite+aiosqlite:///:memory:", bus="embedded"))
    with pytest.raises(RuntimeError):  # the worker is for Kafka mode; it tuned the collector first
        await kernel.run_worker(asyncio.Event())
    assert gc.get_threshold()[0] == WORKER_GC_THRESHOLD
    await kernel.dispose()


def test_reporting_applies_larger_batches_than_the_kits_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().consumer.batch_max_records == BATCH_MAX_RECORDS == 5000
    monkeypatch.setenv("REPORTING_CONSUMER__BATCH_MAX_RECORDS", "300")
    assert Settings().consumer.batch_max_records == 300

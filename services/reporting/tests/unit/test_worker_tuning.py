"""The worker's and the rebuild's settings for volume: the collector, the batch size."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from reporting.bootstrap import WORKER_GC_THRESHOLD, bootstrap, tune_gc_for_worker
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
def test_start_up_objects_are_frozen_and_the_young_generation_collected_less_often() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc_for_worker()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (WORKER_GC_THRESHOLD, 10, 10)
    # A higher setting (from the environment or an embedding process) is kept.
    gc.set_threshold(50_000, 10, 10)
    tune_gc_for_worker()
    assert gc.get_threshold() == (50_000, 10, 10)


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

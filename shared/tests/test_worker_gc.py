"""A worker's collector settings (service.tune_gc_for_worker), applied by every service's worker."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from inclusion_kit.service import WORKER_GC_THRESHOLD, tune_gc_for_worker


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

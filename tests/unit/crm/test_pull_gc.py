"""The pull's collector settings: the heap before it frozen, young collections rarer, both undone."""

from __future__ import annotations

import gc

import pytest

from connector.pull import YOUNG_GC_THRESHOLD, gc_frozen


@pytest.mark.parametrize("young", [700, YOUNG_GC_THRESHOLD * 2])
def test_gc_frozen_sets_and_restores_the_collector(young: int) -> None:
    before = gc.get_threshold()
    gc.set_threshold(young, *before[1:])
    try:
        with gc_frozen():
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (max(young, YOUNG_GC_THRESHOLD), *before[1:])
        assert gc.get_threshold() == (young, *before[1:])
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)


def test_gc_frozen_restores_the_collector_when_the_pull_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gc_frozen():
        raise RuntimeError("pull failed")
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)

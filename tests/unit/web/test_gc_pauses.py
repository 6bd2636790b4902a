"""gc_pauses: objects that survive a full collection leave the collector's walks while the
app runs; everything is back in them (unfrozen) after."""

from __future__ import annotations

import gc

import pytest
from aiohttp import web

from server.web.gc_pauses import keeper


async def test_survivors_of_a_full_collection_are_frozen_until_the_app_stops() -> None:
    gc.unfreeze()
    ctx = keeper(thaw_every_s=3600)(web.Application())
    await ctx.__anext__()
    try:
        assert gc.get_freeze_count() > 0  # startup state frozen
        gc.unfreeze()
        kept = [[i] for i in range(1000)]  # long-lived containers made after start
        assert gc.get_freeze_count() == 0
        gc.collect()  # a full collection: its survivors move to the permanent generation
        assert gc.get_freeze_count() >= len(kept)
    finally:
        with pytest.raises(StopAsyncIteration):
            await ctx.__anext__()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0  # no callback left behind


def test_thaw_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="thaw_every_s"):
        keeper(thaw_every_s=0)

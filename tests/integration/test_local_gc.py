"""The local runtime tunes Python's cyclic GC for its run and gives the settings back when it closes."""

from __future__ import annotations

import gc

from arrears_local import gctune
from arrears_local.runtime import LocalRuntime

from tests.integration.conftest import START


def test_the_runtime_tunes_the_gc_while_open_and_restores_it_on_exit():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with LocalRuntime(start=START):
        assert gc.get_threshold() == gctune.THRESHOLD
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

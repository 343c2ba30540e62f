"""Python's cyclic garbage collector, tuned for the long local runs (the local runtime, `arrears simulate`).

Left at its defaults, the collector spends a tenth to a third of such a run walking objects that live
for the whole run (moto's tables and objects, the imported handlers, the book and its logs): each
collection of the older generations re-visits all of them. Tuned, what exists when the run starts
is frozen out of the collections and collections run less often. Local only: never in Lambda code.
Reference counting still frees everything else at once; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

# Generation 0 is collected every 50,000 net allocations (700 by default), generation 1 every 20 of those,
# generation 2 every 50 of those (and, as always, only once it has grown by a quarter since the last).
THRESHOLD = (50_000, 20, 50)


def tune() -> tuple[int, ...]:
    """Freeze what exists and collect less often; returns the thresholds to give back to `restore`."""
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLD)
    return saved


def restore(saved: tuple[int, ...]) -> None:
    gc.set_threshold(*saved)
    gc.unfreeze()


@contextmanager
def tuned_gc() -> Iterator[None]:
    saved = tune()
    try:
        yield
    finally:
        restore(saved)

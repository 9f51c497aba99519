"""Decoded record batches kept in the process between Transform's two passes over a split.

Transform reads the analyzed split twice: once for the analyzers, once to transform it after
the analysis. Decoding a taxi row (tfx-bsl's tf.Example -> Arrow decoder) costs about 6 µs,
a tenth of Transform's time at 1M rows. The analysis read offers its batches here, up to a
byte bound; the transform read takes them back in order (glued into its larger batches) and
decodes from the files only what is not here: past the bound, in another process (Beam
worker processes each have their own store), or when the passes run in another order.
Decoding the same records gives the same batches, so outputs do not depend on what was kept.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterable, Iterator

# Arrow bytes kept per process (all splits): about 2.5M taxi rows (163 bytes a row decoded).
# Beyond it the transform pass decodes again, so peak RSS stays bounded at any size.
MAX_BYTES = 400 << 20

_lock = threading.Lock()
_stores: dict[str, "_Store"] = {}
_kept_bytes = 0


class _Store:
    """One split's batches 0..n-1 (a prefix: keeping stops at the bound), and whether the
    read reached the end (then ``total`` is the number of batches)."""

    def __init__(self) -> None:
        self.batches: dict[int, Any] = {}
        self.next = 0  # the index the next kept batch must have
        self.full = False  # a batch was refused: the store holds a prefix only
        self.total: int | None = None


def keep(token: str, index: int, batch: Any) -> None:
    """Offer the split's batch ``index`` (batches come in order, maybe more than once)."""
    global _kept_bytes
    with _lock:
        store = _stores.setdefault(token, _Store())
        if index < store.next or store.full:  # a second read of the split (kept already)
            return
        if index > store.next or _kept_bytes + batch.nbytes > MAX_BYTES:
            store.full = True
            return
        store.batches[index] = batch
        store.next += 1
        _kept_bytes += batch.nbytes


def finish(token: str, total: int) -> None:
    """The read of the split ended after ``total`` batches."""
    with _lock:
        _stores.setdefault(token, _Store()).total = total


def take(token: str, start: int, count: int, remove: bool = True) -> list[Any] | None:
    """Batches ``start`` .. ``start + count - 1`` (fewer at the split's end), removed from the
    store unless ``remove`` is False (a later reader wants them too); [] past the end of a
    split read whole; None when any of them is not here."""
    global _kept_bytes
    with _lock:
        store = _stores.get(token)
        if store is None:
            return None
        if store.total is not None and not store.full:
            count = max(0, min(count, store.total - start))
            if count == 0:
                return [] if start >= store.total else None
        indices = range(start, start + count)
        if not all(i in store.batches for i in indices):
            return None
        if not remove:
            return [store.batches[i] for i in indices]
        found = [store.batches.pop(i) for i in indices]
        _kept_bytes -= sum(batch.nbytes for batch in found)
        return found


def drop(token: str) -> None:
    """Forget a split's batches (the pipeline has run)."""
    global _kept_bytes
    with _lock:
        store = _stores.pop(token, None)
        if store is not None:
            _kept_bytes -= sum(batch.nbytes for batch in store.batches.values())


@contextlib.contextmanager
def dropped_after(tokens: Iterable[str]) -> Iterator[None]:
    """Drop these splits' batches when the block (the pipeline's run) ends, however it ends."""
    try:
        yield
    finally:
        for token in list(tokens):
            drop(token)

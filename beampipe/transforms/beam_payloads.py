"""Beam's pickled functions without bz2 while they stay among beampipe's own processes.

Beam pickles every DoFn, CombineFn and coder to plan a pipeline's stages, and again to run
them, and compresses each pickle with bz2 at level 9 (``cloudpickle_pickler.dumps``,
``dill_pickler.dumps``): on penguin that is ~0.6 s of compressing and ~0.3 s of
decompressing pickles of a few kB, which never leave this process. The compression only
saves memory and protobuf size for large pickles, and matters to remote workers.

:func:`install` puts :class:`Codec` in place of the ``bz2`` module those two picklers use.
Its ``decompress`` reads both forms: bz2 streams (they start with ``BZh``) and plain pickles
(protocol 2 and later start with the PROTO opcode ``\\x80``), so it reads whatever stock Beam
wrote. Its ``compress`` leaves a pickle plain only in a thread that :func:`plain_pickles` has
switched on (``beam_util.make_pipeline`` does it for DirectRunner pipelines, for the life of
their ``with`` block) and only up to :data:`PLAIN_MAX_BYTES`; otherwise it compresses as Beam
does. A DirectRunner's worker processes read plain pickles because Beam imports this module
in them first: ``make_pipeline`` names it in ``--beam_plugins``. Other runners' workers
may not have beampipe, so their pipelines keep bz2.
"""
from __future__ import annotations

import bz2
import threading

PLUGIN = __name__
PLAIN_MAX_BYTES = 8 << 20  # larger pickles are compressed, as Beam does, to bound memory
_PICKLE_START = b"\x80"  # PROTO opcode: every pickle of protocol >= 2 starts with it

_local = threading.local()


class Codec:
    """Stands in for the ``bz2`` module inside Beam's picklers."""

    @staticmethod
    def compress(data: bytes, compresslevel: int = 9) -> bytes:
        plain = getattr(_local, "plain", False) and len(data) <= PLAIN_MAX_BYTES
        if plain and data[:1] == _PICKLE_START:
            return data
        return bz2.compress(data, compresslevel)

    @staticmethod
    def decompress(data: bytes) -> bytes:
        return data if data[:1] == _PICKLE_START else bz2.decompress(data)


def plain_pickles(enabled: bool) -> None:
    """Whether pickles Beam makes in this thread from now on may stay uncompressed."""
    _local.plain = enabled


def install() -> bool:
    """Put :class:`Codec` into Beam's cloudpickle and dill picklers (idempotent); False when
    a pickler no longer compresses through a module-level ``bz2``."""
    from apache_beam.internal import cloudpickle_pickler, dill_pickler
    done = True
    for module in (cloudpickle_pickler, dill_pickler):
        if getattr(module, "bz2", None) in (bz2, Codec):
            module.bz2 = Codec
        else:
            done = False
    return done


install()

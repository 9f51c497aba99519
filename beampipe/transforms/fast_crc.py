"""Beam's TFRecord checksums in C: google-crc32c instead of crcmod.

Beam looks for ``snappy._crc32c`` (gone from python-snappy since 0.7) and otherwise falls
back to crcmod, logging "Couldn't find python-snappy so ... _masked_crc32c is not as fast as
it could be"; every TFRecord read and write then pays ~2 µs per record for two CRCs.
google-crc32c (a dependency of apache-beam[gcp]) computes the same CRC32C in C, ~6x faster.

Importing this module installs it in Beam. ``beam_util.make_pipeline`` imports it and names
it in ``--beam_plugins``, which Beam's worker processes (multi_processing, portable runners,
Dataflow) import at start, so their reads and writes get it too.
"""
from __future__ import annotations


def register() -> bool:
    """Make Beam's TFRecord coder use google-crc32c's C CRC32C; False when unavailable."""
    try:
        import google_crc32c
        from apache_beam.io import tfrecordio
    except ImportError:
        return False
    default = getattr(tfrecordio, "_default_crc32c_fn", None)
    if google_crc32c.implementation != "c" or default is None or not hasattr(default, "fn"):
        return False
    default.fn = google_crc32c.value
    return True


PLUGIN = __name__
register()

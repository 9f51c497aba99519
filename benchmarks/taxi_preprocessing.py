"""preprocessing_fn for the synthetic taxi data (benchmarks/data_components.py)."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

NUMERIC = ["trip_seconds", "trip_miles", "fare", "tips"]
CATEGORICAL = ["payment_type", "company"]


def _dense(x: Any, default: Any) -> Any:
    if isinstance(x, tf.sparse.SparseTensor):
        x = tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]),
                               default_value=default)
    return tf.reshape(x, [-1])


def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
    """Scale numbers (missing -> 0), vocabularies for categories, hour of day from the timestamp."""
    out = {}
    for key in NUMERIC:
        out[key] = tft.scale_to_z_score(tf.cast(_dense(inputs[key], tf.cast(0, inputs[key].dtype)), tf.float32))
    for key in CATEGORICAL:
        out[key] = tft.compute_and_apply_vocabulary(_dense(inputs[key], b""), top_k=100,
                                                    num_oov_buckets=1)
    seconds = _dense(inputs["trip_start_timestamp"], tf.cast(0, inputs["trip_start_timestamp"].dtype))
    out["hour"] = tf.math.floormod(tf.math.floordiv(tf.cast(seconds, tf.int64), 3600), 24)
    out["tip_over_20pct"] = _dense(inputs["tip_over_20pct"], tf.cast(0, inputs["tip_over_20pct"].dtype))
    return out

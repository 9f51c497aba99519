"""AutoGraph left out of TFT, tfx-bsl and tensorflow-metadata (``fn_args.GRAPH_MODE_LIBRARIES``):
a TFX serving signature built on ``TFTransformOutput`` traces to the same ops and the same
outputs as with AutoGraph converting them (what TF does by default)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from tests.components.testdata.penguin_inputs import transformed_penguin

# TFX's penguin serving signature (penguin_utils_base.make_serving_signatures), in a fresh process.
SIGNATURE = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf
import tensorflow_transform as tft
if sys.argv[3] == "skip":
    from beampipe.components.fn_args import skip_autograph_for_tf_keras
    skip_autograph_for_tf_keras()
out = tft.TFTransformOutput(sys.argv[1])
layer = out.transform_features_layer()

@tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string)])
def transform_features(serialized):
    spec = out.raw_feature_spec()
    spec.pop("species")
    return layer(tf.io.parse_example(serialized, spec))

concrete = transform_features.get_concrete_function()
records = [r.numpy() for r in tf.data.TFRecordDataset(tf.io.gfile.glob(sys.argv[2]), compression_type="GZIP")]
values = transform_features(tf.constant(records))
print("RESULT " + json.dumps({
    "ops": sorted(op.type for op in concrete.graph.get_operations()),
    "values": {k: v.numpy().tolist() for k, v in sorted(values.items())}}))
"""


def _signature(graph_uri: str, examples: str, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SIGNATURE, graph_uri, examples, mode],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads([x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1][7:])


def test_skipping_autograph_in_tft_traces_the_same_graph():
    t = transformed_penguin()
    examples = t["examples"].split_files("eval")
    converted = _signature(t["transform_graph"].uri, examples, "convert")
    skipped = _signature(t["transform_graph"].uri, examples, "skip")
    assert skipped["values"] and skipped["values"] == converted["values"]
    assert skipped["ops"] == converted["ops"]

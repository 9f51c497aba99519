"""The complete penguin pipeline end to end, as the README's first command runs it."""
from __future__ import annotations

import csv
import os
import re

import pytest

from beampipe.metadata import layout
from beampipe.metadata.artifacts import PushedModel, TransformGraph
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner

pytestmark = pytest.mark.e2e

HERE = os.path.dirname(os.path.abspath(__file__))
PENGUIN_DIR = os.path.join(HERE, "..", "..", "examples", "penguin")


def _build(root: str, accuracy_threshold: float = 0.6):
    from beampipe.orchestration.ir import load_module_from_file

    module = load_module_from_file(os.path.join(PENGUIN_DIR, "penguin_pipeline.py"),
                                   "penguin_pipeline_under_test")
    return module.create_pipeline(
        pipeline_name="penguin", pipeline_root=root, data_root=module.DATA_ROOT,
        module_file=module.MODULE_FILE, serving_model_dir=os.path.join(root, "serving"),
        accuracy_threshold=accuracy_threshold)


def _outputs(root: str, result, node: str) -> dict:
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    return store.artifacts_of(result.nodes[node].execution_id)


def _raw_examples() -> tuple[list[bytes], list[str]]:
    import tensorflow as tf

    records, labels = [], []
    with open(os.path.join(PENGUIN_DIR, "data", "penguins.csv")) as f:
        for row in csv.DictReader(f):
            if not row["bill_length_mm"]:
                continue
            feats = {}
            for key, value in row.items():
                if key == "species" or value == "":
                    continue
                # typed as ExampleGen types CSV columns: int, else float, else bytes
                if key in ("island", "sex"):
                    feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
                elif key in ("year", "flipper_length_mm", "body_mass_g"):
                    feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                else:
                    feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
            records.append(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
            labels.append(row["species"])
    return records, labels


def test_penguin_pipeline_trains_blesses_pushes_and_caches(tmp_path):
    import numpy as np
    import tensorflow as tf

    root = str(tmp_path / "root")
    first = LocalDagRunner().run(_build(root))
    assert first.status == "COMPLETE", {n: (r.status, r.error) for n, r in first.nodes.items()}
    assert {r.status for r in first.nodes.values()} == {"COMPLETE"}

    [blessing] = _outputs(root, first, "Evaluator")["blessing"]
    assert blessing.custom_properties["blessed"] == 1
    # "...(sparse_categorical_accuracy=0.975)": %.4g, so the number may be shorter than 6 characters
    accuracy = float(re.search(r"sparse_categorical_accuracy=([\d.]+)", blessing.custom_properties["message"])[1])
    assert accuracy >= 0.9
    [pushed] = _outputs(root, first, "Pusher")["pushed_model"]
    assert pushed.custom_properties[PushedModel.PUSHED_KEY] == 1
    destination = pushed.custom_properties[PushedModel.DESTINATION_KEY]
    assert destination.startswith(os.path.join(root, "serving"))
    assert os.path.isfile(layout.join(pushed.model_dir(), layout.SAVED_MODEL_FILE))  # the archived copy

    # The pushed model answers raw examples, with no hand-written preprocessing.
    records, labels = _raw_examples()
    served = tf.saved_model.load(destination).signatures["serving_default"]
    probabilities = served(examples=tf.constant(records))["probabilities"].numpy()
    vocab = sorted(set(labels))
    predicted = probabilities.argmax(axis=1)
    # the transform graph's vocabulary orders species by frequency: map through it
    tft_vocab_file = [os.path.join(dp, f) for dp, _, fs in os.walk(root)
                      for f in fs if f == "species" and TransformGraph.TRANSFORM_FN_DIR in dp][0]
    order = [line.strip() for line in open(tft_vocab_file)]
    assert set(order) == set(vocab)
    served_accuracy = float(np.mean([order[p] == y for p, y in zip(predicted, labels)]))
    assert served_accuracy >= 0.9

    # Second run, nothing changed: the resolver now finds the blessed model, which is the
    # (cached) candidate itself, so the Evaluator runs without a baseline and is cached too.
    second = LocalDagRunner().run(_build(root))
    statuses = {n: r.status for n, r in second.nodes.items()}
    assert statuses.pop("latest_blessed_model_resolver") == "COMPLETE"  # never cached: it queries MLMD
    assert set(statuses.values()) == {"CACHED"}, statuses

    # Only the Evaluator threshold changes: Evaluator and what follows re-run, nothing before.
    fourth = LocalDagRunner().run(_build(root, accuracy_threshold=0.5))
    statuses = {n: r.status for n, r in fourth.nodes.items()}
    assert statuses["Evaluator"] == "COMPLETE"
    for upstream in ("CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                     "Transform", "Trainer"):
        assert statuses[upstream] == "CACHED"

    # A model made worse on purpose (one training step) is not blessed against the
    # baseline and is not pushed: Pusher is skipped, not failed.
    worse = LocalDagRunner().run(_build(root), params={"train_steps": 1})
    assert worse.nodes["Trainer"].status == "COMPLETE"
    [verdict] = _outputs(root, worse, "Evaluator")["blessing"]
    assert verdict.custom_properties["blessed"] == 0
    assert worse.nodes["Pusher"].status == "SKIPPED"
    assert worse.status == "COMPLETE"
    assert len(os.listdir(os.path.join(root, "serving"))) == 1  # still only the first push

"""Tiny penguin Examples and a tiny trained Keras model, laid out as beampipe artifacts.

The model is exported the way beampipe's Trainer exports (and TFX's penguin template does):
``serving_default`` parses serialized RAW tf.Examples (input ``examples``) and returns class
probabilities; ``transform_features`` parses the same raw examples and returns the features
with the label ``species`` as its vocabulary index, so TFMA's ``label_key='species'`` gets an
integer through ``preprocessing_function_names=['transform_features']``.
"""
from __future__ import annotations

import csv
import os
import random
from typing import Any

from beampipe.metadata.artifacts import Examples, Model

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
FLOAT_FEATURES = ["bill_length_mm", "bill_depth_mm"]
INT_FEATURES = ["flipper_length_mm", "body_mass_g"]
# Rough means/stds of the data, so the tiny net trains in a few epochs.
_SCALE = {"bill_length_mm": (44.0, 5.5), "bill_depth_mm": (17.2, 2.0),
          "flipper_length_mm": (201.0, 14.0), "body_mass_g": (4200.0, 800.0)}
_CACHE: dict[str, Any] = {}


def penguin_csv() -> str:
    import palmerpenguins
    return os.path.join(os.path.dirname(palmerpenguins.__file__), "data", "penguins.csv")


def penguin_rows() -> list[dict[str, str]]:
    """Complete rows only (the raw CSV has NA cells)."""
    with open(penguin_csv()) as f:
        return [r for r in csv.DictReader(f) if "NA" not in r.values()]


def to_example(row: dict[str, str]) -> bytes:
    """A raw tf.Example as CsvExampleGen writes it: ints int64, floats float, strings bytes."""
    import tensorflow as tf
    feats = {name: tf.train.Feature(float_list=tf.train.FloatList(value=[float(row[name])]))
             for name in FLOAT_FEATURES}
    feats.update({name: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row[name])]))
                  for name in INT_FEATURES})
    for name in ("species", "island", "sex"):
        feats[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[name].encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def write_tfrecord_gz(path: str, records: list[bytes]) -> None:
    """Gzip TFRecord written with TF's own writer (what Beam's reader expects)."""
    import tensorflow as tf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for rec in records:
            writer.write(rec)


def make_examples(uri: str, eval_size: int = 60, train_size: int = 150, seed: int = 0) -> Examples:
    """An Examples artifact with splits train and eval of raw penguin tf.Examples."""
    rows = penguin_rows()
    random.Random(seed).shuffle(rows)
    splits = {"train": rows[:train_size], "eval": rows[train_size:train_size + eval_size]}
    art = Examples(uri)
    for name, part in splits.items():
        write_tfrecord_gz(art.shard_uri(name), [to_example(r) for r in part])
    art.splits = list(splits)
    return art


def read_examples(uri: str, split: str) -> list[bytes]:
    import tensorflow as tf
    pattern = Examples(uri).split_files(split)
    return [r.numpy() for r in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), "GZIP")]


def train_model(uri: str, examples_uri: str, epochs: int = 30, seed: int = 0) -> Model:
    """Train (epochs=0: leave untrained) and export to the Model's serving directory."""
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    parsed = [tf.train.Example.FromString(r) for r in read_examples(examples_uri, "train")]
    names = FLOAT_FEATURES + INT_FEATURES

    def value(ex: Any, name: str) -> float:
        f = ex.features.feature[name]
        return float((f.float_list.value or f.int64_list.value)[0])

    x = np.array([[(value(e, n) - _SCALE[n][0]) / _SCALE[n][1] for n in names] for e in parsed],
                 dtype="float32")
    y = np.array([SPECIES.index(e.features.feature["species"].bytes_list.value[0].decode())
                  for e in parsed])
    inputs = tf.keras.Input(shape=(len(names),), name="features")
    hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
    outputs = tf.keras.layers.Dense(len(SPECIES), activation="softmax")(hidden)
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if epochs:
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    export_model(model, Model(uri).serving_dir())
    return Model(uri)


def export_model(model: Any, path: str) -> None:
    """Export with raw-example ``serving_default`` and ``transform_features`` signatures."""
    import tensorflow as tf

    spec = {n: tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]) for n in FLOAT_FEATURES}
    spec.update({n: tf.io.FixedLenFeature([1], tf.int64, default_value=[0]) for n in INT_FEATURES})
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(SPECIES), tf.constant([0, 1, 2], tf.int64)), -1)
    model.species_table = table  # tracked, so the table is saved with the model

    def scaled(feats: dict[str, Any]) -> Any:
        cols = [(tf.cast(feats[n], tf.float32) - _SCALE[n][0]) / _SCALE[n][1]
                for n in FLOAT_FEATURES + INT_FEATURES]
        return tf.concat(cols, axis=1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples: Any) -> dict[str, Any]:
        return {"outputs": model(scaled(tf.io.parse_example(examples, spec)))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(examples: Any) -> dict[str, Any]:
        raw = tf.io.parse_example(
            examples, {**spec, "species": tf.io.FixedLenFeature([1], tf.string, default_value=[""])})
        out = {n: tf.cast(raw[n], tf.float32) for n in FLOAT_FEATURES + INT_FEATURES}
        out["species"] = model.species_table.lookup(raw["species"])
        return out

    model.save(path, save_format="tf",
               signatures={"serving_default": serve, "transform_features": transform_features})


def eval_config_json(threshold: float | None = None, change: float | None = None) -> Any:
    """The penguin EvalConfig: accuracy on the eval split, overall and per island."""
    import tensorflow_model_analysis as tfma

    metric = tfma.MetricConfig(class_name="SparseCategoricalAccuracy")
    if threshold is not None or change is not None:
        metric.threshold.CopyFrom(tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": threshold})
            if threshold is not None else None,
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": change})
            if change is not None else None))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key="species",
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["island"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount"),
                                                 metric])])


def shared(tmp_factory: Any, kind: str) -> Any:
    """Build once per test process: 'examples', 'model' (trained), 'bad_model' (untrained)."""
    if kind not in _CACHE:
        if kind == "examples":
            _CACHE[kind] = make_examples(str(tmp_factory.mktemp("examples")))
        else:
            ex = shared(tmp_factory, "examples")
            epochs = 30 if kind == "model" else 0
            _CACHE[kind] = train_model(str(tmp_factory.mktemp(kind)), ex.uri, epochs=epochs)
    art = _CACHE[kind]
    copy = type(art)(art.uri)
    copy.properties.update(art.properties)
    return copy


def blessing(uri: str, blessed: bool) -> Any:
    """A ModelBlessing artifact as Evaluator writes it."""
    from beampipe.metadata.artifacts import ModelBlessing
    os.makedirs(uri, exist_ok=True)
    art = ModelBlessing(uri)
    open(art.marker(blessed), "w").close()
    art.custom_properties[art.BLESSED_KEY] = int(blessed)
    return art


def export_classify_regress_model(path: str) -> Model:
    """A TF1-style SavedModel with ``classify`` and ``regress`` signatures on raw examples.

    No training: a fixed rule, so results are known. classify: classes are SPECIES, scores a
    softmax that favours Gentoo for flippers over 205 mm; regress: body mass in kg."""
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
        serialized = v1.placeholder(tf.string, [None], name="input_examples")
        feats = tf.io.parse_example(serialized, {
            "flipper_length_mm": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
            "body_mass_g": tf.io.FixedLenFeature([1], tf.int64, default_value=[0])})
        flipper = tf.cast(feats["flipper_length_mm"], tf.float32)
        gentoo = (flipper - 205.0) / 5.0
        scores = tf.nn.softmax(tf.concat([-gentoo, tf.zeros_like(gentoo) - 2.0, gentoo], axis=1))
        classes = tf.tile(tf.constant([SPECIES]), [tf.shape(serialized)[0], 1])
        kg = tf.cast(feats["body_mass_g"], tf.float32) / 1000.0
        builder = v1.saved_model.Builder(Model(path).serving_dir())
        classify = v1.saved_model.classification_signature_def(serialized, classes, scores)
        regress = v1.saved_model.regression_signature_def(serialized, kg)
        builder.add_meta_graph_and_variables(sess, [tf.saved_model.SERVING], signature_def_map={
            "classify": classify, "regress": regress, "serving_default": classify})
        builder.save()
    return Model(path)

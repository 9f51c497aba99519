"""Penguin module file, written to TFX's public contract.

A TFX user's module file runs here with one import changed: ``from tfx import v1 as tfx``
becomes ``import beampipe as tfx``. It defines:
- ``preprocessing_fn`` for Transform: z-score the measurements, fill missing values, and turn
  the species into a label index with a vocabulary;
- ``run_fn`` for Trainer: a small Keras model on the transformed features, exported with a
  ``serving_default`` signature that takes serialized *raw* tf.Examples and applies the
  transform graph itself;
- ``tuner_fn`` for Tuner: a keras-tuner random search over the hidden layer size and learning rate.
"""
from __future__ import annotations

from typing import Any

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

import beampipe as tfx

FEATURE_KEYS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL_KEY = "species"
TRAIN_BATCH_SIZE = 20
EVAL_BATCH_SIZE = 10


def _dense(x: Any, default: Any) -> tf.Tensor:
    """A [batch] dense tensor from a sparse ([batch, 0-or-1]) or dense ([batch, 1]) feature."""
    if isinstance(x, tf.sparse.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value=default)
    elif x.shape.rank == 1:
        return x
    return tf.squeeze(x, axis=1)


def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
    """Missing measurements become the mean (0 after z-scoring); species becomes an index."""
    outputs = {}
    for key in FEATURE_KEYS:
        scaled = tft.scale_to_z_score(_to_float(inputs[key]))
        outputs[key] = _dense(scaled, 0.0)
    outputs[LABEL_KEY] = tft.compute_and_apply_vocabulary(_dense(inputs[LABEL_KEY], ""),
                                                          vocab_filename=LABEL_KEY)
    return outputs


def _to_float(x: Any) -> Any:
    if isinstance(x, tf.sparse.SparseTensor):
        return tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)
    return tf.cast(x, tf.float32)


def _input_fn(file_pattern: list[str], data_accessor: Any, tf_transform_output: Any,
              batch_size: int) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL_KEY),
        tf_transform_output.transformed_metadata.schema).repeat()


def _default_hyperparameters() -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    hp.Choice("learning_rate", [1e-2, 1e-3], default=1e-2)
    hp.Int("hidden_units", 8, 32, step=8, default=16)
    return hp


def _build_model(hparams: keras_tuner.HyperParameters) -> tf.keras.Model:
    inputs = [tf.keras.layers.Input(shape=(1,), name=key) for key in FEATURE_KEYS]
    x = tf.keras.layers.concatenate(inputs)
    x = tf.keras.layers.Dense(int(hparams.get("hidden_units")), activation="relu")(x)
    outputs = tf.keras.layers.Dense(3)(x)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hparams.get("learning_rate")),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def _serving_signature(model: tf.keras.Model, tf_transform_output: Any) -> Any:
    """serving_default: serialized raw tf.Examples in, class scores out; no label needed."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    raw_spec.pop(LABEL_KEY)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(serialized, raw_spec)
        transformed = model.tft_layer(raw)
        logits = model({key: transformed[key] for key in FEATURE_KEYS})
        return {"outputs": logits, "probabilities": tf.nn.softmax(logits)}

    return serve


def _transform_features_signature(model: tf.keras.Model, tf_transform_output: Any) -> Any:
    """transform_features: raw tf.Examples (label included) in, transformed features out.

    TFMA calls it (``preprocessing_function_names``) to turn the raw species string
    into the integer label the metrics compare with.
    """
    model.tft_layer_eval = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.tft_layer_eval(tf.io.parse_example(serialized, raw_spec))

    return transform_features


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Train on the transformed train split, check on eval, export the serving model."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                      TRAIN_BATCH_SIZE)
    evaluation = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                           EVAL_BATCH_SIZE)
    if fn_args.hyperparameters:
        hparams = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
    else:
        hparams = _default_hyperparameters()
    model = _build_model(hparams)
    tensorboard = tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, callbacks=[tensorboard], verbose=0)
    signatures = {"serving_default": _serving_signature(model, tf_transform_output),
                  "transform_features": _transform_features_signature(model, tf_transform_output)}
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """A small random search; Trainer then trains with the best hyperparameters."""
    tuner = keras_tuner.RandomSearch(
        _build_model, hyperparameters=_default_hyperparameters(), max_trials=2,
        objective=keras_tuner.Objective("val_accuracy", "max"),
        directory=fn_args.working_dir, project_name="penguin_tuning", seed=1)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                      TRAIN_BATCH_SIZE)
    evaluation = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                           EVAL_BATCH_SIZE)
    return tfx.components.TunerFnResult(
        tuner=tuner,
        fit_kwargs={"x": train, "validation_data": evaluation, "epochs": 1,
                    "steps_per_epoch": fn_args.train_steps, "validation_steps": fn_args.eval_steps,
                    "verbose": 0})

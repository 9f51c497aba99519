"""Training/serving skew: what `beampipe serve` saw, against what the model was trained on.

The second penguin pipeline, closing the loop. `beampipe serve --request-log-dir DIR` writes a sampled
fraction of the requests it answers (their input features and the predictions) as tf.Examples in
``DIR/span-<N>/requests-*.tfrecord.gz``; this pipeline reads the latest span with ImportExampleGen,
computes its statistics, and gives them to ExampleValidator as ``serving_statistics`` beside the
training data's statistics. The schema (``serving_skew_schema.pbtxt``, imported with ImportSchemaGen)
declares a ``skew_comparator`` per feature (Jensen-Shannon divergence for numbers, L-infinity distance
for categories), so a feature whose serving distribution moved away from training is an anomaly
naming it (``ExampleValidator/anomalies/<id>/Split-train/report.html``).

    TrainingExampleGen (CSV) -> TrainingStatisticsGen --\\
    ImportSchemaGen (serving_skew_schema.pbtxt) ---------+--> ExampleValidator (skew)
    RequestLogExampleGen (request log) -> ServingStatisticsGen --/

Run it, after serving the penguin model with request logging on:

    beampipe serve --model-name penguin --model-base-path runs/penguin/serving_model \\
        --request-log-dir runs/penguin/request_log --request-log-sample 0.1
    beampipe run examples/penguin/penguin_serving_skew.py

Environment: PENGUIN_REQUEST_LOG (default ./runs/penguin/request_log), PENGUIN_SKEW_ROOT (default
./runs/penguin_skew), PENGUIN_DATA (the training data, default: the data folder beside this file).
"""
from __future__ import annotations

import os

import beampipe as tfx

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_ROOT = os.environ.get("PENGUIN_DATA") or os.path.join(HERE, "data")
SCHEMA_FILE = os.path.join(HERE, "serving_skew_schema.pbtxt")
REQUEST_LOG_PATTERN = "span-{SPAN}/requests-*.tfrecord.gz"  # what `beampipe serve --request-log-dir` writes


def create_pipeline(pipeline_name: str, pipeline_root: str, data_root: str, request_log_dir: str,
                    schema_file: str = SCHEMA_FILE, metadata_uri: str | None = None) -> tfx.Pipeline:
    training = tfx.components.CsvExampleGen(input_base=data_root).with_id("TrainingExampleGen")
    training_statistics = tfx.components.StatisticsGen(
        examples=training.outputs["examples"]).with_id("TrainingStatisticsGen")
    schema = tfx.components.ImportSchemaGen(schema_file=schema_file)
    # The newest span of the request log; its rows are hash-split train/eval like the training data,
    # so each split of the training statistics is compared with the same split of serving's.
    serving = tfx.components.ImportExampleGen(
        input_base=request_log_dir,
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="requests",
                                                                   pattern=REQUEST_LOG_PATTERN)]),
    ).with_id("RequestLogExampleGen")
    serving_statistics = tfx.components.StatisticsGen(
        examples=serving.outputs["examples"]).with_id("ServingStatisticsGen")
    skew = tfx.components.ExampleValidator(
        statistics=training_statistics.outputs["statistics"], schema=schema.outputs["schema"],
        serving_statistics=serving_statistics.outputs["statistics"])
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, metadata_uri=metadata_uri,
        components=[training, training_statistics, schema, serving, serving_statistics, skew])


pipeline = create_pipeline(
    pipeline_name="penguin_skew",
    pipeline_root=os.environ.get("PENGUIN_SKEW_ROOT", os.path.join("runs", "penguin_skew")),
    data_root=DATA_ROOT,
    request_log_dir=os.environ.get("PENGUIN_REQUEST_LOG", os.path.join("runs", "penguin", "request_log")))

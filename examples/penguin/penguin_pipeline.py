"""The penguin pipeline, written as a TFX user writes it (``import beampipe as tfx``).

ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform -> (Tuner) ->
Trainer -> Resolver (latest blessed model) -> Evaluator -> Pusher (only if blessed) -> BulkInferrer

Run it:  beampipe run examples/penguin/penguin_pipeline.py
Knobs (runtime parameters):  --param train_steps=200 --param accuracy_threshold=0.9
Environment:  PENGUIN_ROOT (default ./runs/penguin; s3://... or gs://... for an object store),
PENGUIN_DATA (default: the data folder beside this file; a cluster needs an s3:// or gs:// copy),
PENGUIN_TUNE=1 adds the Tuner.
"""
from __future__ import annotations

import os

import beampipe as tfx

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_ROOT = os.environ.get("PENGUIN_DATA") or os.path.join(HERE, "data")
MODULE_FILE = os.path.join(HERE, "penguin_utils.py")


def eval_config(accuracy_threshold: float) -> dict:
    """tfma.EvalConfig in its JSON form, so building the pipeline does not import TFMA.

    A tfma.EvalConfig proto works just as well here.
    """
    accuracy = {
        "className": "SparseCategoricalAccuracy",
        "threshold": {
            "valueThreshold": {"lowerBound": accuracy_threshold},
            # Against the last blessed model: no worse by more than 1e-10 (TFX's template).
            "changeThreshold": {"direction": "HIGHER_IS_BETTER", "absolute": -1e-10},
        },
    }
    return {
        "modelSpecs": [{"signatureName": "serving_default", "labelKey": "species",
                        "predictionKey": "probabilities",
                        "preprocessingFunctionNames": ["transform_features"]}],
        "slicingSpecs": [{}, {"featureKeys": ["island"]}],
        # The confusion matrix is a plot TFMA computes: `beampipe ui` draws it on the evaluation page.
        "metricsSpecs": [{"metrics": [{"className": "ExampleCount"}, accuracy,
                                      {"className": "MultiClassConfusionMatrixPlot"}]}],
        # Only the metrics named here: the model's compiled Keras metrics would make TFMA
        # load the whole Keras model a second time, for a loss nobody thresholds.
        "options": {"includeDefaultMetrics": False},
    }


def create_pipeline(pipeline_name: str, pipeline_root: str, data_root: str, module_file: str,
                    serving_model_dir: str, train_steps: int = 200, accuracy_threshold: float = 0.6,
                    enable_tuning: bool = False, metadata_uri: str | None = None) -> tfx.Pipeline:
    example_gen = tfx.components.CsvExampleGen(input_base=data_root)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        module_file=module_file)
    components = [example_gen, statistics_gen, schema_gen, example_validator, transform]

    hyperparameters = None
    if enable_tuning:
        tuner = tfx.components.Tuner(
            module_file=module_file, examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            train_args=tfx.proto.TrainArgs(num_steps=20), eval_args=tfx.proto.EvalArgs(num_steps=5))
        components.append(tuner)
        hyperparameters = tuner.outputs["best_hyperparameters"]

    trainer = tfx.components.Trainer(
        module_file=module_file, examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], schema=schema_gen.outputs["schema"],
        hyperparameters=hyperparameters,
        train_args=tfx.proto.TrainArgs(num_steps=tfx.RuntimeParameter("train_steps", int, train_steps)),
        eval_args=tfx.proto.EvalArgs(num_steps=10))
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"], eval_config=eval_config(accuracy_threshold))
    with tfx.dsl.Cond(evaluator.outputs["blessing"].future()[0].custom_property("blessed") == 1):
        pusher = tfx.components.Pusher(
            model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)))
    bulk_inferrer = tfx.components.BulkInferrer(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"])
    components += [trainer, model_resolver, evaluator, pusher, bulk_inferrer]
    return tfx.dsl.Pipeline(pipeline_name=pipeline_name, pipeline_root=pipeline_root,
                            components=components, metadata_uri=metadata_uri)


ROOT = os.environ.get("PENGUIN_ROOT") or os.path.join(os.getcwd(), "runs", "penguin")
pipeline = create_pipeline(
    pipeline_name="penguin",
    pipeline_root=ROOT,
    data_root=DATA_ROOT,
    module_file=MODULE_FILE,
    serving_model_dir=os.path.join(ROOT, "serving_model"),
    enable_tuning=os.environ.get("PENGUIN_TUNE") == "1",
)

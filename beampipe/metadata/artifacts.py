"""Artifact types, named as TFX names them so MLMD-reading tools show familiar lineage."""
from __future__ import annotations

import json
from typing import Any, ClassVar

from beampipe.metadata import layout

PropertyType = type  # int, float or str
EXTERNAL_KEY = "is_external"
_REGISTERED: dict[str, type["Artifact"]] = {}


class Artifact:
    """One typed piece of data that lives at a URI and is recorded in MLMD.

    Properties are declared per type (and become MLMD type properties); custom
    properties are free-form. Both hold plain int / float / str values.
    """

    TYPE_NAME = "Artifact"
    PROPERTIES: dict[str, PropertyType] = {}
    LAYOUT: ClassVar[str] = ""  # what the type's directory holds (CONTRIBUTING.md's table)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every type a process defines is known by name, so the store and the launcher
        # rebuild a user's own type (``class MyType(tfx.dsl.Artifact)``), not a bare stand-in.
        super().__init_subclass__(**kwargs)
        if "TYPE_NAME" in cls.__dict__:
            _REGISTERED[cls.TYPE_NAME] = cls

    def __init__(self, uri: str = "") -> None:
        self.uri = uri
        self.id: int | None = None
        self.name = ""
        self.state = "UNKNOWN"
        self.properties: dict[str, Any] = {}
        self.custom_properties: dict[str, Any] = {}

    # -- TFX-style accessors -------------------------------------------------
    def get_custom_property(self, key: str) -> Any:
        return self.custom_properties.get(key)

    def set_custom_property(self, key: str, value: Any) -> None:
        self.custom_properties[key] = value

    def set_string_custom_property(self, key: str, value: str) -> None:
        self.custom_properties[key] = str(value)

    def set_int_custom_property(self, key: str, value: int) -> None:
        self.custom_properties[key] = int(value)

    def get_string_custom_property(self, key: str) -> str:
        return str(self.custom_properties.get(key, ""))

    def get_int_custom_property(self, key: str) -> int:
        return int(self.custom_properties.get(key, 0))

    def __getattr__(self, name: str) -> Any:
        # Declared properties read as attributes (artifact.span), as in TFX.
        props = self.__dict__.get("properties")
        if props is not None and name in type(self).PROPERTIES:
            return props.get(name, _default(type(self).PROPERTIES[name]))
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).PROPERTIES:
            self.properties[name] = type(self).PROPERTIES[name](value)
        else:
            object.__setattr__(self, name, value)

    @property
    def type_name(self) -> str:
        return self.TYPE_NAME

    @property
    def is_external(self) -> bool:
        """Registered where it already was (Importer), not written under the pipeline root:
        the launcher neither moves nor deletes it. Kept as a custom property, so it survives MLMD."""
        return bool(self.custom_properties.get(EXTERNAL_KEY))

    @is_external.setter
    def is_external(self, external: bool) -> None:
        if external:
            self.custom_properties[EXTERNAL_KEY] = 1
        else:
            self.custom_properties.pop(EXTERNAL_KEY, None)

    def __repr__(self) -> str:
        return f"{self.TYPE_NAME}(id={self.id}, uri={self.uri!r})"


def _default(ptype: PropertyType) -> Any:
    return ptype()


class _SplitsMixin:
    """split_names is a JSON list in a string property, exactly as TFX stores it; each split
    is a directory ``Split-<name>`` (``layout.split_uri``)."""

    @property
    def splits(self) -> list[str]:
        raw = self.properties.get("split_names")  # type: ignore[attr-defined]
        return json.loads(raw) if raw else []

    @splits.setter
    def splits(self, names: list[str]) -> None:
        self.properties["split_names"] = json.dumps(list(names))  # type: ignore[attr-defined]

    def split_uri(self, split: str) -> str:
        """``<uri>/Split-<split>``."""
        return layout.split_uri(self.uri, split)  # type: ignore[attr-defined]


class Examples(_SplitsMixin, Artifact):
    """tf.Examples in gzip TFRecord shards, one directory per split."""

    TYPE_NAME = "Examples"
    PROPERTIES = {"span": int, "version": int, "split_names": str}
    SHARD_PREFIX = "data_tfrecord"
    SHARD_SUFFIX = ".gz"
    SHARD_PATTERN = f"{SHARD_PREFIX}-*{SHARD_SUFFIX}"
    LAYOUT = (f"`{layout.SPLIT_PREFIX}<name>/{SHARD_PATTERN}` (gzip TFRecord of tf.Example); "
              "properties `split_names` (JSON list), `span`, `version`")

    def shard_prefix(self, split: str) -> str:
        """What a Beam TFRecord sink is given: it adds ``-SSSSS-of-NNNNN`` and the suffix."""
        return layout.join(self.split_uri(split), self.SHARD_PREFIX)

    @classmethod
    def shard_name(cls, index: int, count: int) -> str:
        """``data_tfrecord-00003-of-00010.gz``: the name Beam's sink would give shard 3 of 10."""
        return f"{cls.SHARD_PREFIX}-{index:05d}-of-{count:05d}{cls.SHARD_SUFFIX}"

    def shard_uri(self, split: str, index: int = 0, count: int = 1) -> str:
        return layout.join(self.split_uri(split), self.shard_name(index, count))

    def split_files(self, split: str) -> str:
        """The glob of a split's files (TFX's ``fn_args.train_files`` / ``eval_files``)."""
        return layout.all_files(self.split_uri(split))


class ExampleStatistics(_SplitsMixin, Artifact):
    """TFDV statistics per split, and a report a browser shows."""

    TYPE_NAME = "ExampleStatistics"
    PROPERTIES = {"span": int, "split_names": str}
    STATS_FILE = "FeatureStats.pb"
    LAYOUT = (f"`{layout.SPLIT_PREFIX}<name>/{STATS_FILE}` (binary DatasetFeatureStatisticsList), "
              f"`{layout.SPLIT_PREFIX}<name>/{layout.REPORT_FILE}`")

    def stats_file(self, split: str) -> str:
        return layout.join(self.split_uri(split), self.STATS_FILE)

    def report_file(self, split: str) -> str:
        return layout.report_file(self.uri, split)


class ExampleAnomalies(_SplitsMixin, Artifact):
    """TFDV anomalies per split (against a schema; drift and skew too), and a report."""

    TYPE_NAME = "ExampleAnomalies"
    PROPERTIES = {"span": int, "split_names": str}
    ANOMALIES_FILE = "SchemaDiff.pb"
    LAYOUT = (f"`{layout.SPLIT_PREFIX}<name>/{ANOMALIES_FILE}` (binary Anomalies), "
              f"`{layout.SPLIT_PREFIX}<name>/{layout.REPORT_FILE}`")

    def anomalies_file(self, split: str) -> str:
        return layout.join(self.split_uri(split), self.ANOMALIES_FILE)

    def report_file(self, split: str) -> str:
        return layout.report_file(self.uri, split)


class Schema(Artifact):
    TYPE_NAME = "Schema"
    SCHEMA_FILE = "schema.pbtxt"
    LAYOUT = f"`{SCHEMA_FILE}` (text-format tensorflow_metadata Schema)"

    def schema_file(self) -> str:
        return layout.join(self.uri, self.SCHEMA_FILE)


class TransformGraph(Artifact):
    """TFT's output directory; the names are TFT's (``TFTransformOutput`` reads them)."""

    TYPE_NAME = "TransformGraph"
    TRANSFORM_FN_DIR = "transform_fn"
    TRANSFORMED_METADATA_DIR = "transformed_metadata"
    RAW_METADATA_DIR = "metadata"
    LAYOUT = (f"TFT's output dir: `{TRANSFORM_FN_DIR}/` (SavedModel), `{TRANSFORMED_METADATA_DIR}/`, "
              f"`{RAW_METADATA_DIR}/{Schema.SCHEMA_FILE}` (the raw schema serving parses with)")

    def transform_fn_dir(self) -> str:
        return layout.join(self.uri, self.TRANSFORM_FN_DIR)

    def raw_schema_file(self) -> str:
        """``metadata/schema.pbtxt``: ``TFTransformOutput.raw_feature_spec()`` reads it."""
        return Schema(layout.join(self.uri, self.RAW_METADATA_DIR)).schema_file()


class TransformCache(Artifact):
    TYPE_NAME = "TransformCache"
    LAYOUT = "TFT's analyzer cache (`WriteAnalysisCacheToFS`)"


class Model(Artifact):
    """A trained model; the SavedModel serving loads sits in ``Format-Serving``."""

    TYPE_NAME = "Model"
    SERVING_DIR = "Format-Serving"
    EVAL_DIR = "Format-TFMA"
    LAYOUT = (f"`{SERVING_DIR}/` SavedModel, signature `serving_default` takes serialized raw "
              "tf.Examples (`examples`)")

    def serving_dir(self) -> str:
        return layout.join(self.uri, self.SERVING_DIR)

    def eval_dir(self) -> str:
        """TFX's ``fn_args.eval_model_dir`` (an EvalSavedModel; beampipe's Trainer writes none)."""
        return layout.join(self.uri, self.EVAL_DIR)


class ModelRun(Artifact):
    TYPE_NAME = "ModelRun"
    LAYOUT = "TensorBoard logs (`fn_args.model_run_dir`)"


class ModelEvaluation(Artifact):
    TYPE_NAME = "ModelEvaluation"
    LAYOUT = f"TFMA's output; `{layout.REPORT_FILE}`"

    def report_file(self) -> str:
        return layout.report_file(self.uri)


class _Blessing(Artifact):
    """A verdict: an empty marker file decides it (as in TFX), the ``blessed`` property says it."""

    BLESSED_FILE = ""
    NOT_BLESSED_FILE = ""
    BLESSED_KEY = "blessed"

    def marker(self, blessed: bool = True) -> str:
        """The marker file for a verdict: ``BLESSED`` when ``blessed`` else ``NOT_BLESSED``."""
        return layout.join(self.uri, self.BLESSED_FILE if blessed else self.NOT_BLESSED_FILE)


class ModelBlessing(_Blessing):
    TYPE_NAME = "ModelBlessing"
    BLESSED_FILE = "BLESSED"
    NOT_BLESSED_FILE = "NOT_BLESSED"
    LAYOUT = f"file `{BLESSED_FILE}` or `{NOT_BLESSED_FILE}`; custom property `{_Blessing.BLESSED_KEY}` 1/0"


class InfraBlessing(_Blessing):
    TYPE_NAME = "InfraBlessing"
    BLESSED_FILE = "INFRA_BLESSED"
    NOT_BLESSED_FILE = "INFRA_NOT_BLESSED"
    LAYOUT = f"file `{BLESSED_FILE}` or `{NOT_BLESSED_FILE}`; custom property `{_Blessing.BLESSED_KEY}` 1/0"


class PushedModel(Artifact):
    """What Pusher pushed: a copy of the SavedModel (as TFX archives it) and where it went.

    The push destination is laid out for TF Serving: ``<base_directory>/<version>/``.
    """

    TYPE_NAME = "PushedModel"
    PUSHED_KEY = "pushed"
    DESTINATION_KEY = "pushed_destination"
    VERSION_KEY = "pushed_version"
    LAYOUT = (f"a copy of the pushed SavedModel; custom properties `{PUSHED_KEY}` 1/0, "
              f"`{DESTINATION_KEY}` (`<base_directory>/<version>`), `{VERSION_KEY}`")

    def model_dir(self) -> str:
        """The SavedModel copy sits at the artifact's root, as TFX's Pusher copies it."""
        return self.uri

    @staticmethod
    def version_dir(base_directory: str, version: int | str) -> str:
        """``<base_directory>/<version>``: TF Serving loads the highest number."""
        return layout.join(base_directory, str(version))

    @staticmethod
    def staging_dir(base_directory: str, version: int | str) -> str:
        """A hidden name beside the version, renamed into place when the copy is complete."""
        return layout.join(base_directory, f".{version}.incomplete")


class HyperParameters(Artifact):
    TYPE_NAME = "HyperParameters"
    BEST_FILE = "best_hyperparameters.txt"
    LAYOUT = f"`{BEST_FILE}` (keras-tuner `HyperParameters.get_config()` as JSON)"

    def best_file(self) -> str:
        return layout.join(self.uri, self.BEST_FILE)


class TunerResults(Artifact):
    """Every finished trial of a Tuner search, as TFX writes them (pandas ``records`` JSON)."""

    TYPE_NAME = "TunerResults"
    RESULTS_FILE = "tuner_results.json"
    LAYOUT = f"`{RESULTS_FILE}` (JSON list of `{{trial_id, score, <hyperparameter>: value}}`, best first)"

    def results_file(self) -> str:
        return layout.join(self.uri, self.RESULTS_FILE)


class InferenceResult(Artifact):
    TYPE_NAME = "InferenceResult"
    PREDICTION_LOGS_PREFIX = "prediction_logs"
    LOGS_SUFFIX = ".gz"
    LAYOUT = f"`{PREDICTION_LOGS_PREFIX}-<split>-*{LOGS_SUFFIX}` (gzip TFRecord of PredictionLog)"

    def prediction_logs_prefix(self, split: str) -> str:
        """What the Beam sink of one split's logs is given (it adds the shard and ``.gz``)."""
        return layout.join(self.uri, f"{self.PREDICTION_LOGS_PREFIX}-{split}")


STANDARD_TYPES: dict[str, type[Artifact]] = {
    cls.TYPE_NAME: cls
    for cls in (
        Examples, ExampleStatistics, ExampleAnomalies, Schema, TransformGraph, TransformCache,
        Model, ModelRun, ModelEvaluation, ModelBlessing, InfraBlessing, PushedModel,
        HyperParameters, TunerResults, InferenceResult,
    )
}


# -- ExampleDiff (issue 10) --------------------------------------------------
class ExamplesDiff(Artifact):
    """TFDV feature-skew results of paired Examples, one directory per (test, base) split pair.

    TFX's ExampleDiff layout: record files (uncompressed TFRecord, Beam-sharded
    ``<prefix>-SSSSS-of-NNNNN``) of TFDV's ``feature_skew_results_pb2`` protos.
    """

    TYPE_NAME = "ExamplesDiff"
    SPLIT_PAIR_PREFIX = "SplitPair-"
    SKEW_STATS = "skew_stats"  # FeatureSkew, one per feature
    SAMPLE_PAIRS = "sample_pairs"  # SkewPair, up to skew_sample_size
    MATCH_STATS = "match_stats"  # MatchStats, one
    CONFUSION = "confusion"  # ConfusionCount, when confusion_config is set
    LAYOUT = (f"`{SPLIT_PAIR_PREFIX}<test>_<base>/{{{SKEW_STATS},{SAMPLE_PAIRS},{MATCH_STATS},{CONFUSION}}}"
              "-*-of-*` (TFRecord of TFDV FeatureSkew, SkewPair, MatchStats, ConfusionCount)")

    def split_pair_uri(self, test_split: str, base_split: str) -> str:
        """``<uri>/SplitPair-<test>_<base>``, as TFX names it."""
        for split in (test_split, base_split):
            layout.split_dir_name(split)  # raises unless the split name is one path segment
        return layout.join(self.uri, f"{self.SPLIT_PAIR_PREFIX}{test_split}_{base_split}")

    def results_prefix(self, test_split: str, base_split: str, kind: str) -> str:
        """What a Beam TFRecord sink of one result kind (``SKEW_STATS``...) is given."""
        return layout.join(self.split_pair_uri(test_split, base_split), kind)


STANDARD_TYPES[ExamplesDiff.TYPE_NAME] = ExamplesDiff


def artifact_class(type_name: str) -> type[Artifact]:
    """The class for a type name: a standard type, else a type this process defined (a user's
    own), else a plain subclass of that name (registered until the user's class, imported
    later, takes its place)."""
    cls = STANDARD_TYPES.get(type_name) or _REGISTERED.get(type_name)
    if cls is None:
        cls = type(type_name, (Artifact,), {"TYPE_NAME": type_name})
    return cls


def layout_table() -> str:
    """The Markdown table of what each standard type's directory holds, from the classes.

    CONTRIBUTING.md carries this table; ``tests/metadata/test_layout.py`` fails when the two
    differ, so the documentation cannot drift from the code.
    """
    rows = ["| type | layout |", "| --- | --- |"]
    rows += [f"| {cls.TYPE_NAME} | {cls.LAYOUT} |" for cls in STANDARD_TYPES.values() if cls.LAYOUT]
    return "\n".join(rows) + "\n"

"""TFX's module-file contract: FnArgs, DataAccessor and loading the user's functions.

A TFX module file reads ``fn_args.train_files``, ``fn_args.transform_output`` and so on and
builds datasets with ``fn_args.data_accessor.tf_dataset_factory``. Keeping those names lets a
TFX module file run here with only its import lines changed.
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from beampipe.io import code
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Artifact, HyperParameters


class DataAccessor:
    """Reads Examples artifacts' files into tf.data datasets (TFX's DataAccessor)."""

    def tf_dataset_factory(self, file_pattern: list[str] | str, options: Any,
                           schema: Any = None) -> Any:
        """A batched dataset of (features, label) when ``options.label_key`` is set, else features.

        ``options`` is a ``tfx_bsl.public.tfxio.TensorFlowDatasetOptions``; ``schema`` a
        ``schema_pb2.Schema`` (for transformed data: ``tf_transform_output.transformed_metadata.schema``).
        """
        from tfx_bsl.public import tfxio

        if schema is None:
            raise ValueError("DataAccessor.tf_dataset_factory needs a schema: pass the Schema "
                             "artifact's schema or tf_transform_output.transformed_metadata.schema")
        patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
        missing = [p for p in patterns if not glob.glob(p)]
        if missing:
            raise ValueError(f"no example files match {missing}")
        source = tfxio.TFExampleRecord(file_pattern=patterns, schema=schema,
                                       telemetry_descriptors=["beampipe", "DataAccessor"])
        return source.TensorFlowDataset(options)


@dataclass
class FnArgs:
    """What ``run_fn`` / ``tuner_fn`` receive; field names are TFX's."""

    working_dir: str | None = None
    train_files: list[str] = field(default_factory=list)
    eval_files: list[str] = field(default_factory=list)
    train_steps: int | None = None
    eval_steps: int | None = None
    schema_path: str | None = None
    schema_file: str | None = None
    transform_output: str | None = None
    data_accessor: DataAccessor | None = None
    serving_model_dir: str | None = None
    eval_model_dir: str | None = None
    model_run_dir: str | None = None
    base_model: str | None = None
    hyperparameters: dict[str, Any] | None = None
    custom_config: dict[str, Any] | None = None

    @property
    def transform_graph_path(self) -> str | None:
        """TFX's older name for ``transform_output``."""
        return self.transform_output


def split_patterns(examples: list[Artifact], splits: list[str]) -> list[str]:
    """The glob of every file of each split (TFX's train_files), checking each split exists."""
    patterns = []
    for art in examples:
        for split in splits:
            directory = layout.split_uri(art.uri, split)
            if not os.path.isdir(directory):
                have = getattr(art, "splits", []) or layout.splits_in(os.listdir(art.uri))
                raise ValueError(f"Examples at {art.uri} have no split {split!r}; splits are {have}")
            patterns.append(layout.all_files(directory))
    return patterns


def build_fn_args(ctx: Any, working_dir: str, train_splits: list[str], eval_splits: list[str],
                  serving_model_dir: str | None = None, eval_model_dir: str | None = None,
                  model_run_dir: str | None = None) -> FnArgs:
    """FnArgs from an executor's context: shared by Trainer and Tuner."""
    examples = ctx.inputs.get("examples") or []
    train_args = ctx.prop("train_args", {}) or {}
    eval_args = ctx.prop("eval_args", {}) or {}
    schema = ctx.optional_input("schema")
    schema_file = schema.schema_file() if schema is not None else None
    graph = ctx.optional_input("transform_graph")
    base = ctx.optional_input("base_model")
    hparams = ctx.optional_input("hyperparameters")
    return FnArgs(
        working_dir=working_dir,
        train_files=split_patterns(examples, train_splits),
        eval_files=split_patterns(examples, eval_splits),
        train_steps=train_args.get("num_steps"),
        eval_steps=eval_args.get("num_steps"),
        schema_path=schema_file,
        schema_file=schema_file,
        transform_output=graph.uri if graph is not None else None,
        data_accessor=DataAccessor(),
        serving_model_dir=serving_model_dir,
        eval_model_dir=eval_model_dir,
        model_run_dir=model_run_dir,
        base_model=base.serving_dir() if base is not None else None,
        hyperparameters=read_hyperparameters(hparams) if hparams is not None else None,
        custom_config=ctx.prop("custom_config"),
    )


def read_hyperparameters(hparams: HyperParameters) -> dict[str, Any]:
    """The dict the Tuner wrote (a keras_tuner HyperParameters config)."""
    path = hparams.best_file()
    if not os.path.exists(path):
        raise ValueError(f"HyperParameters artifact at {hparams.uri} has no {hparams.BEST_FILE}")
    with open(path) as f:
        return json.load(f)


def load_user_fn(module_file: str | None, fn_path: str | None, fn_name: str) -> Callable[..., Any]:
    """The user's function, from a module file or an import path 'pkg.mod.fn'.

    Every way it can go wrong (missing file, syntax error, import error, no such function)
    becomes one ValueError naming the file and the function.
    """
    if fn_path:
        module_name, _, attr = fn_path.rpartition(".")
        if not module_name:
            raise ValueError(f"{fn_name} {fn_path!r}: give a full import path 'package.module.function'")
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 - any import failure is the user's to fix
            raise ValueError(f"{fn_name} {fn_path!r}: cannot import module {module_name!r}: "
                             f"{type(err).__name__}: {err}") from err
        fn = getattr(module, attr, None)
        where = f"module {module_name!r}"
        name = attr
    elif module_file:
        module = _load_module_file(module_file, fn_name)
        fn = getattr(module, fn_name, None)
        where = f"module file {module_file}"
        name = fn_name
    else:
        raise ValueError(f"give either module_file or {fn_name} (an import path)")
    if not callable(fn):
        raise ValueError(f"{where} defines no function {name!r} (the {fn_name} this component calls)")
    return fn


def _load_module_file(module_file: str, fn_name: str) -> Any:
    """Import a module file: a local path, or a URI (shipped ``_code`` bundles and other
    remote files are fetched first, ``io.code``); messages name what the user gave."""
    try:
        path = os.path.abspath(code.local_copy(module_file))
    except (code.CodeError, OSError) as err:
        raise ValueError(f"module file {module_file} (for {fn_name}): {err}") from err
    if not os.path.isfile(path):
        raise ValueError(f"module file {module_file} (for {fn_name}) does not exist")
    digest = hashlib.sha1(path.encode()).hexdigest()[:12]
    name = f"beampipe_user_module_{os.path.splitext(os.path.basename(path))[0]}_{digest}"
    directory = os.path.dirname(path)
    if directory not in sys.path:  # module files may import the files beside them
        sys.path.insert(0, directory)
    _keras_tuner_on_tf_keras(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except SyntaxError as err:
        raise ValueError(f"module file {module_file} (for {fn_name}) has a syntax error at line "
                         f"{err.lineno}: {err.msg}") from err
    except Exception as err:  # noqa: BLE001 - any load failure is the user's to fix
        raise ValueError(f"module file {module_file} (for {fn_name}) failed to load: "
                         f"{type(err).__name__}: {err}") from err
    sys.modules[name] = module
    _pickle_by_value(module)
    return module


def _pickle_by_value(module: Any) -> None:
    """Beam's worker processes (multi_processing, portable runners) cannot import a module
    file under its generated name: cloudpickle (``--pickle_library=cloudpickle``) sends its
    functions and classes by value instead of by reference. dill has no such switch."""
    try:
        import cloudpickle
    except ImportError:  # comes with apache-beam; without Beam nothing is pickled
        return
    cloudpickle.register_pickle_by_value(module)


def call_user_fn(fn: Callable[..., Any], fn_name: str, source: str, *args: Any) -> Any:
    """Call the user's function; its exceptions become one ValueError naming file and function."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - reported to the user as it stands
        raise ValueError(f"{fn_name} in {source} raised {type(err).__name__}: {err}") from err


def describe_source(module_file: str | None, fn_path: str | None) -> str:
    if not module_file:
        return f"{fn_path!r}"
    return f"module file {module_file if '://' in module_file else os.path.abspath(module_file)}"


def _keras_tuner_on_tf_keras(module_file: str) -> None:
    """Make keras-tuner build and check tf-keras (Keras 2) models, as TFX module files expect.

    keras-tuner 1.4 picks Keras 3 whenever it is installed and then rejects the tf.keras
    models a module file builds under TF_USE_LEGACY_KERAS=1. It decides once, on import, from
    ``keras.version()``: so it is imported here first, while that reports Keras 2.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1" or "keras_tuner" in sys.modules:
        return
    try:
        with open(module_file, errors="replace") as f:
            if "keras_tuner" not in f.read():
                return
        import keras
    except (OSError, ImportError):
        return
    version = getattr(keras, "version", None)
    keras.version = lambda: "2"  # type: ignore[attr-defined]
    try:
        import keras_tuner  # noqa: F401
    except ImportError:
        pass
    finally:
        if version is None:
            del keras.version
        else:
            keras.version = version  # type: ignore[attr-defined]


# Libraries AutoGraph should leave alone: their code is graph-mode code already (it runs
# unconverted under tf.compat.v1), so converting it changes no op, only costs time.
GRAPH_MODE_LIBRARIES = ("tf_keras", "tensorflow_transform", "tfx_bsl", "tensorflow_metadata")


def skip_autograph_for_tf_keras() -> None:
    """Keep AutoGraph out of tf-keras's own code, as TensorFlow does for the ``keras`` package,
    and out of TFT, tfx-bsl and tensorflow-metadata (``GRAPH_MODE_LIBRARIES``).

    TF 2.16 lists ``keras`` but not ``tf_keras`` among the libraries AutoGraph leaves alone, so
    the first ``fit`` re-transpiles hundreds of tf-keras functions: 35-50 s on a busy laptop
    instead of about one. User-written ``call`` methods are still converted (Keras wraps them).
    A TFX module file's serving signature calls ``TFTransformOutput.transform_features_layer()``
    and ``raw_feature_spec()`` inside a ``tf.function``: AutoGraph transpiled those libraries'
    functions (the penguin Trainer's SavedModel export: 70% of its time) to the same graph.
    """
    from tensorflow.python.autograph.core import config

    known = {str(r) for r in config.CONVERSION_RULES}
    rules = tuple(r for r in map(config.DoNotConvert, GRAPH_MODE_LIBRARIES) if str(r) not in known)
    if rules:
        config.CONVERSION_RULES = (*rules, *config.CONVERSION_RULES)

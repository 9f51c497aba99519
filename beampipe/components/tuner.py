"""Tuner: runs the keras-tuner search a module file's ``tuner_fn`` sets up, keeps the best.

The HyperParameters artifact's ``best_file()`` holds the best trial's ``HyperParameters.get_config()`` as JSON,
as TFX writes it, so Trainer hands it to ``run_fn`` as ``fn_args.hyperparameters``. The TunerResults artifact's
``results_file()`` lists every completed trial, best first (TFX's ``tuner_results`` output).
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, NamedTuple

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.components.fn_args import (build_fn_args, call_user_fn, describe_source, load_user_fn,
                                         skip_autograph_for_tf_keras)
from beampipe.metadata.artifacts import Artifact, Examples, HyperParameters, Schema, TransformGraph, TunerResults


class TunerFnResult(NamedTuple):
    """What ``tuner_fn`` returns: a keras-tuner tuner and the kwargs for its ``search``."""

    tuner: Any
    fit_kwargs: dict[str, Any]


class Tuner(BaseComponent):
    """TFX's Tuner: same inputs, parameters and the ``best_hyperparameters`` output."""

    INPUTS = {
        "examples": In(Examples),
        "transform_graph": In(TransformGraph, optional=True),
        "schema": In(Schema, optional=True),
    }
    OUTPUTS = {"best_hyperparameters": Out(HyperParameters), "tuner_results": Out(TunerResults)}
    PARAMETERS = {
        "module_file": Param(str),
        "tuner_fn": Param(str),
        "train_args": Param(dict),
        "eval_args": Param(dict),
        "tune_args": Param(dict),
        "custom_config": Param(dict),
    }

    def __init__(self, examples: Channel, module_file: str | None = None,
                 tuner_fn: str | Callable[..., Any] | None = None,
                 transform_graph: Channel | None = None, schema: Channel | None = None,
                 train_args: Any = None, eval_args: Any = None, tune_args: Any = None,
                 custom_config: dict[str, Any] | None = None) -> None:
        if bool(module_file) == bool(tuner_fn):
            raise ValueError("Tuner: give exactly one of module_file and tuner_fn")
        super().__init__(
            {"examples": examples, "transform_graph": transform_graph, "schema": schema},
            {"module_file": module_file, "tuner_fn": tuner_fn, "train_args": train_args,
             "eval_args": eval_args, "tune_args": tune_args, "custom_config": custom_config})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        module_file, fn_path = ctx.prop("module_file"), ctx.prop("tuner_fn")
        tuner_fn = load_user_fn(module_file, fn_path, "tuner_fn")
        source = describe_source(module_file, fn_path)
        skip_autograph_for_tf_keras()
        parallel = int((ctx.prop("tune_args", {}) or {}).get("num_parallel_trials") or 1)
        if parallel > 1:
            ctx.log.warning("Tuner: num_parallel_trials=%d; trials run one at a time locally", parallel)
        working_dir = os.path.join(ctx.temp_dir or tempfile.mkdtemp(prefix="beampipe-tuner-"), "tuner")
        fn_args = build_fn_args(
            ctx, working_dir=working_dir,
            train_splits=list((ctx.prop("train_args", {}) or {}).get("splits") or ["train"]),
            eval_splits=list((ctx.prop("eval_args", {}) or {}).get("splits") or ["eval"]))
        result = call_user_fn(tuner_fn, "tuner_fn", source, fn_args)
        tuner = getattr(result, "tuner", None)
        fit_kwargs = getattr(result, "fit_kwargs", None)
        if tuner is None or not isinstance(fit_kwargs, dict):
            raise ValueError(f"tuner_fn in {source} must return TunerFnResult(tuner=..., "
                             f"fit_kwargs={{...}}), got {type(result).__name__}")
        call_user_fn(lambda: tuner.search(**fit_kwargs), "tuner.search (from tuner_fn)", source)
        best = tuner.get_best_hyperparameters(num_trials=1)
        if not best:
            raise ValueError(f"the tuner from tuner_fn in {source} finished no trial")
        config = best[0].get_config()
        ctx.log.info("Tuner: best hyperparameters %s", best[0].values)
        with open(ctx.output("best_hyperparameters").best_file(), "w") as f:
            json.dump(config, f)
        write_tuner_results(tuner, ctx.output("tuner_results"))


def write_tuner_results(tuner: Any, artifact: Artifact) -> list[dict[str, Any]]:
    """Every completed trial with hyperparameters, best first, as TFX records them (pandas
    ``records``: ``{trial_id, score, <hyperparameter>: value}``)."""
    oracle = tuner.oracle
    rows = [{"trial_id": t.trial_id, "score": t.score, **t.hyperparameters.values}
            for t in oracle.get_best_trials(oracle.max_trials)
            if str(getattr(t.status, "value", t.status)) == "COMPLETED" and t.hyperparameters.values]
    with open(TunerResults(artifact.uri).results_file(), "w") as f:
        json.dump(rows, f)
    return rows

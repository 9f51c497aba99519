"""Trainer: calls the user's ``run_fn(fn_args)`` and publishes the SavedModel it exports.

The module file owns the model; the component owns where data comes from and where the
model goes (``Model.serving_dir()``, TensorBoard logs in ModelRun), as in TFX.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.components.fn_args import (build_fn_args, call_user_fn, describe_source, load_user_fn,
                                         skip_autograph_for_tf_keras)
from beampipe.metadata import layout
from beampipe.metadata.artifacts import (Examples, HyperParameters, Model, ModelRun, Schema,
                                         TransformGraph)


class Trainer(BaseComponent):
    """TFX's Trainer (generic, run_fn-based): same inputs, parameters and output keys."""

    INPUTS = {
        "examples": In(Examples),
        "transform_graph": In(TransformGraph, optional=True),
        "schema": In(Schema, optional=True),
        "base_model": In(Model, optional=True),
        "hyperparameters": In(HyperParameters, optional=True),
    }
    OUTPUTS = {"model": Out(Model), "model_run": Out(ModelRun)}
    PARAMETERS = {
        "module_file": Param(str),
        "run_fn": Param(str),
        "train_args": Param(dict),
        "eval_args": Param(dict),
        "custom_config": Param(dict),
    }

    def __init__(self, examples: Channel, module_file: str | None = None,
                 run_fn: str | Callable[..., Any] | None = None,
                 transform_graph: Channel | None = None, schema: Channel | None = None,
                 base_model: Channel | None = None, hyperparameters: Channel | None = None,
                 train_args: Any = None, eval_args: Any = None,
                 custom_config: dict[str, Any] | None = None) -> None:
        if bool(module_file) == bool(run_fn):
            raise ValueError("Trainer: give exactly one of module_file and run_fn")
        super().__init__(
            {"examples": examples, "transform_graph": transform_graph, "schema": schema,
             "base_model": base_model, "hyperparameters": hyperparameters},
            {"module_file": module_file, "run_fn": run_fn, "train_args": train_args,
             "eval_args": eval_args, "custom_config": custom_config})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        module_file, fn_path = ctx.prop("module_file"), ctx.prop("run_fn")
        run_fn = load_user_fn(module_file, fn_path, "run_fn")
        source = describe_source(module_file, fn_path)
        skip_autograph_for_tf_keras()
        model, model_run = ctx.output("model"), ctx.output("model_run")
        serving_dir = model.serving_dir()
        fn_args = build_fn_args(
            ctx, working_dir=serving_dir,
            train_splits=list((ctx.prop("train_args", {}) or {}).get("splits") or ["train"]),
            eval_splits=list((ctx.prop("eval_args", {}) or {}).get("splits") or ["eval"]),
            serving_model_dir=serving_dir, eval_model_dir=model.eval_dir(), model_run_dir=model_run.uri)
        ctx.log.info("Trainer: calling run_fn from %s (train_steps=%s, eval_steps=%s)",
                     source, fn_args.train_steps, fn_args.eval_steps)
        call_user_fn(run_fn, "run_fn", source, fn_args)
        if not os.path.exists(layout.join(serving_dir, layout.SAVED_MODEL_FILE)):
            raise ValueError(f"run_fn in {source} returned without exporting a SavedModel to "
                             f"fn_args.serving_model_dir ({serving_dir})")

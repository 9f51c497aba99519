"""A run_fn that records the FnArgs it got, for checking field names without training."""
from __future__ import annotations

import json
import os
from typing import Any


def run_fn(fn_args: Any) -> None:
    os.makedirs(fn_args.serving_model_dir, exist_ok=True)
    seen = {k: getattr(fn_args, k) for k in (
        "train_files", "eval_files", "train_steps", "eval_steps", "transform_output",
        "transform_graph_path", "serving_model_dir", "model_run_dir", "custom_config",
        "hyperparameters", "schema_path", "base_model", "working_dir", "eval_model_dir")}
    with open(os.path.join(fn_args.serving_model_dir, "fn_args.json"), "w") as f:
        json.dump(seen, f)
    open(os.path.join(fn_args.serving_model_dir, "saved_model.pb"), "wb").close()

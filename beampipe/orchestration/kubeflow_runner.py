"""``tfx.orchestration.experimental.KubeflowV2DagRunner``: TFX's way to compile for Kubeflow.

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image="registry/beampipe:1"),
        output_filename="pipeline.yaml")
    runner.set_exit_handler(Notify(final_status=tfx.orchestration.experimental.FinalStatusStr()))
    runner.run(pipeline)

``run`` writes what ``beampipe compile --target kubeflow`` writes (beampipe's KFP v2 YAML,
its tasks in beampipe's image) and returns the pipeline spec as a dict. TFX writes a
PipelineJob JSON of TFX's own IR instead; both submit to a KFP backend.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.pipeline import Pipeline


class KubeflowV2DagRunnerConfig:
    """TFX's config (``display_name`` is kept, not compiled: KFP shows the pipeline's name);
    beampipe's compile options (``mounted``, ``metadata_secret``,
    ``storage_secret``, ``image_pull_secret``, ``env``, ``python``) go in as keywords."""

    def __init__(self, display_name: str | None = None, default_image: str | None = None,
                 default_commands: list[str] | None = None, use_pipeline_spec_2_1: bool = True,
                 **compile_options: Any) -> None:
        if isinstance(default_image, Mapping):
            raise TypeError("default_image: beampipe takes one image for every task (a container component "
                            "runs in its own image); per-component images are not supported")
        if default_commands:
            raise ValueError("default_commands: beampipe's tasks start python themselves; name the "
                             "interpreter with python='...' instead")
        self.display_name = display_name
        self.default_image = default_image
        self.use_pipeline_spec_2_1 = use_pipeline_spec_2_1
        self.compile_options = compile_options


class KubeflowV2DagRunner:
    """Compiles a pipeline to KFP v2 YAML (TFX's ``run`` compiles, it does not submit)."""

    def __init__(self, config: KubeflowV2DagRunnerConfig, output_dir: str | None = None,
                 output_filename: str | None = None) -> None:
        if not isinstance(config, KubeflowV2DagRunnerConfig):
            raise TypeError("config must be type of KubeflowV2DagRunnerConfig.")  # TFX's message
        self._config = config
        self._output_dir = output_dir or os.getcwd()
        self._output_filename = output_filename or "pipeline.yaml"
        self._exit_handler: Any = None

    def set_exit_handler(self, exit_handler: Any) -> None:
        """The ``@exit_handler`` component to run after the pipeline, whatever its outcome."""
        if exit_handler:
            self._exit_handler = exit_handler

    @property
    def output_path(self) -> str:
        return os.path.join(self._output_dir, self._output_filename)

    def run(self, pipeline: Pipeline, parameter_values: dict[str, Any] | None = None,
            write_out: bool = True) -> dict[str, Any]:
        """Compile; write the file unless ``write_out`` is false; return the pipeline spec.
        ``parameter_values`` become the runtime parameters' defaults in the file."""
        import yaml

        from beampipe.orchestration.compilers.kubeflow import compile_yaml

        ir = ir_mod.compile_pipeline(pipeline, exit_handler=self._exit_handler)
        declared = ir["pipeline"]["parameters"]
        unknown = set(parameter_values or {}) - set(declared)
        if unknown:
            raise ValueError(f"parameter_values {sorted(unknown)}: the pipeline declares {sorted(declared)}")
        for name, value in (parameter_values or {}).items():
            declared[name]["default"] = value
        text = compile_yaml(ir, image=self._config.default_image, **self._config.compile_options)
        if write_out:
            if os.path.exists(self._output_dir) and not os.path.isdir(self._output_dir):
                raise RuntimeError(f"Output path: {self._output_dir} is pointed to a file.")
            os.makedirs(self._output_dir, exist_ok=True)
            with open(self.output_path, "w") as f:
                f.write(text)
        return next(yaml.safe_load_all(text))

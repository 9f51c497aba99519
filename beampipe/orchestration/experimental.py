"""``tfx.orchestration.experimental``: exit handlers and the Kubeflow V2 runner, by TFX's names.
Each resolves on first use (the runner loads kfp only when it runs)."""
from __future__ import annotations

from beampipe._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "exit_handler": "beampipe.components.exit_handler",
    "FinalStatusStr": "beampipe.components.exit_handler",
    "KubeflowV2DagRunner": "beampipe.orchestration.kubeflow_runner",
    "KubeflowV2DagRunnerConfig": "beampipe.orchestration.kubeflow_runner",
})

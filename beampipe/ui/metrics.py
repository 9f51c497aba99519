"""Evaluation metrics of a run, for the compare page, without loading TFMA or TensorFlow.

The Evaluator records its metrics only in TFMA's output under the ModelEvaluation's URI and
its verdict on the ModelBlessing (``blessed``); the artifact views read TFMA's files with
protobuf alone (``beampipe.views.run_metrics_from_evaluation``), this module finds a run's
evaluations in MLMD.
"""
from __future__ import annotations

from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.views import run_metrics_from_evaluation


def run_metrics(store: MetadataStore, run_id: str) -> dict[str, float]:
    """The run's overall evaluation metrics (every ModelEvaluation it produced or re-used from
    cache) and its blessing (``blessed``: 1.0 / 0.0); {} when the run evaluated nothing."""
    ctx = store.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
    if ctx is None:
        return {}
    execs = {e.id: e for e in store.call("get_executions_by_context", ctx.id)}
    events = [ev for ev in store.call("get_events_by_execution_ids", list(execs)) if ev.type == store.pb.Event.OUTPUT] \
        if execs else []
    arts = store.artifacts_by_id({ev.artifact_id for ev in events}) if events else []
    evaluations = [a for a in arts if a.TYPE_NAME == "ModelEvaluation"]
    prefix = len(evaluations) > 1
    out: dict[str, float] = {}
    for art in sorted(evaluations, key=lambda a: a.id or 0):
        try:
            overall = run_metrics_from_evaluation(art)
        except (OSError, ImportError, ValueError):  # a missing or foreign file: its metrics are absent
            overall = {}
        for name, value in overall.items():
            out[f"{art.id}: {name}" if prefix else name] = value
    for art in arts:
        if art.TYPE_NAME == "ModelBlessing" and "blessed" in art.custom_properties:
            out["blessed"] = float(art.custom_properties["blessed"])
    return out

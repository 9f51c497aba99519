"""Artifact views by type: an HTML fragment per artifact, for the web UI and the static reports.

``render_artifact(artifact, compare_to=None)`` returns escaped HTML ('' for a type without a
view); the same fragments, wrapped by ``standalone_page``, are the ``report.html`` files the
executors write, so a report opened from disk shows what the UI shows. Views read only files
under ``artifact.uri`` through ``beampipe.io`` and import neither TensorFlow, TFDV, TFMA nor
Beam (protos are read with protobuf alone; see ``_protos``). Submodules load on first use.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from markupsafe import Markup

from beampipe.metadata.artifacts import Artifact

_log = logging.getLogger(__name__)

VALUE_TYPES = ("String", "Integer", "Float", "Boolean", "Bytes", "JsonValue")


def _view(type_name: str) -> Callable[..., Markup] | None:
    from beampipe.views import evaluation, models, schema, statistics
    views: dict[str, Callable[..., Markup]] = {
        "ExampleStatistics": statistics.render_statistics,
        "Schema": schema.render_schema,
        "ExampleAnomalies": schema.render_anomalies,
        "ModelEvaluation": evaluation.render_evaluation,
        "Model": models.render_model,
        "ModelBlessing": models.render_blessing,
        "InfraBlessing": models.render_blessing,
        "PushedModel": models.render_pushed,
        "HyperParameters": models.render_hyperparameters,
        "TunerResults": models.render_tuner_results,
        "ExamplesDiff": models.render_examples_diff,
    }
    if type_name in VALUE_TYPES:
        return models.render_value
    return views.get(type_name)


def has_view(artifact: Artifact) -> bool:
    return _view(artifact.type_name) is not None


def render_artifact(artifact: Artifact, compare_to: Artifact | None = None) -> str:
    """The artifact's view as an HTML fragment; '' when its type has none.

    ``compare_to`` is used by ExampleStatistics (drift against another statistics artifact)
    and ignored by other types. A file that is missing or unreadable becomes a note in the
    fragment, never an exception: a page shows what it can.
    """
    view = _view(artifact.type_name)
    if view is None:
        return ""
    if artifact.type_name == "ExampleStatistics":
        return safely(view, artifact, compare_to=compare_to)
    return safely(view, artifact)


def safely(view: Callable[..., Markup], *args: Any, **kwargs: Any) -> str:
    """``view(*args, **kwargs)``, or a note saying why it could not be drawn."""
    from markupsafe import escape

    from beampipe.views._common import ViewError
    from beampipe.views._protos import ProtoUnavailable
    try:
        return str(view(*args, **kwargs))
    except (ViewError, ProtoUnavailable) as err:
        return str(Markup('<p class="bad view-error">') + escape(str(err)) + Markup("</p>"))
    except Exception as err:  # noqa: BLE001 - one artifact's bad file must not break a page
        _log.exception("view %s failed", getattr(view, "__name__", view))
        return str(Markup('<p class="bad view-error">This view failed: ') + escape(f"{type(err).__name__}: {err}")
                   + Markup("</p>"))


def run_metrics_from_evaluation(artifact: Artifact) -> dict[str, float]:
    """Overall-slice scalar metrics of a ModelEvaluation (the candidate's), for comparing runs."""
    from beampipe.views.evaluation import run_metrics_from_evaluation as metrics
    return metrics(artifact)


def statistics_fragment(artifact: Artifact, splits: list[str]) -> str:
    """The statistics view of some splits (the first is the base the others are compared with)."""
    from beampipe.views.statistics import render_statistics
    return safely(render_statistics, artifact, splits=splits)


def anomalies_fragment(artifact: Artifact, splits: list[str]) -> str:
    """The anomalies view of some splits."""
    from beampipe.views.schema import render_anomalies
    return safely(render_anomalies, artifact, splits=splits)


def standalone_page(title: str, fragment: str) -> str:
    """A whole offline HTML document around a fragment (inline CSS, no external resource)."""
    from beampipe.views._common import standalone_page as page
    return page(title, fragment)


__all__ = ["anomalies_fragment", "has_view", "render_artifact", "safely", "statistics_fragment", "run_metrics_from_evaluation", "standalone_page"]

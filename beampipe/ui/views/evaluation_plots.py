"""The plots TFMA computed (PlotsForSlice), drawn as inline SVG and heat-map tables.

Which plots exist depends on the EvalConfig's metrics: ``CalibrationPlot`` (calibration
histogram buckets), ``ConfusionMatrixPlot`` (binary confusion matrices at thresholds: ROC
and PR curves) and ``MultiClassConfusionMatrixPlot`` (a class x class matrix). The Overall
slice is drawn open; other slices are folded, so a page with many slices stays short.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from beampipe.ui import charts
from beampipe.ui.views._common import note

MAX_MATRICES = 2  # multi-class confusion matrices per plot key (one per threshold)


def _key_label(key: Any) -> str:
    from beampipe.ui.views.evaluation import metric_name
    label = metric_name(key) if key.name else "plot"
    return f"{label} [{key.model_name}]" if key.model_name else label


def _calibration(data: Any, label: str) -> list[Markup]:
    points = []
    for b in data.calibration_histogram_buckets.buckets:
        n = b.num_weighted_examples.value
        if n > 0:
            points.append((b.total_weighted_refined_prediction.value / n, b.total_weighted_label.value / n))
    if not points:
        return []
    return [charts.line_chart([charts.Series(label, points)], f"Calibration: {label}", "mean prediction",
                              "mean label", x_range=(0.0, 1.0), y_range=(0.0, 1.0), diagonal=True)]


def _roc_pr(data: Any, label: str) -> list[Markup]:
    roc, pr = [], []
    for m in data.confusion_matrix_at_thresholds.matrices:
        fpr = m.false_positives / (m.false_positives + m.true_negatives) if (
            m.false_positives + m.true_negatives) else 0.0
        roc.append((fpr, m.recall))
        if m.true_positives + m.false_positives:
            pr.append((m.recall, m.precision))
    if not roc:
        return []
    roc.sort()
    pr.sort()
    return [charts.line_chart([charts.Series(label, roc)], f"ROC: {label}", "false positive rate",
                              "true positive rate", x_range=(0.0, 1.0), y_range=(0.0, 1.0), diagonal=True),
            charts.line_chart([charts.Series(label, pr)], f"Precision-recall: {label}", "recall",
                              "precision", x_range=(0.0, 1.0), y_range=(0.0, 1.0))]


def _multi_class(data: Any, label: str) -> list[Markup]:
    out = []
    for matrix in list(data.multi_class_confusion_matrix_at_thresholds.matrices)[:MAX_MATRICES]:
        ids = sorted({e.actual_class_id for e in matrix.entries} | {e.predicted_class_id for e in matrix.entries})
        cell = {(e.actual_class_id, e.predicted_class_id): e.num_weighted_examples for e in matrix.entries}
        names = ["none" if i == -1 else str(i) for i in ids]
        values = [[cell.get((a, p), 0.0) for p in ids] for a in ids]
        out.append(charts.heatmap_table(names, names, values,
                                        f"Confusion matrix: {label} (threshold {charts.fmt(matrix.threshold)})",
                                        "actual", "predicted"))
    return out


def plots_of(record: Any) -> list[Markup]:
    """Every chart one PlotsForSlice holds."""
    items = [(kv.key, kv.value) for kv in record.plot_keys_and_values]
    if record.HasField("plot_data"):  # the pre-0.22 single-plot layout
        items.append((None, record.plot_data))
    items += [(None, value) for _, value in sorted(record.plots.items())]
    out: list[Markup] = []
    for key, data in items:
        label = _key_label(key) if key is not None else "plot"
        out += _calibration(data, label) + _roc_pr(data, label) + _multi_class(data, label)
        if data.multi_label_confusion_matrix_at_thresholds.matrices:
            out.append(note(f"{label}: multi-label confusion matrices are not drawn"))
        if data.debug_message:
            out.append(note(f"{label}: {data.debug_message}"))
    return out


def render_plots(records: list[Any]) -> Markup:
    from beampipe.ui.views.evaluation import slice_name
    drawn = sorted(((slice_name(r.slice_key), plots_of(r)) for r in records), key=lambda x: (x[0] != "Overall", x[0]))
    drawn = [(name, charts_) for name, charts_ in drawn if charts_]
    if not drawn:
        return Markup('<h2>Plots</h2><p class="note">TFMA computed no plots (add e.g. CalibrationPlot, '
                      'ConfusionMatrixPlot or MultiClassConfusionMatrixPlot to the EvalConfig\'s metrics).</p>')
    parts = [Markup("<h2>Plots</h2>")]
    for name, items in drawn:
        body = Markup('<div class="plots">') + Markup("").join(items) + Markup("</div>")
        if name == "Overall":
            parts.append(Markup("<h3>Overall</h3>") + body)
        else:
            parts.append(Markup("<details><summary>Slice ") + escape(name) + Markup("</summary>") + body
                         + Markup("</details>"))
    return Markup("").join(parts)

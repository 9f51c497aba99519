"""The plots TFMA computed (PlotsForSlice), drawn as inline SVG and heat-map tables.

Which plots exist depends on the EvalConfig's metrics: ``CalibrationPlot`` (calibration
histogram buckets), ``ConfusionMatrixPlot`` (binary confusion matrices at thresholds: ROC
and PR curves) and ``MultiClassConfusionMatrixPlot`` (a class x class matrix). The Overall
slice is drawn open; other slices are folded, so a page with many slices stays short.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from beampipe.views import charts
from beampipe.views._common import note

MAX_MATRICES = 2  # multi-class confusion matrices per plot key (one per threshold)


CALIBRATION_BINS = 10  # TFMA keeps up to 10,000 buckets; a readable plot merges them


def _sub_label(key: Any) -> str:
    if key is not None and key.HasField("sub_key"):
        for sub in ("class_id", "k", "top_k"):
            if key.sub_key.HasField(sub):
                return f"{sub.replace('_', ' ')} {getattr(key.sub_key, sub).value}"
    return "all"


def _calibration(data: Any) -> list[tuple[float, float]]:
    """(mean prediction, mean label) per bin of predictions, TFMA's buckets merged into
    ``CALIBRATION_BINS`` equal bins over [0, 1]."""
    bins = [[0.0, 0.0, 0.0] for _ in range(CALIBRATION_BINS)]
    for b in data.calibration_histogram_buckets.buckets:
        n = b.num_weighted_examples.value
        if n <= 0:
            continue
        mean = b.total_weighted_refined_prediction.value / n
        i = min(max(int(mean * CALIBRATION_BINS), 0), CALIBRATION_BINS - 1)
        bins[i][0] += n
        bins[i][1] += b.total_weighted_refined_prediction.value
        bins[i][2] += b.total_weighted_label.value
    return [(pred / n, label / n) for n, pred, label in bins if n > 0]


def _roc_pr(data: Any) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    roc, pr = [], []
    for m in data.confusion_matrix_at_thresholds.matrices:
        negatives = m.false_positives + m.true_negatives
        roc.append((m.false_positives / negatives if negatives else 0.0, m.recall))
        if m.true_positives + m.false_positives:
            pr.append((m.recall, m.precision))
    return sorted(roc), sorted(pr)


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


_KINDS = {  # kind -> title, x label, y label, reference diagonal (drawn in this order)
    "roc": ("ROC", "false positive rate", "true positive rate", True),
    "pr": ("Precision-recall", "recall", "precision", False),
    "calibration": ("Calibration", "mean prediction", "mean label", True),
}


def plots_of(record: Any) -> list[Markup]:
    """Every chart one PlotsForSlice holds: one chart per kind and model, a line per class
    (binarized plots), then the confusion matrices."""
    items = [(kv.key, kv.value) for kv in record.plot_keys_and_values]
    if record.HasField("plot_data"):  # the pre-0.22 single-plot layout
        items.append((None, record.plot_data))
    items += [(None, value) for _, value in sorted(record.plots.items())]
    lines: dict[tuple[str, str], list[charts.Series]] = {}
    tables: list[Markup] = []
    for key, data in items:
        model = key.model_name if key is not None else ""
        sub = _sub_label(key)
        roc, pr = _roc_pr(data)
        for kind, points in (("calibration", _calibration(data)), ("roc", roc), ("pr", pr)):
            if points:
                lines.setdefault((kind, model), []).append(charts.Series(sub, points))
        label = " ".join(x for x in ((key.name if key is not None else ""), sub if sub != "all" else "",
                                     f"[{model}]" if model else "") if x) or "plot"
        tables += _multi_class(data, label)
        if data.multi_label_confusion_matrix_at_thresholds.matrices:
            tables.append(note(f"{label}: multi-label confusion matrices are not drawn"))
        if data.debug_message:
            tables.append(note(f"{label}: {data.debug_message}"))
    out = []
    order = list(_KINDS)
    for (kind, model), series in sorted(lines.items(), key=lambda x: (x[0][1] == "baseline", x[0][1],
                                                                      order.index(x[0][0]))):
        title, x_label, y_label, diagonal = _KINDS[kind]
        out.append(charts.line_chart(sorted(series, key=lambda s: s.name), f"{title}{f' [{model}]' if model else ''}",
                                     x_label, y_label, x_range=(0.0, 1.0), y_range=(0.0, 1.0), diagonal=diagonal))
    return out + tables


def render_plots(records: list[Any]) -> Markup:
    from beampipe.views.evaluation import slice_name
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

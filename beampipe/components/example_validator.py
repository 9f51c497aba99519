"""ExampleValidator: statistics vs schema per split, plus drift (vs the previous span) and skew.

Writes per split the Anomalies (binary) and a report (``ExampleAnomalies.anomalies_file`` /
``report_file``); custom
properties ``anomalies_found`` (0/1) and ``anomalies_summary``. Drift and skew use the
comparators declared in the schema (``drift_comparator`` / ``skew_comparator``), exactly
as TFDV does. With ``fail_on_anomalies=True`` the node fails with the list of anomalies,
so the run stops before any later node.
"""
from __future__ import annotations

import os

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.metadata.artifacts import ExampleAnomalies, ExampleStatistics, Schema


class ExampleValidator(BaseComponent):
    INPUTS = {"statistics": In(ExampleStatistics), "schema": In(Schema),
              "previous_statistics": In(ExampleStatistics, optional=True),
              "serving_statistics": In(ExampleStatistics, optional=True)}
    OUTPUTS = {"anomalies": Out(ExampleAnomalies)}
    PARAMETERS = {"exclude_splits": Param(list, default=[]), "fail_on_anomalies": Param(bool, default=False)}

    def __init__(self, statistics: Channel, schema: Channel, exclude_splits: list[str] | None = None,
                 fail_on_anomalies: bool = False, previous_statistics: Channel | None = None,
                 serving_statistics: Channel | None = None) -> None:
        super().__init__({"statistics": statistics, "schema": schema,
                          "previous_statistics": previous_statistics,
                          "serving_statistics": serving_statistics},
                         {"exclude_splits": exclude_splits, "fail_on_anomalies": fail_on_anomalies})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import tensorflow_data_validation as tfdv
        from beampipe.transforms import reports, tfdv_io

        statistics = ctx.input("statistics")
        schema = tfdv_io.load_schema(ctx.input("schema"))
        previous = ctx.optional_input("previous_statistics")
        serving = ctx.optional_input("serving_statistics")
        out = ctx.output("anomalies")
        splits = tfdv_io.chosen_splits(statistics.splits, ctx.prop("exclude_splits", []))
        found: dict[str, list[str]] = {}
        for split in splits:
            stats = tfdv_io.load_statistics(statistics, split)
            anomalies = tfdv.validate_statistics(
                stats, schema,
                previous_statistics=_same_split(previous, split, ctx),
                serving_statistics=_same_split(serving, split, ctx))
            os.makedirs(out.split_uri(split), exist_ok=True)
            with open(out.anomalies_file(split), "wb") as f:
                f.write(anomalies.SerializeToString(deterministic=True))  # anomaly_info map in key order
            reports.write(out.report_file(split), reports.anomalies_html(out, split))
            found[split] = tfdv_io.anomaly_lines(anomalies)
            ctx.log.info("ExampleValidator: split %s, %d anomalies", split, len(found[split]))
        any_found = any(found.values())
        out.splits = splits
        out.span = statistics.span
        out.set_int_custom_property("anomalies_found", int(any_found))
        out.set_string_custom_property("anomalies_summary", tfdv_io.summary_json(found))
        if any_found and ctx.prop("fail_on_anomalies", False):
            listing = "\n".join(f"  [{split}] {line}" for split, lines in found.items() for line in lines)
            raise ValueError(f"ExampleValidator '{ctx.node_id}' found anomalies "
                             f"(fail_on_anomalies=True):\n{listing}")


def _same_split(artifact: object, split: str, ctx: ExecContext) -> object:
    """The other statistics for this split; absent split -> no comparison (logged)."""
    if artifact is None:
        return None
    from beampipe.transforms import tfdv_io
    if split not in artifact.splits:  # type: ignore[attr-defined]
        ctx.log.warning("no split %r in %s: drift/skew not checked for it", split, artifact)
        return None
    return tfdv_io.load_statistics(artifact, split)  # type: ignore[arg-type]

"""Stand-alone ``report.html`` files for statistics, anomalies and evaluations.

Each is the web UI's view of the artifact (``beampipe.views``: inline SVG charts,
sortable tables) in a whole page with inline CSS: it opens offline from disk, and holds no
reference to any network resource (the Facets frame TFDV offers loads from the internet and
stayed an empty box offline, so it is gone). A report is written when the executor has
written the artifact's files, and is rendered from them, so it shows exactly what the UI
shows later. Reports hold no URI of their own artifact: two runs write identical bytes.

The views sit in the UI package yet are called from executors: they depend only on
``beampipe.metadata`` and ``beampipe.io`` (an import-linter contract in pyproject.toml keeps it so).
"""
from __future__ import annotations

from beampipe import io
from beampipe.metadata.artifacts import ExampleAnomalies, ExampleStatistics, ModelBlessing, ModelEvaluation


def statistics_html(artifact: ExampleStatistics, split: str, splits: list[str] | None = None) -> str:
    """One split's report: that split first, the artifact's other ``splits`` beside it, and
    their drift against it (the eval report shows eval vs train)."""
    from beampipe.views import standalone_page, statistics_fragment
    shown = [split] + [s for s in splits or [] if s != split]
    return standalone_page(f"Statistics: {split}", statistics_fragment(artifact, shown))


def anomalies_html(artifact: ExampleAnomalies, split: str) -> str:
    from beampipe.views import anomalies_fragment, standalone_page
    return standalone_page(f"Anomalies: {split}", anomalies_fragment(artifact, [split]))


def evaluation_html(evaluation: ModelEvaluation, blessing: ModelBlessing | None = None) -> str:
    """The evaluation view, with the blessing's verdict and reasons first when given."""
    from beampipe.views import render_artifact, standalone_page
    verdict = render_artifact(blessing) if blessing is not None else ""
    return standalone_page("Model evaluation", verdict + render_artifact(evaluation))


def write(uri: str, page: str) -> None:
    """Write a report through the storage layer (a local staging path or an object store)."""
    io.write_text(uri, page)

"""The built-in Resolver strategies, with TFX 1.16's semantics.

- ``LatestArtifactStrategy(desired_num_of_artifacts=1)``: the newest n per key, newest first;
  None (no inputs) when a key has fewer than n.
- ``LatestBlessedModelStrategy()``: the newest Model a ``blessed == 1`` ModelBlessing was made
  for, and that blessing; both empty when there is none (the Evaluator then has no baseline).
- ``SpanRangeStrategy(range_config)``: the artifacts whose span falls in a static or rolling
  range (periodic retraining windows), highest span first; None when a key has none.
"""
from __future__ import annotations

from typing import Any, Optional

from beampipe.components.resolver_strategy import InputDict, MlmdHandle, ResolverStrategy, from_fields
from beampipe.metadata.artifacts import Artifact, Model, ModelBlessing

SPAN = "span"


class LatestArtifactStrategy(ResolverStrategy):
    """The newest ``desired_num_of_artifacts`` artifacts of each input, by MLMD id."""

    def __init__(self, desired_num_of_artifacts: int = 1) -> None:
        self.desired_num_of_artifacts = int(desired_num_of_artifacts)

    def resolve_artifacts(self, store: Any, input_dict: InputDict) -> Optional[InputDict]:
        n = self.desired_num_of_artifacts
        result = {key: sorted(arts, key=_age, reverse=True)[:n] for key, arts in input_dict.items()}
        return result if all(len(arts) >= n for arts in result.values()) else None


class LatestBlessedModelStrategy(ResolverStrategy):
    """The newest Model that a ModelBlessing with ``blessed == 1`` was made for, and that blessing.

    "Made for" is the blessing's ``current_model_id`` custom property when it has one (TFX's
    Evaluator sets it), else lineage: the model the blessing's producing execution read as
    its input ``model`` (beampipe's Evaluator candidate).
    """

    def resolve_artifacts(self, store: Any, input_dict: InputDict) -> Optional[InputDict]:
        if not all(input_dict.values()):  # nothing to pair yet
            return {key: [] for key in input_dict}
        model_key = _key_of_type(input_dict, Model)
        blessing_key = _key_of_type(input_dict, ModelBlessing)
        blessed: dict[int, Artifact] = {}
        for blessing in sorted(input_dict[blessing_key], key=_age):
            if int(blessing.custom_properties.get(ModelBlessing.BLESSED_KEY, 0) or 0) == 1:
                model_id = _blessed_model_id(store, blessing)
                if model_id is not None:
                    blessed[model_id] = blessing  # the newest blessing of a model wins
        result: InputDict = {key: [] for key in input_dict}
        for model in sorted(input_dict[model_key], key=_age, reverse=True):
            if model.id in blessed:
                result[model_key], result[blessing_key] = [model], [blessed[model.id]]
                break
        return result


class SpanRangeStrategy(ResolverStrategy):
    """Artifacts by their ``span``: ``config={"range_config": RangeConfig(...)}``.

    A rolling range keeps the latest ``num_spans`` spans found (from ``start_span_number`` on);
    a static range keeps ``start_span_number..end_span_number``. Every artifact of a span in
    range is kept (a span re-ingested twice gives two), highest span first, as in TFX.
    """

    def __init__(self, range_config: Any) -> None:
        from beampipe.proto.data import RangeConfig

        self.range_config: RangeConfig = from_fields(RangeConfig, range_config)
        if not isinstance(self.range_config, RangeConfig):
            raise ValueError(f"SpanRangeStrategy: range_config must be a RangeConfig, got {range_config!r}")

    def resolve_artifacts(self, store: Any, input_dict: InputDict) -> Optional[InputDict]:
        result = {key: sorted(self._in_range(arts), key=span_of, reverse=True)
                  for key, arts in input_dict.items()}
        return result if all(result.values()) else None

    def _in_range(self, arts: list[Artifact]) -> list[Artifact]:
        static, rolling = self.range_config.static_range, self.range_config.rolling_range
        spans = [span_of(a) for a in arts]
        if static is not None:
            start, end = int(static.start_span_number), int(static.end_span_number)
        elif rolling is not None:
            num = int(rolling.num_spans)
            if num <= 0:
                raise ValueError("SpanRangeStrategy: rolling_range.num_spans must be a positive number")
            end = max(spans, default=-1)
            start = max(int(rolling.start_span_number), end - num + 1)
        else:
            raise ValueError("SpanRangeStrategy: range_config needs static_range or rolling_range")
        return [a for a, span in zip(arts, spans) if start <= span <= end]


def span_of(art: Artifact) -> int:
    """The artifact's span: custom property ``span`` (int, or a string as older TFX wrote it),
    else its declared ``span`` property (beampipe's Examples)."""
    value = art.custom_properties.get(SPAN)
    if value in (None, "") and SPAN in type(art).PROPERTIES:
        value = art.properties.get(SPAN)
    if value in (None, ""):
        raise RuntimeError(f"Span does not exist for {art!r}: SpanRangeStrategy needs artifacts "
                           "with a span (ExampleGen's Examples)")
    return int(value)


def _age(art: Artifact) -> int:
    return int(art.id or 0)


def _key_of_type(input_dict: InputDict, cls: type[Artifact]) -> str:
    for key, arts in input_dict.items():
        if any(a.TYPE_NAME == cls.TYPE_NAME for a in arts):
            return key
    raise ValueError(f"LatestBlessedModelStrategy needs a {cls.TYPE_NAME} input channel; inputs are "
                     f"{sorted(input_dict)}")


def _blessed_model_id(store: Any, blessing: Artifact) -> int | None:
    """The model a blessing was made for: ``current_model_id``, else the ``model`` input of the
    execution that produced it."""
    recorded = blessing.custom_properties.get("current_model_id")
    if recorded not in (None, "") and int(recorded) > 0:  # 0: the model's id was not known
        return int(recorded)
    metadata = store.metadata if isinstance(store, MlmdHandle) else store
    wanted = metadata.pb.Event.OUTPUT
    events = [e for e in metadata.call("get_events_by_artifact_ids", [blessing.id]) if e.type == wanted]
    for event in sorted(events, key=lambda e: e.execution_id):
        model = metadata.artifacts_of(event.execution_id, kind="INPUT").get("model") or []
        if model:
            return model[0].id
    return None

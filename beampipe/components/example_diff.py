"""ExampleDiff: feature-level skew between two paired Examples artifacts (TFX 1.16's ExampleDiff).

Test and base examples are joined on ``identifier_features`` and every other feature is
compared by TFDV's feature skew detector (``tensorflow_data_validation.skew``), once per
(test split, base split) pair. Output as TFX writes it: ``ExamplesDiff.split_pair_uri``
holds TFRecord files of TFDV's FeatureSkew (per feature), SkewPair (a sample of skewed
pairs), MatchStats and, when configured, ConfusionCount. Custom properties say what was
found: ``skew_found`` (0/1) and ``skewed_features`` (JSON: split pair -> feature names).

Differences from TFX: TFX's executor reads the base split as "test" and the test split as
"base" (so its ``base_only``/``test_only`` counts are swapped); here base is base. An unset
``float_round_ndigits`` compares floats exactly (TFX rounds them to whole numbers).
"""
from __future__ import annotations

import glob
import json
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
from beampipe.metadata.artifacts import Examples, ExamplesDiff
from beampipe.proto.example_diff import ExampleDiffConfig


class ExampleDiff(BaseComponent):
    # TFX's spec keys (standard_component_specs), so MLMD lineage and .outputs[...] read the same.
    INPUTS = {"examples": In(Examples), "baseline_examples": In(Examples)}
    OUTPUTS = {"example_diff_result": Out(ExamplesDiff)}
    PARAMETERS = {"example_diff_config": Param(dict, required=True), "include_split_pairs": Param(list)}

    def __init__(self, examples_test: Channel, examples_base: Channel, config: Any,
                 include_split_pairs: list[tuple[str, str]] | None = None) -> None:
        """``include_split_pairs``: (test split, base split) pairs to compare; default: every pair."""
        from beampipe.proto import utils
        as_dict = utils.proto_to_dict(config) if not isinstance(config, dict) else config
        skew = utils.dict_to_proto(as_dict, ExampleDiffConfig).paired_example_skew
        if skew is None or not skew.identifier_features:
            raise WiringError("ExampleDiff: config needs paired_example_skew with at least one "
                              "identifier_features name (the features that pair test and base examples)")
        pairs = None if include_split_pairs is None else [[str(t), str(b)] for t, b in include_split_pairs]
        super().__init__({"examples": examples_test, "baseline_examples": examples_base},
                         {"example_diff_config": as_dict, "include_split_pairs": pairs})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import apache_beam as beam
        from tensorflow.core.example import example_pb2
        from tensorflow_data_validation.skew import feature_skew_detector as fsd

        from beampipe.proto import utils
        from beampipe.transforms.beam_util import read_records, reads_in_order
        from beampipe.transforms.tfdv_io import example_files

        test, base = ctx.input("examples"), ctx.input("baseline_examples")
        out = ctx.output("example_diff_result")
        config = utils.dict_to_proto(ctx.prop("example_diff_config"), ExampleDiffConfig)
        pairs = split_pairs(test, base, ctx.prop("include_split_pairs"))
        in_order = reads_in_order(ctx.beam_pipeline_args)
        sinks = {fsd.SKEW_RESULTS_KEY: (out.SKEW_STATS, fsd.skew_results_sink),
                 fsd.SKEW_PAIRS_KEY: (out.SAMPLE_PAIRS, fsd.skew_pair_sink),
                 fsd.MATCH_STATS_KEY: (out.MATCH_STATS, fsd.match_stats_sink),
                 fsd.CONFUSION_KEY: (out.CONFUSION, fsd.confusion_count_sink)}
        with ctx.beam_pipeline() as p:
            for test_split, base_split in pairs:
                label = f"{test_split}_{base_split}"
                ctx.log.info("ExampleDiff: split pair %s", label)
                read = {name: (read_records(p, f"Read{name}[{label}]", example_files(ctx.split_uri(art, split)),
                                            in_order)
                               | f"Parse{name}[{label}]" >> beam.Map(example_pb2.Example.FromString))
                        for name, art, split in (("Base", base, base_split), ("Test", test, test_split))}
                results = ((read["Base"], read["Test"])
                           | f"DetectFeatureSkew[{label}]" >> fsd.DetectFeatureSkewImpl(**detector_kwargs(config)))
                for key, pcoll in results.items():
                    kind, sink = sinks[key]
                    _ = pcoll | f"Write{kind}[{label}]" >> sink(out.results_prefix(test_split, base_split, kind))
        skewed = {f"{t}_{b}": skewed_features(out, t, b) for t, b in pairs}
        for pair, names in skewed.items():
            ctx.log.info("ExampleDiff: split pair %s, skewed features: %s", pair, ", ".join(names) or "none")
        out.set_int_custom_property("skew_found", int(any(skewed.values())))
        out.set_string_custom_property("skewed_features", json.dumps(skewed, sort_keys=True))


def split_pairs(test: Examples, base: Examples, include: list[list[str]] | None) -> list[tuple[str, str]]:
    """Every (test, base) split pair, or those listed; a listed pair that is missing is an error."""
    pairs = [(t, b) for t in test.splits for b in base.splits if include is None or [t, b] in include]
    missing = [f"{t}_{b}" for t, b in include or [] if (t, b) not in pairs]
    if missing:
        raise ValueError(f"ExampleDiff: include_split_pairs names {', '.join(missing)}, but the test examples "
                         f"have splits {test.splits} and the base examples {base.splits}")
    if not pairs:
        raise ValueError(f"ExampleDiff: no split pairs from test examples {test.uri} and base examples {base.uri}")
    return pairs


def detector_kwargs(config: ExampleDiffConfig) -> dict[str, Any]:
    """ExampleDiffConfig -> TFDV's DetectFeatureSkewImpl arguments (as TFX maps them)."""
    from tensorflow_data_validation.skew import feature_skew_detector as fsd
    skew = config.paired_example_skew
    assert skew is not None  # checked when the component was built
    return {"identifier_features": list(skew.identifier_features),
            "features_to_ignore": list(skew.ignore_features),
            "sample_size": skew.skew_sample_size,
            "float_round_ndigits": skew.float_round_ndigits,
            "allow_duplicate_identifiers": skew.allow_duplicate_identifiers,
            "confusion_configs": [fsd.ConfusionConfig(c.feature_name) for c in skew.confusion_config]}


def read_results(out: ExamplesDiff, test_split: str, base_split: str, kind: str) -> list[Any]:
    """The protos of one result kind of one split pair (FeatureSkew for ``SKEW_STATS``, ...)."""
    from tensorflow_data_validation.skew.protos import feature_skew_results_pb2 as pb

    from beampipe.transforms.example_io import tfrecords
    message = {out.SKEW_STATS: pb.FeatureSkew, out.SAMPLE_PAIRS: pb.SkewPair, out.MATCH_STATS: pb.MatchStats,
               out.CONFUSION: pb.ConfusionCount}[kind]
    files = sorted(glob.glob(out.results_prefix(test_split, base_split, kind) + "-*-of-*"))
    return [message.FromString(record) for path in files for record in tfrecords(path)]


def skewed_features(out: ExamplesDiff, test_split: str, base_split: str) -> list[str]:
    """Features that differ in at least one pair, or are present on one side only."""
    return sorted(s.feature_name for s in read_results(out, test_split, base_split, out.SKEW_STATS)
                  if s.diff_count)

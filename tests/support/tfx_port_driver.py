"""Runs a ported TFX ``penguin_pipeline_local.py`` the way TFX's e2e test does: its own
``create_pipeline`` with TFX's arguments, then its own ``tfx.orchestration.LocalDagRunner``.

usage: python tfx_port_driver.py PORTED_DIR CONFIG_JSON
CONFIG_JSON holds create_pipeline's keyword arguments; three of them are proto specs built
here with the ported module's own ``tfx.proto`` (so beampipe's):
  "examplegen_input_config": [[split name, pattern], ...]
  "resolver_range_config": {"rolling_range": N} or {"static_range": [start, end]}
  "runs": [date or null, ...]  (one pipeline run per entry: examplegen_range_config_date)
Prints one ``RUN {json}`` line per run (status, node -> status/error) and exits non-zero when
building or running failed (the traceback names the failing line of the ported file).
"""
import json
import os
import sys
import traceback


def _proto_args(tfx, config: dict) -> dict:
    args = dict(config)
    splits = args.get("examplegen_input_config")
    if splits:
        args["examplegen_input_config"] = tfx.proto.Input(
            splits=[tfx.proto.Input.Split(name=n, pattern=p) for n, p in splits])
    rng = args.get("resolver_range_config")
    if rng and "rolling_range" in rng:
        args["resolver_range_config"] = tfx.proto.RangeConfig(
            rolling_range=tfx.proto.RollingRange(num_spans=rng["rolling_range"]))
    elif rng and "static_range" in rng:
        start, end = rng["static_range"]
        args["resolver_range_config"] = tfx.proto.RangeConfig(
            static_range=tfx.proto.StaticRange(start_span_number=start, end_span_number=end))
    return args


def _summary(result) -> dict:
    nodes = getattr(result, "nodes", {}) or {}
    return {"status": getattr(result, "status", repr(result)),
            "nodes": {name: [getattr(r, "status", ""), str(getattr(r, "error", "") or "")[:2000]]
                      for name, r in nodes.items()}}


def main(ported_dir: str, config_json: str) -> int:
    sys.path.insert(0, ported_dir)
    from absl import flags

    try:
        import penguin_pipeline_local as ppl
    except Exception:  # noqa: BLE001 - report what the ported file's import hit
        print("STAGE import")
        traceback.print_exc()
        return 2
    flags.FLAGS(["penguin_pipeline_local"])  # the file's own flags (--runner, --model_framework)
    config = json.loads(config_json)
    runs = config.pop("runs", [None])
    failed = 0
    for date in runs:
        try:
            pipeline = ppl.create_pipeline(**_proto_args(ppl.tfx, config),
                                           examplegen_range_config_date=date)
        except Exception:  # noqa: BLE001
            print(f"STAGE create_pipeline date={date}")
            traceback.print_exc()
            return 3
        try:
            result = ppl.tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception:  # noqa: BLE001
            print(f"STAGE run date={date}")
            traceback.print_exc()
            return 4
        summary = _summary(result)
        print("RUN " + json.dumps({"date": date, **summary}), flush=True)
        failed += summary["status"] != "COMPLETE"
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    sys.exit(main(*sys.argv[1:]))

"""Evaluator with TFX's DirectRunner parallelism args on small data: in-process, and the same
metrics (to 1e-6) and blessing as with no Beam args."""
from __future__ import annotations

import json
import os

from beampipe.components.base import Channel, ExecContext
from beampipe.components.evaluator import Evaluator, _load_metrics
from beampipe.metadata.artifacts import Examples, Model, ModelBlessing, ModelEvaluation
from tests.components import model_fixtures as mf

TFX_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def _evaluate(root, examples, model, config: str, beam_args: list[str]) -> tuple[dict, ModelBlessing]:
    out = {"evaluation": [ModelEvaluation(str(root / "evaluation"))],
           "blessing": [ModelBlessing(str(root / "blessing"))]}
    for arts in out.values():
        os.makedirs(arts[0].uri)
    comp = Evaluator(examples=Channel(Examples), model=Channel(Model), eval_config=config)
    ctx = ExecContext(node_id="Evaluator", run_id="r", pipeline_name="p", pipeline_root=str(root),
                      inputs={"examples": [examples], "model": [model], "baseline_model": []}, outputs=out,
                      exec_properties=json.loads(json.dumps(comp.exec_properties)),
                      beam_pipeline_args=list(beam_args), temp_dir=str(root / "tmp"))
    Evaluator.execute(ctx)
    return _load_metrics(out["evaluation"][0].uri), out["blessing"][0]


def test_parallelism_args_on_small_data_give_the_no_args_metrics(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    config = mf.eval_config_json(0.5)
    want, want_blessing = _evaluate(tmp_path / "plain", examples, model, config, [])
    got, got_blessing = _evaluate(tmp_path / "tfx_args", examples, model, config, TFX_ARGS)
    assert want and set(got) == set(want)
    for slice_name, metrics in want.items():
        assert set(got[slice_name]) == set(metrics), slice_name
        for key, value in metrics.items():
            assert abs(got[slice_name][key] - value) <= 1e-6, (slice_name, key)
    assert got_blessing.custom_properties["blessed"] == want_blessing.custom_properties["blessed"]

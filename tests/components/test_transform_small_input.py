"""Transform with TFX's DirectRunner parallelism args on small data: in-process, the same outputs
as with no Beam args (TFX's penguin pipeline passes ``--direct_running_mode=multi_processing``)."""
from __future__ import annotations

import glob
import os

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.base import ExecContext
from beampipe.components.transform import Transform
from tests.components.testdata.penguin_inputs import PENGUIN_MODULE, make_outputs, transformed_penguin

TFX_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def _files(uri: str) -> dict[str, bytes]:
    """Every file under ``uri`` (relative path -> bytes)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(uri, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                found[os.path.relpath(path, uri)] = f.read()
    return found


def test_parallelism_args_on_small_data_give_the_no_args_outputs(tmp_path):
    reference = transformed_penguin()  # no Beam args
    outputs = make_outputs(Transform, str(tmp_path / "out"))
    ctx = ExecContext(node_id="Transform", run_id="r2", pipeline_name="penguin", pipeline_root=str(tmp_path),
                      inputs={"examples": [reference["examples"]], "schema": [reference["schema"]]},
                      outputs=outputs, exec_properties={"module_file": PENGUIN_MODULE},
                      beam_pipeline_args=list(TFX_ARGS), temp_dir=str(tmp_path / "tmp"))
    Transform.execute(ctx)
    for key in ("transformed_examples", "pre_transform_stats", "post_transform_stats",
                "post_transform_schema", "post_transform_anomalies", "pre_transform_schema"):
        got, want = _files(outputs[key][0].uri), _files(reference[key].uri)
        assert got and got == want, key
    graph, want_graph = outputs["transform_graph"][0], reference["transform_graph"]
    assert _files(os.path.join(graph.uri, "transformed_metadata")) == \
        _files(os.path.join(want_graph.uri, "transformed_metadata"))
    assert _files(os.path.join(graph.transform_fn_dir(), "assets")) == \
        _files(os.path.join(want_graph.transform_fn_dir(), "assets"))

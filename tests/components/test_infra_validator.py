"""InfraValidator loads the model in its own process and sends it real examples."""
from __future__ import annotations

import os

from beampipe.components.base import Channel, ExecContext
from beampipe.components.infra_validator import InfraValidator
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples, InfraBlessing, Model
from beampipe.proto.serving import RequestSpec, ValidationSpec
from tests.components import model_fixtures as mf


def run_validator(tmp_path, model, examples, **kwargs) -> InfraBlessing:
    out = InfraBlessing(str(tmp_path / "blessing"))
    os.makedirs(out.uri)
    comp = InfraValidator(model=Channel(Model), examples=Channel(Examples), **kwargs)
    ctx = ExecContext(node_id="InfraValidator", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"model": [model], "examples": [examples]}, outputs={"blessing": [out]},
                      exec_properties=comp.exec_properties)
    InfraValidator.execute(ctx)
    return out


def test_blesses_a_good_model(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    out = run_validator(tmp_path, model, examples, request_spec=RequestSpec(num_examples=4, split_name="eval"),
                        validation_spec=ValidationSpec(max_loading_time_seconds=120, num_tries=2))
    assert os.path.exists(out.marker(True)), out.custom_properties
    assert out.custom_properties["blessed"] == 1
    assert out.custom_properties["num_requests"] == 4
    assert 0 < out.custom_properties["load_seconds"] < 120


def test_does_not_bless_a_directory_that_is_not_a_model(tmp_path_factory, tmp_path):
    examples = mf.shared(tmp_path_factory, "examples")
    broken = Model(str(tmp_path / "broken"))
    os.makedirs(broken.serving_dir())
    with open(layout.join(broken.serving_dir(), layout.SAVED_MODEL_FILE), "wb") as f:
        f.write(b"not a saved model")
    out = run_validator(tmp_path, broken, examples,
                        validation_spec=ValidationSpec(max_loading_time_seconds=60, num_tries=3))
    assert os.path.exists(out.marker(False))
    assert not os.path.exists(out.marker(True))
    assert out.custom_properties["blessed"] == 0
    assert "did not load" in out.custom_properties["message"]
    assert out.custom_properties["num_tries"] == 1  # a model that cannot load is not retried

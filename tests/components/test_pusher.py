"""Pusher: blessed models land in <base>/<version>/ and answer raw examples; others never do."""
from __future__ import annotations

import os

import pytest

from beampipe.components.base import Channel, ExecContext
from beampipe.components.pusher import Pusher
from beampipe.metadata.artifacts import InfraBlessing, Model, PushedModel
from beampipe.proto.serving import PushDestination
from tests.components import model_fixtures as mf


def run_pusher(tmp_path, model, dest, model_blessing=None, infra_blessing=None) -> PushedModel:
    out = PushedModel(str(tmp_path / "pushed"))
    os.makedirs(out.uri, exist_ok=True)
    comp = Pusher(model=Channel(Model), push_destination=PushDestination(
        filesystem=PushDestination.Filesystem(base_directory=str(dest))))
    ctx = ExecContext(node_id="Pusher", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"model": [model],
                              "model_blessing": [model_blessing] if model_blessing else [],
                              "infra_blessing": [infra_blessing] if infra_blessing else []},
                      outputs={"pushed_model": [out]}, exec_properties=comp.exec_properties)
    Pusher.execute(ctx)
    return out


def test_pushes_blessed_model_that_answers_raw_examples(tmp_path_factory, tmp_path):
    import tensorflow as tf
    model, examples = mf.shared(tmp_path_factory, "model"), mf.shared(tmp_path_factory, "examples")
    dest = tmp_path / "serving"
    first = run_pusher(tmp_path / "a", model, dest, mf.blessing(str(tmp_path / "b1"), True))
    second = run_pusher(tmp_path / "b", model, dest, mf.blessing(str(tmp_path / "b2"), True))
    assert first.custom_properties["pushed"] == 1 and second.custom_properties["pushed"] == 1
    v1, v2 = int(first.custom_properties["pushed_version"]), int(second.custom_properties["pushed_version"])
    assert v2 > v1
    assert sorted(os.listdir(dest)) == sorted([str(v1), str(v2)])
    target = first.custom_properties["pushed_destination"]
    assert target == os.path.join(str(dest), str(v1))
    served = tf.saved_model.load(target).signatures["serving_default"]
    records = mf.read_examples(examples.uri, "eval")[:5]
    probs = served(examples=tf.constant(records))["outputs"].numpy()
    assert probs.shape == (5, 3)


@pytest.mark.parametrize("blessed,infra", [(False, None), (True, False)])
def test_refuses_unblessed(tmp_path_factory, tmp_path, blessed, infra):
    model = mf.shared(tmp_path_factory, "model")
    dest = tmp_path / "serving"
    infra_art = None
    if infra is not None:
        os.makedirs(tmp_path / "infra")
        open(tmp_path / "infra" / "INFRA_NOT_BLESSED", "w").close()
        infra_art = InfraBlessing(str(tmp_path / "infra"))
    out = run_pusher(tmp_path, model, dest, mf.blessing(str(tmp_path / "bl"), blessed), infra_art)
    assert out.custom_properties["pushed"] == 0
    assert "pushed_destination" not in out.custom_properties
    assert not dest.exists() or os.listdir(dest) == []


def test_destination_required():
    comp = Pusher(model=Channel(Model), push_destination=PushDestination())
    assert comp.exec_properties["push_destination"] == {"filesystem": {"base_directory": ""}}

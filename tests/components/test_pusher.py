"""Pusher: blessed models land in <base>/<version>/ and answer raw examples; others never do."""
from __future__ import annotations

import hashlib
import os
import re

import pytest

from beampipe.components.base import Channel, ExecContext
from beampipe.components.pusher import Pusher
from beampipe.metadata.artifacts import InfraBlessing, Model, PushedModel
from beampipe.metadata import layout
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
    assert first.custom_properties[PushedModel.PUSHED_KEY] == second.custom_properties[PushedModel.PUSHED_KEY] == 1
    v1, v2 = (int(p.custom_properties[PushedModel.VERSION_KEY]) for p in (first, second))
    assert v2 > v1
    assert sorted(os.listdir(dest)) == sorted([str(v1), str(v2)])
    target = first.custom_properties[PushedModel.DESTINATION_KEY]
    assert target == PushedModel.version_dir(str(dest), v1) == os.path.join(str(dest), str(v1))
    served = tf.saved_model.load(target).signatures["serving_default"]
    records = mf.read_examples(examples.uri, "eval")[:5]
    probs = served(examples=tf.constant(records))["outputs"].numpy()
    assert probs.shape == (5, 3)


def tree(root: str) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                found[os.path.relpath(os.path.join(folder, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def test_pushed_model_holds_a_copy_of_what_was_pushed(tmp_path_factory, tmp_path):
    """As TFX archives it: the PushedModel's directory is the pushed SavedModel itself,
    byte for byte what the serving directory got."""
    model = mf.shared(tmp_path_factory, "model")
    out = run_pusher(tmp_path, model, tmp_path / "serving", mf.blessing(str(tmp_path / "bl"), True))
    pushed = tree(out.model_dir())
    assert layout.SAVED_MODEL_FILE in pushed
    assert pushed == tree(model.serving_dir()) == tree(out.custom_properties[PushedModel.DESTINATION_KEY])
    assert out.custom_properties[PushedModel.VERSION_KEY] == \
        os.path.basename(out.custom_properties[PushedModel.DESTINATION_KEY])


@pytest.mark.parametrize("blessed,infra", [(False, None), (True, False)])
def test_refuses_unblessed(tmp_path_factory, tmp_path, blessed, infra):
    model = mf.shared(tmp_path_factory, "model")
    dest = tmp_path / "serving"
    infra_art = None
    if infra is not None:
        infra_art = InfraBlessing(str(tmp_path / "infra"))
        os.makedirs(infra_art.uri)
        open(infra_art.marker(blessed=False), "w").close()
    out = run_pusher(tmp_path, model, dest, mf.blessing(str(tmp_path / "bl"), blessed), infra_art)
    assert out.custom_properties[PushedModel.PUSHED_KEY] == 0
    assert PushedModel.DESTINATION_KEY not in out.custom_properties
    assert not dest.exists() or os.listdir(dest) == []
    assert os.listdir(out.model_dir()) == []  # nothing pushed, nothing kept


def test_not_blessed_reason_names_metric_value_and_threshold(tmp_path_factory, tmp_path):
    """The Evaluator's blessing records the failed thresholds; Pusher's refusal quotes them."""
    from tests.components.test_evaluator import run_evaluator
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    _, blessing = run_evaluator(tmp_path / "eval", examples, model, mf.eval_config_json(1.01))
    out = run_pusher(tmp_path, model, tmp_path / "serving", blessing)
    reason = out.custom_properties["pushed_reason"]
    assert out.custom_properties[PushedModel.PUSHED_KEY] == 0
    assert re.match(r"model is NOT BLESSED by the Evaluator: sparse_categorical_accuracy is (1|0\.\d+) on Overall "
                    r"\(threshold >= 1\.01\)", reason), reason
    assert blessing.uri in reason

    bare = mf.blessing(str(tmp_path / "bare"), False)  # a blessing without the Evaluator's record
    assert "no reason recorded" in run_pusher(tmp_path / "b", model, tmp_path / "serving", bare) \
        .custom_properties["pushed_reason"]


def test_destination_required():
    comp = Pusher(model=Channel(Model), push_destination=PushDestination())
    assert comp.exec_properties["push_destination"] == {"filesystem": {"base_directory": "", "versioning": 0}}


# -- whole pipeline: Resolver -> Evaluator (baseline) -> Cond -> Pusher ----------------------------
from beampipe.components.decorator import InputArtifact, OutputArtifact, Parameter, component  # noqa: E402
from beampipe.metadata.artifacts import Examples, ModelBlessing  # noqa: E402


@component
def PenguinData(examples: OutputArtifact[Examples]) -> None:
    mf.make_examples(examples.uri)
    examples.splits = ["train", "eval"]


@component
def CopyModel(examples: InputArtifact[Examples], model: OutputArtifact[Model], source: Parameter[str]) -> None:
    """Stands in for Trainer: the model it 'trains' is a prebuilt one."""
    import shutil
    shutil.copytree(Model(source).serving_dir(), model.serving_dir())


def _pipeline(root, model_dir: str, serving: str):
    from beampipe.components.condition import Cond
    from beampipe.components.evaluator import Evaluator
    from beampipe.components.resolver import LatestBlessedModelStrategy, Resolver
    from beampipe.orchestration.pipeline import Pipeline

    data = PenguinData()
    trainer = CopyModel(examples=data.outputs["examples"], source=model_dir).with_id("Trainer")
    resolver = Resolver(strategy_class=LatestBlessedModelStrategy, model=Channel(type=Model),
                        model_blessing=Channel(type=ModelBlessing)).with_id("latest_blessed_model_resolver")
    evaluator = Evaluator(examples=data.outputs["examples"], model=trainer.outputs["model"],
                          baseline_model=resolver.outputs["model"],
                          eval_config=mf.eval_config_json(0.5, change=-1e-10))
    with Cond(evaluator.outputs["blessing"].future()[0].custom_property("blessed") == 1):
        pusher = Pusher(model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
                        push_destination=PushDestination(
                            filesystem=PushDestination.Filesystem(base_directory=serving)))
    return Pipeline("penguin_push", str(root), [data, trainer, resolver, evaluator, pusher])


@pytest.mark.e2e
def test_pipeline_pushes_only_when_blessed(tmp_path_factory, tmp_path):
    from beampipe.orchestration.local_runner import LocalDagRunner
    good, bad = mf.shared(tmp_path_factory, "model"), mf.shared(tmp_path_factory, "bad_model")
    serving = str(tmp_path / "serving")

    first = LocalDagRunner().run(_pipeline(tmp_path / "root", good.uri, serving))
    assert first.status == "COMPLETE", [(r.node_id, r.error) for r in first.failed]
    assert first.nodes["Pusher"].status == "COMPLETE"
    assert len(os.listdir(serving)) == 1
    from beampipe.metadata.store import MetadataStore
    store = MetadataStore(os.path.join(str(tmp_path / "root"), "metadata.sqlite"))
    [pushed] = store.artifacts_of(first.nodes["Pusher"].execution_id)["pushed_model"]
    store.close()
    # LIVE, in the pipeline root, and the very SavedModel that went to the serving directory
    assert pushed.state == "LIVE" and pushed.uri.startswith(str(tmp_path / "root"))
    assert tree(pushed.uri) == tree(pushed.custom_properties[PushedModel.DESTINATION_KEY])

    # A worse model: the resolver hands the blessed one to the Evaluator as baseline,
    # the change threshold fails, the condition is false and Pusher is skipped.
    second = LocalDagRunner().run(_pipeline(tmp_path / "root", bad.uri, serving))
    assert second.status == "COMPLETE", [(r.node_id, r.error) for r in second.failed]
    assert second.nodes["Evaluator"].status == "COMPLETE"
    assert second.nodes["Pusher"].status == "SKIPPED"
    assert len(os.listdir(serving)) == 1

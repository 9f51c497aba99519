"""Transform writes its analyzer cache by one Beam step (``analysis_cache_io``): the same
files, byte for byte, as TFT's ``WriteAnalysisCacheToFS`` through Beam's TFRecord sink.

Both with no cache given and with an earlier span's cache given (TFT then merges its
MANIFEST and numbers the new entries after the old ones).
"""
from __future__ import annotations

import os

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.base import ExecContext
from beampipe.components.transform import Transform
from beampipe.transforms import analysis_cache_io
from tests.components.testdata.penguin_inputs import (PENGUIN_MODULE, make_outputs, penguin_rows,
                                                      transformed_penguin, write_examples)
from tests.components.testdata.tree import files_under


def _tft_writer(pipeline, cache, cache_dir, dataset_keys, label) -> None:
    from tensorflow_transform.beam import analyzer_cache
    _ = cache | label >> analyzer_cache.WriteAnalysisCacheToFS(pipeline, cache_dir, dataset_keys)


def _cache_files(root: str, examples: list, schema, cache=None) -> dict[str, bytes]:
    inputs = {"examples": examples, "schema": [schema]}
    if cache is not None:
        inputs["analyzer_cache"] = [cache]
    outputs = make_outputs(Transform, os.path.join(root, "out"))
    ctx = ExecContext(node_id="Transform", run_id="r", pipeline_name="p", pipeline_root=root, inputs=inputs,
                      outputs=outputs, exec_properties={"module_file": PENGUIN_MODULE, "disable_statistics": True},
                      temp_dir=os.path.join(root, "tmp"))
    Transform.execute(ctx)
    return files_under(outputs["updated_analyzer_cache"][0].uri)


def test_one_step_cache_equals_tft_writer(tmp_path, monkeypatch) -> None:
    t = transformed_penguin()
    span1 = write_examples(str(tmp_path / "span1"), penguin_rows()[:150], span=1)
    runs = {}
    for name, writer in (("tft", _tft_writer), ("ours", analysis_cache_io.write_analysis_cache)):
        monkeypatch.setattr(analysis_cache_io, "write_analysis_cache", writer)
        fresh = _cache_files(str(tmp_path / name / "fresh"), [t["examples"]], t["schema"])
        merged = _cache_files(str(tmp_path / name / "merged"), [t["examples"], span1], t["schema"],
                              cache=t["updated_analyzer_cache"])
        runs[name] = (fresh, merged)
    for tft_files, our_files in zip(runs["tft"], runs["ours"]):
        assert sorted(tft_files) == sorted(our_files)
        assert [name for name in tft_files if tft_files[name] != our_files[name]] == []
    fresh, merged = runs["ours"]
    assert any(name.endswith(".gz") for name in fresh) and any("METADATA" in name for name in fresh)
    assert len(merged) > len(fresh)  # the new span's entries beside the old ones

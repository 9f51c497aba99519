"""Every public name of TFX 1.16's ``tfx.v1`` (outside the Google Cloud extensions) resolves on
``import beampipe as tfx``; the import loads no ML library, and resolving every name none but MLMD
(whose ConnectionConfig protos ``tfx.orchestration.metadata`` returns, as TFX does).

``tests/data/tfx_v1_public_names.txt`` was listed from the installed tfx 1.16.0 package.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NAMES = os.path.join(HERE, "data", "tfx_v1_public_names.txt")
HEAVY = ("tensorflow", "apache_beam", "tensorflow_transform", "tensorflow_data_validation",
         "tensorflow_model_analysis", "tfx_bsl", "ml_metadata", "kfp")


def tfx_names() -> list[str]:
    with open(NAMES) as f:
        rows = [line.split("\t")[0].strip() for line in f if line.strip() and not line.startswith("#")]
    return [n for n in rows if "google_cloud" not in n]


_PROBE = """
import json, sys
import beampipe as tfx
after_import = sorted(m for m in %(heavy)r if m in sys.modules)
missing = []
for name in %(names)r:
    obj = tfx
    try:
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
    except AttributeError as err:
        missing.append(f"{name}: {err}")
print(json.dumps({"after_import": after_import, "missing": missing,
                  "after_names": sorted(m for m in %(heavy)r if m in sys.modules)}))
"""


def test_every_non_gcp_tfx_v1_name_resolves_without_loading_ml_libraries():
    names = tfx_names()
    assert len(names) == 152
    proc = subprocess.run([sys.executable, "-c", _PROBE % {"heavy": HEAVY, "names": names}],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["missing"] == []
    assert got["after_import"] == []
    # MLMD's own ConnectionConfig protos are what tfx.orchestration.metadata returns, as in TFX.
    assert set(got["after_names"]) <= {"ml_metadata"}, "resolving a public name imported an ML library"


def test_google_cloud_extensions_say_why_they_are_missing():
    import beampipe as tfx

    try:
        tfx.extensions.google_cloud_ai_platform
    except AttributeError as err:
        assert "Google Cloud" in str(err) and "not supported" in str(err)
    else:
        raise AssertionError("tfx.extensions.google_cloud_ai_platform resolved")

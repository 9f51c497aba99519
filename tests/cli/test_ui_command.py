"""``beampipe ui``: one-line errors, the URL it prints, 127.0.0.1 by default."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ui_without_a_store_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "beampipe", "ui", "--pipeline-root", str(tmp_path / "none")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("beampipe: ") and "no metadata store" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()  # never created


def test_ui_prints_its_url_and_serves(tmp_path):
    from beampipe.metadata.store import MetadataStore

    MetadataStore(str(tmp_path / "metadata.sqlite")).close()
    proc = subprocess.Popen([sys.executable, "-m", "beampipe", "ui", "--pipeline-root", str(tmp_path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    try:
        line = proc.stdout.readline()
        assert line.startswith("beampipe ui: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and 'id="runs-table"' in resp.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

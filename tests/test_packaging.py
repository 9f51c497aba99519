"""setup.py's metadata is complete enough to publish (read without building anything)."""
from __future__ import annotations

import functools
import os
import runpy
from typing import Any
from unittest import mock

import beampipe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def setup_kwargs() -> dict[str, Any]:
    """The keywords setup.py passes to setuptools.setup(), with setup() itself not run."""
    captured: dict[str, Any] = {}
    with mock.patch("setuptools.setup", side_effect=lambda **kw: captured.update(kw)):
        runpy.run_path(os.path.join(ROOT, "setup.py"), run_name="__main__")
    assert captured, "setup.py did not call setuptools.setup()"
    return captured


def test_version_is_the_package_version():
    assert setup_kwargs()["version"] == beampipe.__version__


def test_license_is_apache_2_with_its_text():
    kw = setup_kwargs()
    assert kw["license_expression"] == "Apache-2.0"
    assert kw["license_files"] == ["LICENSE"]
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # PEP 639: a license expression replaces the License :: classifiers (setuptools refuses both).
    assert not [c for c in kw["classifiers"] if c.startswith("License ::")]


def test_long_description_is_the_readme_as_markdown():
    kw = setup_kwargs()
    assert kw["long_description_content_type"] == "text/markdown"
    assert kw["long_description"].startswith("# beampipe\n")
    # Relative links point at the repository, so they work on the package index.
    assert "](docs/" not in kw["long_description"] and "](#" not in kw["long_description"]
    assert f"]({kw['project_urls']['Source']}/blob/main/docs/backends.md#task-image)" in kw["long_description"]
    assert f"]({kw['project_urls']['Source']}/blob/main/docs/reliability.md)" in kw["long_description"]


def test_index_metadata_is_there():
    kw = setup_kwargs()
    assert kw["description"]
    assert kw["author"] and kw["maintainer"]
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(kw["project_urls"])
    assert all(url.startswith("https://") for url in kw["project_urls"].values())
    assert {"tfx", "apache-beam"} <= set(kw["keywords"])
    classifiers = kw["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert any(c.startswith("Topic ::") for c in classifiers)
    assert kw["python_requires"]

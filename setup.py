"""beampipe: TFX-style ML pipelines on Apache Beam, recorded in ML Metadata."""
from __future__ import annotations

from setuptools import find_packages, setup

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

setup(
    name="beampipe",
    version="0.1.0",
    description="TFX-style machine-learning pipelines on Apache Beam",
    python_requires=">=3.10,<3.12",
    packages=find_packages(include=["beampipe", "beampipe.*"]),
    # The drivers take the advisory lock that serialises MLMD type creation on server stores.
    install_requires=[*ML, *STORE_DRIVERS],
    extras_require={
        "test": ["pytest>=7", "import-linter>=2", "palmerpenguins"],
    },
    entry_points={"console_scripts": ["beampipe=beampipe.cli:main"]},
)

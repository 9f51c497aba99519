# The beampipe task image: what Kubeflow Pipelines tasks and Airflow KubernetesPodOperator tasks run
# (`beampipe compile ... --image REGISTRY/beampipe:TAG`). From the repository root:
#
#   docker build -t REGISTRY/beampipe:TAG .
#
# Every install step is in docker/install.sh, which .ci/run also runs in a clean directory (CI has
# no Docker engine, so the script is what is tested). The build stage gets a compiler for the few
# sdists and is thrown away; the image is the base plus the venv in /opt/beampipe.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY . /src
RUN BEAMPIPE_BUILD_TOOLS=apt bash /src/docker/install.sh /opt/beampipe /src

FROM ${PYTHON_IMAGE}
# Keep in step with beampipe.__version__ (tests/test_image.py checks it).
ARG BEAMPIPE_VERSION=0.1.0
LABEL org.opencontainers.image.title="beampipe" \
      org.opencontainers.image.description="beampipe task image: TFX-style ML pipelines on Apache Beam" \
      org.opencontainers.image.source="https://github.com/beampipe/beampipe" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${BEAMPIPE_VERSION}"
# A numeric USER, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --gid 1000 beampipe \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/beampipe --shell /bin/bash beampipe
COPY --from=build /opt/beampipe /opt/beampipe
ENV VIRTUAL_ENV=/opt/beampipe \
    PATH=/opt/beampipe/bin:$PATH \
    TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
USER 1000:1000
WORKDIR /home/beampipe
# Tasks give their own command (`python -m beampipe.orchestration.entrypoint ...`); alone, the
# image prints the CLI's help.
CMD ["beampipe", "--help"]

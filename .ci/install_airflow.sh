#!/usr/bin/env bash
# Install Airflow 3 into its OWN venv (it needs attrs>=24.2; ml-metadata needs attrs<24,
# so it can never share the ML venv). Idempotent: reuses the venv when the pinned
# version is already there, so CI pays the install once per machine.
#
#   BEAMPIPE_AIRFLOW_VENV  where the venv goes   (default: $HOME/.cache/beampipe/airflow-venv)
#   BEAMPIPE_AIRFLOW_PYTHON  interpreter to build it from (default: python3.11 / python3)
#   BEAMPIPE_AIRFLOW_VERSION (default: 3.1.8)
# Prints the venv's python path as the last line of stdout; exits non-zero on failure.
# The tests find the venv through the same BEAMPIPE_AIRFLOW_VENV variable.
set -euo pipefail

VENV="${BEAMPIPE_AIRFLOW_VENV:-$HOME/.cache/beampipe/airflow-venv}"
VERSION="${BEAMPIPE_AIRFLOW_VERSION:-3.1.8}"
PY="${BEAMPIPE_AIRFLOW_PYTHON:-$(command -v python3.11 || command -v python3)}"
# Pinned alongside Airflow: the standard provider (BashOperator) and, so compiled DAGs
# that use KubernetesPodOperator can be parsed in tests, the cncf-kubernetes provider.
# Airflow's constraints files are not on PyPI (not reachable here): these pins are the set
# that installed and passed the tests (pip resolves the rest; install took ~70 s).
PACKAGES=(
  "apache-airflow==${VERSION}"
  "apache-airflow-providers-standard==1.21.0"
  "apache-airflow-providers-cncf-kubernetes==10.25.0"
)

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
assert version("apache-airflow") == sys.argv[1]
import airflow.providers.standard.operators.bash  # noqa: F401
import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401
PY
then
  echo "airflow ${VERSION} already installed in $VENV" >&2
  echo "$VENV/bin/python"
  exit 0
fi

start=$(date +%s)
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
"$VENV/bin/python" -m pip install -q "${PACKAGES[@]}" >&2
"$VENV/bin/python" -c "import airflow; print('airflow', airflow.__version__)" >&2
echo "installed airflow ${VERSION} into $VENV in $(( $(date +%s) - start )) s" >&2
echo "$VENV/bin/python"

#!/usr/bin/env bash
# Install beampipe and its pinned dependency family into a fresh venv, then check the result.
#
# This script is every install step of the task image: the Dockerfile runs it, and .ci/run runs
# it in a clean temporary directory (there is no Docker engine in CI), so what CI tests is what
# the image gets.
#
#   docker/install.sh [PREFIX] [SOURCE]
#
#   PREFIX   the venv to create (or $BEAMPIPE_PREFIX; default /opt/beampipe). It must not exist,
#            or be an empty directory.
#   SOURCE   a beampipe source tree or a built wheel (or $BEAMPIPE_SOURCE; default the tree that
#            holds this script).
#   BEAMPIPE_CONSTRAINTS  the pins (default: SOURCE/constraints.txt; for a wheel, the
#                         constraints.txt of the tree that holds this script)
#   BEAMPIPE_PYTHON       the interpreter the venv is made from (default python3.11, else python3)
#   BEAMPIPE_PIP          the pip the venv gets before anything else (default pip==26.3): the pip
#                         that ensurepip bundles varies with the Python patch release, and an old
#                         one (23.0) cannot resolve constraints.txt
#   BEAMPIPE_BUILD_TOOLS  a few pinned dependencies are sdists (pyfarmhash, which TFDV needs, is C++;
#                         crcmod has an optional C extension), so a C/C++ compiler is needed:
#                         "check" (default) stops early when gcc or g++ is missing, "apt" installs
#                         them with apt-get when missing (the Dockerfile's build stage, which is
#                         thrown away, so they never reach the image), "none" skips the check
#                         (e.g. PIP_FIND_LINKS names prebuilt wheels).
#
# It writes nothing into SOURCE (a source tree is built from a scratch copy: an in-tree build
# leaves build/ behind, and setuptools reuses stale files from it), leaves no pip cache, and
# exits non-zero if the install or any check fails:
#   pip check; `python -m beampipe --help`; `beampipe --help`; beampipe imported from PREFIX;
#   with TF_USE_LEGACY_KERAS=1, importing tensorflow, apache_beam, tensorflow_transform,
#   tensorflow_data_validation, tensorflow_model_analysis, ml_metadata and kfp.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:-${BEAMPIPE_PREFIX:-/opt/beampipe}}
source_arg=${2:-${BEAMPIPE_SOURCE:-$here}}
python=${BEAMPIPE_PYTHON:-$(command -v python3.11 || command -v python3 || true)}

die() { echo "install.sh: $*" >&2; exit 1; }
log() { echo "== install.sh: $*"; }

# constraints.txt pins releases that need Python 3.11.5 or later (soupsieve 4.1.3), and the TFX
# family has no 3.12 wheels. An older 3.11 (Debian bookworm's is 3.11.2) ends in a ResolutionImpossible
# after minutes of backtracking, so say it now.
min_python=3.11.5
[ -n "$python" ] || die "no python3.11 or python3 on PATH (set BEAMPIPE_PYTHON)"
"$python" -c "import sys; sys.exit(not (tuple(map(int, '$min_python'.split('.'))) <= sys.version_info[:3] < (3, 12)))" \
  || die "$python is Python $("$python" -c 'import platform; print(platform.python_version())');" \
         "constraints.txt needs Python 3.11, $min_python or later"

case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
case "$source_arg" in /*) ;; *) source_arg="$PWD/$source_arg" ;; esac
if [ -e "$prefix" ] && [ -n "$(ls -A "$prefix" 2>/dev/null)" ]; then
  die "$prefix exists and is not empty; remove it or name another PREFIX"
fi

if [ -d "$source_arg" ]; then
  [ -f "$source_arg/setup.py" ] || die "$source_arg is not a beampipe source tree (no setup.py)"
  constraints=${BEAMPIPE_CONSTRAINTS:-$source_arg/constraints.txt}
elif [ -f "$source_arg" ] && [[ "$source_arg" == *.whl ]]; then
  constraints=${BEAMPIPE_CONSTRAINTS:-$here/constraints.txt}
else
  die "SOURCE $source_arg is neither a source tree nor a .whl file"
fi
[ -f "$constraints" ] || die "constraints file $constraints not found (set BEAMPIPE_CONSTRAINTS)"

build_tools=${BEAMPIPE_BUILD_TOOLS:-check}
case "$build_tools" in check | apt | none) ;; *) die "BEAMPIPE_BUILD_TOOLS=$build_tools: expected check, apt or none" ;; esac
if [ "$build_tools" != none ] && ! { command -v gcc && command -v g++; } >/dev/null 2>&1; then
  case "$build_tools" in
    apt)
      command -v apt-get >/dev/null 2>&1 || die "BEAMPIPE_BUILD_TOOLS=apt, but there is no apt-get"
      log "installing gcc and g++ (apt)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends gcc g++ libc6-dev >/dev/null
      rm -rf /var/lib/apt/lists/*
      ;;
    check)
      die "gcc and g++ are needed to build pyfarmhash (TFDV) and crcmod from source; install them" \
          "(Debian: apt-get install gcc g++) or set BEAMPIPE_BUILD_TOOLS=apt" ;;
  esac
fi

export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/beampipe-install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
start=$(date +%s)

log "creating venv $prefix with $("$python" --version 2>&1)"
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --no-cache-dir --quiet "${BEAMPIPE_PIP:-pip==26.3}"

target=$source_arg
if [ -d "$source_arg" ]; then
  # Only what a build reads; never a venv, git data or earlier build output.
  mkdir "$scratch/src"
  tar -C "$source_arg" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./runs --exclude=./tests \
    --exclude=./benchmarks --exclude=./examples . | tar -C "$scratch/src" -xf -
  target=$scratch/src
fi

log "installing beampipe from $source_arg with -c $constraints"
"$prefix/bin/python" -m pip install --no-cache-dir --quiet -c "$constraints" "$target"
log "installed in $(( $(date +%s) - start ))s"

# The checks run from the scratch directory, so nothing is imported from a source tree.
cd "$scratch"
log "pip check"
"$prefix/bin/python" -m pip check
log "python -m beampipe --help"
"$prefix/bin/python" -m beampipe --help >/dev/null
"$prefix/bin/beampipe" --help >/dev/null
log "imports"
TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 "$prefix/bin/python" - "$prefix" <<'PY'
import os
import sys

import beampipe, tensorflow, apache_beam, tensorflow_transform, tensorflow_data_validation  # noqa: E401,F401
import tensorflow_model_analysis, ml_metadata, kfp  # noqa: E401,F401

prefix = os.path.realpath(sys.argv[1])
where = os.path.realpath(beampipe.__file__)
if not where.startswith(prefix + os.sep):
    sys.exit(f"beampipe was imported from {where}, not from {prefix}")
print(f"beampipe {beampipe.__version__}, tensorflow {tensorflow.__version__}, apache_beam {apache_beam.__version__}, "
      f"tensorflow_transform {tensorflow_transform.__version__}, "
      f"tensorflow_data_validation {tensorflow_data_validation.__version__}, "
      f"tensorflow_model_analysis {tensorflow_model_analysis.__version__}, kfp {kfp.__version__}")
PY
log "done in $(( $(date +%s) - start ))s: $(du -sh "$prefix" | cut -f1) in $prefix"

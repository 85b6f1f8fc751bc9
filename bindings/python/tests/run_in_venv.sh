#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the binding's tests against the INSTALLED package: a fresh virtualenv
# in a temporary directory, libaigw installed into it with
# `cmake --install --prefix VENV` (found there with no environment
# variable), the package pip-installed, and unittest run from outside the
# source tree so `import aigw` resolves to site-packages.
#
# Usage: run_in_venv.sh PYTHON BUILD_DIR SOURCE_DIR VERSION
#   VERSION: CMake's PROJECT_VERSION, which aigw.__version__ must report.
# AIGW_SIM_PATH and AIGW_RECORDINGS_DIR (test-only paths) pass through.
set -eu
python=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
version=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aigw-py-venv.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
venv=$tmp/venv
vpy=$venv/bin/python

# pip builds in the source directory (build/, aigw.egg-info/): build a copy,
# laid out as in the tree so setup.py finds ../../CMakeLists.txt.
mkdir -p "$tmp/src/bindings"
cp "$src/CMakeLists.txt" "$tmp/src/CMakeLists.txt"
cp -R "$src/bindings/python" "$tmp/src/bindings/python"
rm -rf "$tmp/src/bindings/python/build" "$tmp/src/bindings/python"/*.egg-info
pkg=$tmp/src/bindings/python

# No PyPI here: pip and the build backend come from Debian's wheels
# (python3-venv brings python3-pip-whl and python3-setuptools-whl; and
# python3-wheel-whl), or from the interpreter's own venv.
wheels=/usr/share/python-wheels
fail() { cat "$tmp/log" 2>/dev/null; echo "run_in_venv.sh: $*"; exit 1; }
if [ -d "$wheels" ] && "$python" -c 'import sys; sys.exit(sys.base_prefix != "/usr")'; then
  # Debian's python3: a venv without pip (quick), pip run from its wheel,
  # and the normal isolated build, its setuptools taken from the wheels.
  "$python" -m venv --without-pip "$venv" >"$tmp/log" 2>&1 ||
    fail "$python -m venv failed (apt-get install python3-venv)"
  pipwhl=$(ls "$wheels"/pip-*.whl 2>/dev/null | tail -n 1)
  [ -n "$pipwhl" ] || fail "no pip wheel in $wheels (apt-get install python3-pip-whl)"
  "$vpy" "$pipwhl/pip" --disable-pip-version-check --no-cache-dir -q install \
    --no-index --find-links "$wheels" "$pkg" >"$tmp/log" 2>&1 ||
    fail "pip install $pkg failed"
else
  # Another interpreter (pyenv, ...): Debian's setuptools wheel is patched
  # for Debian's python, so build with the venv's own setuptools, without
  # isolation (wheel, pure Python, from Debian's wheels if missing).
  "$python" -m venv "$venv" >"$tmp/log" 2>&1 || fail "$python -m venv failed"
  pip() { "$vpy" -m pip --disable-pip-version-check --no-cache-dir -q "$@" >"$tmp/log" 2>&1; }
  "$vpy" -c 'import setuptools' 2>/dev/null || pip install --no-index --find-links "$wheels" setuptools ||
    fail "no setuptools for $python"
  "$vpy" -c 'import wheel' 2>/dev/null || pip install --no-index --find-links "$wheels" wheel ||
    fail "no wheel for $python (apt-get install python3-wheel-whl)"
  pip install --no-index --no-build-isolation "$pkg" || fail "pip install $pkg failed"
fi
rm -rf "$tmp/src"

# libaigw into the venv's prefix, where the package looks first.
cmake --install "$build" --prefix "$venv" >"$tmp/log" 2>&1 || fail "cmake --install failed"

unset AIGW_LIBRARY PYTHONPATH AIGW_CONFIG
mkdir -p "$tmp/home" "$tmp/run"
cd "$tmp/run"
# AIGW_TEST_PATTERN: only the tests it names (unittest -k), e.g. TestReplay.
HOME=$tmp/home AIGW_TEST_INSTALLED=1 AIGW_TEST_VERSION=$version \
  "$vpy" -m unittest discover -s "$src/bindings/python/tests" -v ${AIGW_TEST_PATTERN:+-k "$AIGW_TEST_PATTERN"}

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds (if needed) and runs every libFuzzer target in fuzz/ for a while.
#
# Usage: scripts/run-fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  how long each target runs (default: $FUZZ_SECONDS, else 30)
#   TARGET   fuzz_* names to run (default: every fuzz/fuzz_*.c)
# Environment:
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz in the checkout)
#   FUZZ_SANITIZE   sanitizers for the whole build (default: address,undefined)
#   FUZZ_JOBS       parallel build jobs (default: 2)
#
# Each target fuzz_NAME starts from fuzz/corpus/NAME/ (if present), copied to
# a temporary working corpus so the checked-in seeds are never modified.
# Exits non-zero if any target fails to build or finds a crash; the failing
# input and the working corpus are then kept and their paths printed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-${FUZZ_SECONDS:-30}}
[ $# -gt 0 ] && shift
case $secs in
'' | *[!0-9]*)
  echo "run-fuzz: SECONDS must be a whole number, got '$secs'" >&2
  exit 2
  ;;
esac
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
sanitize=${FUZZ_SANITIZE-address,undefined}
jobs=${FUZZ_JOBS:-2}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    targets+=("$name")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz/fuzz_*.c targets" >&2
  exit 2
fi

# Configure every time (cheap): it picks up new fuzz/fuzz_*.c files.
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAIGW_BUILD_FUZZ=ON -DAIGW_BUILD_TESTS=OFF -DAIGW_BUILD_EXAMPLES=OFF \
  -DAIGW_BUILD_BENCH=OFF -DAIGW_SANITIZE="$sanitize" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/aigw-fuzz.XXXXXX")
failed=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  echo "=== $t: building"
  if ! cmake --build "$build" --target "$t" -j "$jobs"; then
    echo "=== $t: BUILD FAILED" >&2
    failed+=("$t (build)")
    continue
  fi
  bin="$build/fuzz/$t"
  corpus="$work/$name/corpus"
  mkdir -p "$corpus"
  if [ -d "$root/fuzz/corpus/$name" ]; then
    cp -R "$root/fuzz/corpus/$name/." "$corpus/"
  fi
  echo "=== $t: running for ${secs}s (corpus: $(ls "$corpus" | wc -l) seeds)"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$work/$name/" "$corpus" >"$work/$name/log" 2>&1; then
    tail -n 12 "$work/$name/log" | grep -E '^(stat::|#[0-9]+ +DONE|Done)' || true
    echo "=== $t: ok ($(ls "$corpus" | wc -l) inputs in the corpus)"
  else
    tail -n 40 "$work/$name/log" >&2
    echo "=== $t: FAILED; log and artifacts in $work/$name/" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz: failed: ${failed[*]} (kept $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "run-fuzz: all ${#targets[@]} target(s) ran ${secs}s without a failure"

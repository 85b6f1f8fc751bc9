#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Compares the dynamic symbols libaigw exports with the checked-in list.
# Usage: check-symbols.sh LIBAIGW.so EXPECTED.txt
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/actual"
grep -v '^#' "$2" | sort -u > "$tmp/expected"
if ! diff -u "$tmp/expected" "$tmp/actual"; then
  echo "exported symbols differ from $2 (- expected, + actual)"
  exit 1
fi
echo "1 passed, 0 failed"

#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every examples/config/*.json passes `aigw-cli config check`, with the
# environment variables it references ("${NAME}" and "…_env": "NAME") set to
# dummy values and nothing else from the caller's environment (no real
# keys, no ~/.aws). Then a copy with one misspelt key must fail, so the check
# itself is known to bite.
# Usage: check-example-configs.sh AIGW-CLI EXAMPLES/CONFIG-DIR
set -eu
cli=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A value of the right shape for names that need one; any string otherwise.
dummy() {
  case $1 in
  *_ENDPOINT | *_URL) echo "https://example-resource.openai.azure.com" ;;
  *_HOST) echo "127.0.0.1" ;;
  *) echo "dummy-$1" ;;
  esac
}

passed=0
failed=0
set -- "$dir"/*.json
[ -e "$1" ] || { echo "no configs in $dir"; exit 1; }
for f in "$@"; do
  names=$( (grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*\}' "$f" | tr -d '${}'
            grep -oE '"([a-z_]+_)?env"[[:space:]]*:[[:space:]]*"[A-Za-z_][A-Za-z0-9_]*"' "$f" |
              sed 's/.*"\([A-Za-z0-9_]*\)"$/\1/') | sort -u)
  set -- env -i PATH=/usr/bin:/bin HOME="$tmp"
  for n in $names; do
    set -- "$@" "$n=$(dummy "$n")"
  done
  if out=$("$@" "$cli" config check -v "$f" 2>&1); then
    echo "ok: $out"
    passed=$((passed + 1))
  else
    echo "FAILED: $f: $out (environment: $(echo $names))"
    failed=$((failed + 1))
  fi
  # The same file with its first key misspelt is refused.
  sed '0,/"\([a-z_]*\)":/s//"\1x":/' "$f" > "$tmp/broken.json"
  if "$@" "$cli" config check "$tmp/broken.json" > "$tmp/out" 2>&1 ||
    ! grep -q 'unknown key' "$tmp/out"; then
    echo "FAILED: a misspelt key in $f was not refused: $(cat "$tmp/out")"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

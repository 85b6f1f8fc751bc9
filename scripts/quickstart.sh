#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds libaigw and aigw-cli, and runs one chat:
# against OpenAI when OPENAI_API_KEY is set, else against the offline mock
# provider. Usage: scripts/quickstart.sh ["your prompt"]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ -n "${OPENAI_API_KEY:-}" ]; then model=${AIGW_MODEL:-openai/gpt-4o-mini}; else model=mock/echo; fi
echo "aigw-cli chat -m $model:" >&2
exec ./build/cli/aigw-cli chat --usage -m "$model" "${1:-Hello from libaigw! Tell me one fun fact about C.}" </dev/null

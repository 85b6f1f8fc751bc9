#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the tests that replay the recorded OpenAI traffic (the command
# selects them, e.g. a Criterion executable with --filter '*/replay_*');
# exits 77, which ctest reports as skipped, when the recordings are absent
# (a clone with nothing beside it).
# Usage: run-replay.sh RECORDINGS_DIR COMMAND [ARGS...]
set -eu
dir=$1
shift
if [ ! -f "$dir/chat-basic.yaml" ]; then
    echo "skipped: the recorded OpenAI traffic is not at $dir" \
        "(set -DAIGW_RECORDINGS_DIR=... to replay it)"
    exit 77
fi
exec "$@"

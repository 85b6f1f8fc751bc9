#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# contrib/systemd/aigw.service passes `systemd-analyze verify` without a
# single message (unknown or misspelt directives are only warnings there, so
# any output fails), and its sandbox keeps the exposure score of
# `systemd-analyze security` at 2.0 or below. verify needs the binaries the
# unit runs to exist: a copy of the unit runs the built aigw-cli instead of
# /usr/local/bin/aigw-cli. Exits 77 (skipped) only when systemd-analyze is
# not installed (scripts/install-deps.sh installs the systemd package).
# Usage: check-systemd-unit.sh UNIT AIGW-CLI
set -eu
unit=$1
cli=$2
if ! command -v systemd-analyze > /dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$unit")
sed "s#/usr/local/bin/aigw-cli#$cli#g" "$unit" > "$tmp/$name"
grep -q "^ExecStart=$cli serve --config /etc/aigw/config.json\$" "$tmp/$name" || {
  echo "FAILED: ExecStart of $unit is not /usr/local/bin/aigw-cli serve --config /etc/aigw/config.json"
  exit 1
}

failed=0
if ! systemd-analyze verify "$tmp/$name" > "$tmp/verify" 2>&1 || [ -s "$tmp/verify" ]; then
  echo "FAILED: systemd-analyze verify $name:"
  cat "$tmp/verify"
  failed=1
else
  echo "ok: systemd-analyze verify $name"
fi

# Required settings (a weakened unit fails even if it still verifies).
for want in DynamicUser=yes ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
  PrivateTmp=yes PrivateDevices=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  SystemCallFilter=@system-service CapabilityBoundingSet= 'ExecReload=/bin/kill -HUP $MAINPID' \
  Restart=on-failure KillSignal=SIGTERM; do
  if ! grep -qxF "$want" "$tmp/$name"; then
    echo "FAILED: $name lacks the line $want"
    failed=1
  fi
done

# TimeoutStopSec leaves room for serve's default shutdown_timeout_ms (30 s).
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$tmp/$name")
if [ -z "$stop" ] || [ "$stop" -le 30 ]; then
  echo "FAILED: TimeoutStopSec must be above the 30 s default shutdown timeout (got '$stop')"
  failed=1
fi

if systemd-analyze security --offline=true --threshold=20 "$tmp/$name" > "$tmp/security" 2>&1; then
  echo "ok: $(grep -o 'Overall exposure level.*' "$tmp/security")"
else
  echo "FAILED: systemd-analyze security: exposure above 2.0:"
  grep -v '^✓' "$tmp/security"
  failed=1
fi
[ "$failed" -eq 0 ] && echo "1 passed, 0 failed"
exit "$failed"

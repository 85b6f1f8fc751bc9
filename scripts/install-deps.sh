#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs libaigw's build and test dependencies from Debian packages.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format
  libcurl4-openssl-dev libjson-c-dev libssl-dev libuv1-dev
  zlib1g-dev libxml2-dev libhiredis-dev redis-server libcriterion-dev libhttp-parser-dev libyaml-dev python3-yaml
  python3 python3-venv python3-pip-whl python3-setuptools-whl python3-wheel-whl
  python3-mypy valgrind curl ca-certificates
  systemd  # systemd-analyze checks contrib/systemd/aigw.service
  # `pkg-config --static --libs aigw` (tests/check-install.sh links the
  # static libaigw.a so) names the libraries libcurl, libxml2 and OpenSSL
  # link themselves: their -dev packages give the linker their .so/.a.
  libnghttp2-dev libidn2-dev librtmp-dev libssh2-1-dev libpsl-dev libkrb5-dev libldap-dev
  libzstd-dev libbrotli-dev libicu-dev liblzma-dev
  go-md2man groff-base man-db  # the man page, aigw-cli.1, from docs/cli.md
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

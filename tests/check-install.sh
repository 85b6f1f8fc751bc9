#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the build into a temporary prefix, then builds and runs a consumer
# through find_package(aigw) (shared and static) and through pkg-config.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -L "$tmp/prefix/lib/libaigw.so.0" || { echo "no soname link libaigw.so.0"; exit 1; }
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer/consumer_shared"
"$tmp/consumer/consumer_static"
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc "$src/tests/install/consumer.c" -o "$tmp/pc" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs aigw)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc"
echo "1 passed, 0 failed"

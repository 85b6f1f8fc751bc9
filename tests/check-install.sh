#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the build into a temporary prefix, then checks what a consumer
# sees there:
#   - the files: headers with the generated version.h (not its template),
#     aigw.pc and aigw-async.pc, the CMake package, share/doc/aigw/LICENSE;
#   - <aigw/aigw.h> alone, as strict C11 (-std=c11 -pedantic -Werror -Wall
#     -Wextra, no feature macros), pulls in no <uv.h>, and aigw.pc requires
#     nothing public;
#   - tests/install/consumer.c (sync, C11) and consumer_async.cpp (C++17,
#     <aigw/aigw.h> + <aigw/async.h>, a chat and a stream on a uv loop),
#     each built and run through find_package(aigw) (shared and static
#     targets) and through pkg-config (shared, and --static against a
#     prefix holding only libaigw.a), with cc/c++ and clang/clang++ when
#     present.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "check-install: $*" >&2
  exit 1
}
flags_c="-std=c11 -pedantic -Werror -Wall -Wextra"
flags_cxx="-std=c++17 -pedantic -Werror -Wall -Wextra"
# Static executables must not load libaigw.so.
no_libaigw_so() {
  if readelf -d "$1" | grep -q 'NEEDED.*libaigw'; then fail "$1 needs libaigw.so"; fi
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

# ---- what is installed
test -L "$prefix/lib/libaigw.so.0" || fail "no soname link libaigw.so.0"
test -f "$prefix/lib/libaigw.a" || fail "no libaigw.a"
cmp -s "$src/LICENSE" "$prefix/share/doc/aigw/LICENSE" || fail "share/doc/aigw/LICENSE missing or different"
test -f "$prefix/include/aigw/version.h" || fail "no generated aigw/version.h"
test ! -e "$prefix/include/aigw/version.h.in" || fail "the version.h template is installed"
grep -q '^#define AIGW_VERSION_STRING "[0-9]*\.[0-9]*\.[0-9]*"$' "$prefix/include/aigw/version.h" ||
  fail "version.h has no AIGW_VERSION_STRING"
grep -q '@' "$prefix/include/aigw/version.h" "$prefix"/lib/pkgconfig/*.pc && fail "an unsubstituted @VAR@"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pc_version=$(pkg-config --modversion aigw)
grep -q "AIGW_VERSION_STRING \"$pc_version\"" "$prefix/include/aigw/version.h" ||
  fail "aigw.pc's version $pc_version is not version.h's"
test -z "$(pkg-config --print-requires aigw)" || fail "aigw.pc has public Requires: $(pkg-config --print-requires aigw)"
pkg-config --print-requires aigw-async | grep -q '^libuv' || fail "aigw-async.pc does not require libuv"
grep -q '^Description:.*Apache-2.0' "$prefix/lib/pkgconfig/aigw.pc" || fail "aigw.pc does not name the licence"

# ---- <aigw/aigw.h> needs only the C library
inc=$(pkg-config --cflags aigw)
# shellcheck disable=SC2086
cc $flags_c $inc -E "$src/tests/install/consumer.c" | grep -E '/(uv|uv/[a-z-]*|curl/curl|json-c/json)\.h"' &&
  fail "<aigw/aigw.h> includes a third-party header"

c_compilers=cc
cxx_compilers="c++"
command -v clang >/dev/null && c_compilers="$c_compilers clang"
command -v clang++ >/dev/null && cxx_compilers="$cxx_compilers clang++"

# ---- find_package(aigw)
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer/consumer_shared"
LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer/consumer_async_shared"
for e in consumer_static consumer_async_static; do
  no_libaigw_so "$tmp/consumer/$e"
  "$tmp/consumer/$e"
done

# ---- pkg-config, shared
for c in $c_compilers; do
  # shellcheck disable=SC2086,SC2046
  $c $flags_c "$src/tests/install/consumer.c" -o "$tmp/pc-$c" $(pkg-config --cflags --libs aigw)
  LD_LIBRARY_PATH="$prefix/lib" "$tmp/pc-$c"
done
for c in $cxx_compilers; do
  # shellcheck disable=SC2086,SC2046
  $c $flags_cxx "$src/tests/install/consumer_async.cpp" -o "$tmp/pcx-$c" $(pkg-config --cflags --libs aigw-async)
  LD_LIBRARY_PATH="$prefix/lib" "$tmp/pcx-$c"
done

# ---- pkg-config --static, against a prefix with libaigw.a alone
cp -a "$prefix" "$tmp/static"
rm -f "$tmp/static"/lib/libaigw.so*
export PKG_CONFIG_PATH="$tmp/static/lib/pkgconfig"
# Without --static the private dependencies are missing: the link fails.
# shellcheck disable=SC2086,SC2046
if cc $flags_c "$src/tests/install/consumer.c" -o "$tmp/st-bad" $(pkg-config --cflags --libs aigw) 2>/dev/null; then
  fail "libaigw.a linked without pkg-config --static: is it really static?"
fi
for c in $c_compilers; do
  # shellcheck disable=SC2086,SC2046
  $c $flags_c "$src/tests/install/consumer.c" -o "$tmp/st-$c" $(pkg-config --static --cflags --libs aigw)
  no_libaigw_so "$tmp/st-$c"
  "$tmp/st-$c"
done
# shellcheck disable=SC2086,SC2046
c++ $flags_cxx "$src/tests/install/consumer_async.cpp" -o "$tmp/stx" $(pkg-config --static --cflags --libs aigw-async)
no_libaigw_so "$tmp/stx"
"$tmp/stx"
echo "1 passed, 0 failed"

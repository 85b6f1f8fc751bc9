#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# aigw-cli's man page and shell completion: the page (made from
# docs/cli.md at build time) renders without a warning, the bash completion
# parses and completes commands and options, the zsh one parses (when zsh
# is installed), and `cmake --install` puts all three where man, bash and
# zsh look. Exits 77 (skipped) when the build has no man page because
# go-md2man was not installed.
# Usage: check-cli-extras.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- bash completion ----
bash_comp=$src/contrib/completion/aigw-cli.bash
bash -n "$bash_comp" || fail "bash -n $bash_comp"
complete_line() { # words... -> the completions, space-separated
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _aigw_cli;
           echo "${COMPREPLY[*]}"' _ "$bash_comp" "$@"
}
got=$(complete_line aigw-cli "")
[ "$got" = "chat embed models serve config budgets help" ] || fail "commands: '$got'"
got=$(complete_line aigw-cli -v "")
[ "$got" = "chat embed models serve config budgets help" ] || fail "commands after -v: '$got'"
got=$(complete_line aigw-cli e)
[ "$got" = "embed" ] || fail "e: '$got'"
for want in --model --system --no-stream --option --request --max-input --header --config; do
  case " $(complete_line aigw-cli chat --) " in *" $want "*) ;; *) fail "chat -- lacks $want" ;; esac
done
got=$(complete_line aigw-cli serve --a)
[ "$got" = "--allow-open" ] || fail "serve --a: '$got'"
got=$(complete_line aigw-cli config "")
[ "$got" = "check" ] || fail "config: '$got'"
got=$(PATH="$build/cli:$PATH" complete_line aigw-cli chat -m mock/)
[ "$got" = "mock/echo mock/embed" ] || fail "models: '$got'"

# ---- zsh completion: syntax only, when zsh is there ----
if command -v zsh >/dev/null; then
  zsh -n "$src/contrib/completion/_aigw-cli" || fail "zsh -n _aigw-cli"
else
  echo "zsh not installed: _aigw-cli not checked"
fi

# ---- the man page ----
page=$build/cli/aigw-cli.1
if [ ! -f "$page" ]; then
  if grep -q '^GO_MD2MAN:FILEPATH=.*NOTFOUND' "$build/CMakeCache.txt"; then
    echo "go-md2man not installed: no man page to check"
    exit 77
  fi
  fail "no man page at $page"
fi
grep -q '^\.TH AIGW-CLI 1 ' "$page" || fail "no .TH line in $page"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$page" >"$tmp/page.txt" 2>"$tmp/man.err" || fail "man -l: $(cat "$tmp/man.err")"
  [ ! -s "$tmp/man.err" ] || fail "man -l warns: $(cat "$tmp/man.err")"
  for want in "max-input" "allow-open" "--request FILE"; do
    grep -q -- "$want" "$tmp/page.txt" || fail "the page lacks '$want'"
  done
fi
groff -man -Tutf8 -t -k -ww -z "$page" 2>"$tmp/groff.err" || fail "groff: $(cat "$tmp/groff.err")"
[ ! -s "$tmp/groff.err" ] || fail "groff warns: $(cat "$tmp/groff.err")"

# ---- installed where man, bash-completion and zsh look ----
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in share/man/man1/aigw-cli.1 share/bash-completion/completions/aigw-cli \
  share/zsh/site-functions/_aigw-cli bin/aigw-cli; do
  [ -f "$tmp/prefix/$f" ] || fail "not installed: $f"
done
cmp -s "$page" "$tmp/prefix/share/man/man1/aigw-cli.1" || fail "installed page differs"
echo "1 passed, 0 failed"

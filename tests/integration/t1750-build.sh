#!/bin/bash
# t1750 — the build: the whole tree (programs, unit runners, test tools)
# builds with clang under the project's -Werror warning set into a build
# dir of its own; a second `make` then has nothing to do (`make -q`
# succeeds, `make -n` prints nothing: no object deleted as an intermediate,
# no stamp rebuilt every time); an object older than its source is the only
# thing rebuilt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need make clang ar pkg-config

src=$(realpath "$(dirname "$0")/../..")
out=$T/build-clang
mk() { make -C "$src" --no-print-directory CC=clang B="$out" "$@"; }

step "make CC=clang B=$out (warnings are errors)"
run_capture mk -j2 all
((RC == 0)) || { _show "$(grep -E -B2 -A4 'error|warning' <<<"$OUT" | head -n 60)"; fail "clang build failed (exit $RC)"; }
for p in mkfs.csvfs fsck.csvfs csvfsd mount.csvfs csvfsctl; do
	[[ -x "$out/$p" ]] || fail "clang build made no $p"
done

step "the unit runners' and tools' objects are kept"
for f in "$src"/tests/unit/*_test.c "$src"/tests/tools/*.c; do
	o=$out/${f#"$src"/}
	o=${o%.c}.o
	[[ -f "$o" ]] || fail "$o was deleted after the build (an intermediate?)"
done

step "a second make has nothing to do"
run_capture mk -q all
((RC == 0)) || { _show "$(mk -n all 2>&1 | head -n 20)"; fail "make -q: exit $RC (something is out of date)"; }
run_capture mk -n -s all
assert_eq "" "$OUT" "make -n -s output on an up-to-date tree"

step "an object older than its source is all that is rebuilt"
touch -d '2000-01-01' "$out/meta/extent.o"
run_capture mk -n -s all
assert_match 'meta/extent\.c' "$OUT" "make -n rebuilds meta/extent.o"
n=$(grep -c -E '(^| )-c ' <<<"$OUT" || true)
assert_eq 1 "$n" "objects make -n would compile"

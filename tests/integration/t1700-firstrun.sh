#!/bin/bash
# t1700 — first run on a bare machine: every top-level make target that
# builds (demo, check, check-asan, bench, install, deb, fuzz, fuzz-smoke,
# torture) must compile in a make started after `deps` installed the
# build packages. The Makefile computes its pkg-config flags when make
# starts; a target that builds in the same make as `deps` compiles without
# them and fails with "fuse_lowlevel.h: No such file or directory".
#
# Each target runs for real in a copy of the source tree where
#   - pkg-config (first in PATH) fails, as for a missing libfuse3-dev,
#     until the deps step has run (a stamp file), then prints marker flags;
#   - CC is a fake compiler that fails unless the compile and link lines
#     carry those markers (flags computed after deps); FUZZ_CC fails unless
#     deps ran before it;
#   - scripts/install-deps.sh, the test runners, benchmarks, the demo and
#     dpkg-buildpackage/lintian are stubs that record that they ran.
# timeout: 900
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need make ar tar

SRC=$(cd "$(dirname "$0")/../.." && pwd)
FAKE=$T/fakebin
STAMP=$T/deps-ran
LOG=$T/ran.log
mkdir -p "$FAKE"

step "fake tools"
cat >"$FAKE/pkg-config" <<EOF
#!/bin/sh
# no .pc files until deps has run, like a bare machine
[ -e '$STAMP' ] || { echo "pkg-config: package not found" >&2; exit 1; }
case " \$* " in
*" --cflags "*) echo "-DCSVFS_FIRSTRUN_PKG" ;;
*" --libs "*) echo "-lcsvfs_firstrun_pkg" ;;
esac
exit 0
EOF
# CC: writes empty objects and runnable stub programs, after checking that
# the pkg-config flags are on the command line.
cat >"$FAKE/cc" <<EOF
#!/bin/bash
out="" compile=0
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
	case \${args[i]} in
	-c) compile=1 ;;
	-o) out=\${args[i + 1]} ;;
	esac
done
if ((compile)); then
	[[ " \$* " == *" -DCSVFS_FIRSTRUN_PKG "* ]] || {
		echo "fake cc: compile without pkg-config cflags: \$*" | tee -a '$LOG' >&2
		exit 1
	}
	: >"\$out"
else
	[[ " \$* " == *" -lcsvfs_firstrun_pkg "* ]] || {
		echo "fake cc: link without pkg-config libs: \$*" | tee -a '$LOG' >&2
		exit 1
	}
	printf '#!/bin/sh\nexit 0\n' >"\$out" && chmod +x "\$out"
fi
EOF
cat >"$FAKE/clang" <<EOF
#!/bin/bash
[[ -e '$STAMP' ]] || { echo "fake clang: run before deps: \$*" | tee -a '$LOG' >&2; exit 1; }
out=""
while (( \$# )); do [[ \$1 == -o ]] && out=\$2; shift; done
printf '#!/bin/sh\nexit 0\n' >"\$out" && chmod +x "\$out"
EOF
for tool in dpkg-buildpackage lintian; do
	cat >"$FAKE/$tool" <<EOF
#!/bin/sh
[ -e '$STAMP' ] || { echo "fake $tool: run before deps" | tee -a '$LOG' >&2; exit 1; }
echo "ran $tool" >>'$LOG'
EOF
done
chmod +x "$FAKE"/*

# A fresh copy of the tree with the stubs; no build dirs.
fresh_tree() {
	rm -rf "$T/src" "$STAMP"
	: >"$LOG"
	mkdir -p "$T/src"
	tar -C "$SRC" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$T/src" -xf -
	printf '#!/bin/sh\ntouch %q\necho ran deps >>%q\n' "$STAMP" "$LOG" \
		>"$T/src/scripts/install-deps.sh"
	local s
	for s in scripts/demo.sh tests/run-integration.sh \
		tests/integration/t3000-crash.sh \
		$(cd "$T/src" && ls tests/bench/*.sh); do
		printf '#!/bin/sh\necho ran %s >>%q\n' "$s" "$LOG" >"$T/src/$s"
		chmod +x "$T/src/$s"
	done
}

run_target() {
	local target=$1
	shift
	fresh_tree
	run_capture env PATH="$FAKE:$PATH" make -C "$T/src" "$target" \
		CC="$FAKE/cc" FUZZ_CC="$FAKE/clang" "$@"
	if ((RC != 0)); then
		printf 'FAIL: make %s on a bare machine failed (exit %s)\n' "$target" "$RC" >&2
		_show "$OUT"
		fail "make $target did not build in a make started after deps"
	fi
	[[ -e "$STAMP" ]] || fail "make $target never ran deps"
	assert_eq "ran deps" "$(head -n 1 "$LOG")" "make $target: deps ran first"
}

step "the sanity of the fakes: a make started before deps fails"
fresh_tree
run_capture env PATH="$FAKE:$PATH" make -C "$T/src" all CC="$FAKE/cc"
((RC != 0)) || fail "make all without deps succeeded: the fake pkg-config is not used"
assert_match 'without pkg-config cflags' "$OUT" "fake cc refuses flags computed before deps"

# target, then what it must have run after building
for spec in demo:scripts/demo.sh bench:tests/bench/handoff.sh \
	check:tests/run-integration.sh check-asan:tests/run-integration.sh \
	torture:tests/integration/t3000-crash.sh; do
	target=${spec%%:*}
	step "make $target"
	run_target "$target" FUZZ_TIME=1
	[[ -x "$T/src/build/csvfsd" || -x "$T/src/build-asan/csvfsd" ]] ||
		fail "make $target built no csvfsd"
	assert_match "ran ${spec#*:}" "$(cat "$LOG")" "make $target ran ${spec#*:}"
	info "$(tr '\n' ';' <"$LOG")"
done

step "make install"
run_target install DESTDIR="$T/root" PREFIX=/usr
for p in usr/sbin/mkfs.csvfs usr/sbin/fsck.csvfs usr/sbin/csvfsd \
	sbin/mount.csvfs usr/sbin/csvfsctl; do
	[[ -x "$T/root/$p" ]] || fail "make install did not install /$p"
done

for target in fuzz fuzz-smoke; do
	step "make $target"
	run_target "$target" FUZZ_TIME=1
	[[ -x "$T/src/build-fuzz/msg_fuzz" ]] || fail "make $target built no msg_fuzz"
done

step "make deb"
run_target deb
assert_match 'ran dpkg-buildpackage' "$(cat "$LOG")" "make deb ran dpkg-buildpackage"
step "done"

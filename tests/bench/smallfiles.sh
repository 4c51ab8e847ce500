#!/bin/bash
# bench/smallfiles.sh — space and time of a tree of small files: a tar of
# /usr/include (thousands of headers) is extracted onto a fresh volume with
# 1, 4 and 8 MiB blocks, by this build and by the build of the format
# before sub-blocks (the base), in the same run. Not a test: it prints
# figures and PASS/MISS against the targets (space used / apparent size
# <= 1.3x; extraction no slower than the base), and fails only when it
# cannot measure.
#
#   tests/bench/smallfiles.sh BUILD_DIR [--quick] [--base DIR]
#
# Space used is the volume's used space after the extraction (csvfsctl df:
# data, sub-blocks, inodes, directories, chunk headers) minus what a fresh
# volume uses; the apparent size is the sum of the regular files' sizes.
# The base build is made from the parent of the commit that introduced
# format 2 (git archive + make, in the temp dir) unless --base names a
# build dir. --quick: 1 MiB blocks only.
set -euo pipefail

usage() {
	echo "usage: $0 BUILD_DIR [--quick] [--base DIR]" >&2
	exit 2
}
quick=0
bdir=
base=
while (($#)); do
	case $1 in
	--quick) quick=1 ;;
	--base) base=${2:-}; shift ;;
	-*) usage ;;
	*) if [[ -z "$bdir" ]]; then bdir=$1; else usage; fi ;;
	esac
	shift
done
[[ -n "$bdir" && -d "$bdir" ]] || usage
CSVFS_BIN=$(realpath "$bdir")
export CSVFS_BIN
src=$(dirname "$(realpath "$0")")/../..
# shellcheck source=../integration/lib.sh
source "$src/tests/integration/lib.sh"
TEST_NAME=bench-smallfiles
tmp_setup
need python3 tar git make
results=$CSVFS_BIN/bench-results
mkdir -p "$results"
out=$results/smallfiles.txt
: >"$out"

step "the tree: /usr/include"
[[ -d /usr/include ]] || fail "/usr/include is missing (package libc6-dev)"
tar -C /usr -cf "$T/tree.tar" include
read -r nfiles apparent < <(python3 - <<'EOF'
import os
n = s = 0
for d, _, fs in os.walk("/usr/include"):
    for f in fs:
        p = os.path.join(d, f)
        if os.path.isfile(p) and not os.path.islink(p):
            n += 1
            s += os.path.getsize(p)
print(n, s)
EOF
)
info "$nfiles files, $apparent bytes"

if [[ -z "$base" ]]; then
	step "building the base (the format before sub-blocks)"
	intro=$(git -C "$src" log --reverse --format=%H \
		-S'CSVFS_VERSION_MAJOR	2' -- include/csvfs/ondisk.h | head -1)
	[[ -n "$intro" ]] || fail "cannot find the commit that introduced format 2"
	mkdir -p "$T/base-src"
	git -C "$src" archive "$intro^" | tar -x -C "$T/base-src"
	make -C "$T/base-src" -j2 >"$T/base-build.log" 2>&1 ||
		{ tail -20 "$T/base-build.log"; fail "building the base failed"; }
	base=$T/base-src/build
	info "base: $(git -C "$src" log -1 --format='%h %s' "$intro^")"
fi
base=$(realpath "$base")

# used_bytes of the mount at $1, with csvfsctl of build $2
used() {
	"$2/csvfsctl" --json df "$1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["used_bytes"])'
}

# run BUILD BLOCK: sets RUN_USED (bytes) and RUN_SECS
run() {
	local bin=$1 bs=$2 img=$T/vol.img m=$T/mnt pid u0 u1 t0 t1 prev
	rm -f "$img"
	truncate -s 64G "$img"
	"$bin/mkfs.csvfs" -b "$bs" "$img" >/dev/null
	mkdir -p "$m"
	_MOUNTS+=("$m")
	rm -f "$T/pid"
	"$bin/csvfsd" "$img" "$m" -o "pidfile=$T/pid" ||
		fail "$bin/csvfsd did not mount"
	wait_for 200 mountpoint -q "$m" || fail "$m not mounted"
	wait_for 50 test -s "$T/pid"
	pid=$(cat "$T/pid")
	_PIDS+=("$pid")
	u0=$(used "$m" "$bin")
	t0=$(date +%s.%N)
	tar -C "$m" -xf "$T/tree.tar"
	t1=$(date +%s.%N)
	# the blocks allocated ahead of writers go back after the last close
	prev=-1
	u1=$(used "$m" "$bin")
	while [[ "$u1" != "$prev" ]]; do
		prev=$u1
		sleep 2
		u1=$(used "$m" "$bin")
	done
	umount "$m"
	# under load the daemon may take long to answer the kernel's forgets
	wait_for 6000 eval '! kill -0 '"$pid"' 2>/dev/null' ||
		fail "csvfsd $pid still running 10 minutes after unmounting"
	RUN_USED=$((u1 - u0))
	RUN_SECS=$(python3 -c "print($t1 - $t0)")
}

sizes=(1M 4M 8M)
((quick)) && sizes=(1M)
printf '%-6s %14s %8s %9s %14s %8s %9s %9s\n' block used ratio time \
	base-used base-r base-time time/base | tee -a "$out"
miss=0
for bs in "${sizes[@]}"; do
	step "$bs blocks: this build"
	run "$CSVFS_BIN" "$bs"
	u=$RUN_USED s=$RUN_SECS
	step "$bs blocks: the base"
	run "$base" "$bs"
	bu=$RUN_USED bt=$RUN_SECS
	line=$(python3 - "$bs" "$u" "$s" "$bu" "$bt" "$apparent" <<'EOF'
import sys
bs, u, s, bu, bt, app = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
r, br, tr = u / app, bu / app, s / bt
ok = "PASS" if r <= 1.3 else "MISS"
tok = "PASS" if tr <= 1.0 else "MISS"
print("%-6s %14d %7.2fx %8.1fs %14d %7.2fx %8.1fs %8.2fx  space<=1.3x %s, time<=base %s"
      % (bs, u, r, s, bu, br, bt, tr, ok, tok))
EOF
)
	echo "$line" | tee -a "$out"
	[[ "$line" == *MISS* ]] && miss=1
done
info "results in $out"
((miss)) && info "some targets missed (see above)"
exit 0

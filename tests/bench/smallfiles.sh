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
# What is counted. "used" is the volume's used space after the extraction
# (csvfsctl df, statfs in 4 KiB units: file data in sub-blocks and large
# blocks, one 4 KiB inode per file, directory and symlink, directory
# blocks, extent blocks, chunk headers) minus what a fresh volume uses;
# "ratio" is used / apparent, the apparent size being the sum of the
# regular files' sizes (du --apparent-size counts directories too; this
# does not). Two more figures say where it comes from: "floor" is what
# the format needs at least (a 4 KiB inode per entry, plus every file
# above the inline limit rounded up to 4 KiB units) over apparent, and
# "du" is what du(1) sees on the mount (st_blocks: a file's sub-blocks or
# large blocks, an inline file its inode, a directory nothing) over
# apparent: the measure in which ext4 pays about 1.1x (ext4 counts its
# inode tables as overhead, not as used). A directory takes its inode and
# two more 4 KiB blocks (0.06x on /usr/include): in "ratio", not in the
# floor. The last partial 4 KiB of a file in sub-blocks lives in its
# inode (a tail, include/csvfs/ondisk.h) when it fits there and at least
# one whole unit precedes it: the floor counts that too.
# Time: the extraction (tar -x) alone, this build and the base
# alternating (which goes first alternates too: the first run of a round
# follows the removal of the previous image), BENCH_ROUNDS times each
# (default 3); "time" and
# "base-time" are the medians, "time/base" the median of the rounds'
# ratios (each round's two runs back to back, so that a load that comes
# and goes on this machine touches both alike).
# The base build is the newest ancestor without format 2 (for a branch:
# the main it last merged; for main: the commit before the merge of
# sub-blocks), built from git archive in the temp dir, unless --base
# names a build dir. --quick: 1 MiB blocks only.
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
read -r nfiles apparent nino floor < <(python3 - <<'EOF'
import os
n = s = ino = floor = 0
U, INL, TAIL = 4096, 2816, 3816  # unit; CSVFS_INLINE_MAX; CSVFS_TAIL_MAX
for d, ds, fs in os.walk("/usr/include"):
    ino += 1
    for f in fs:
        p = os.path.join(d, f)
        ino += 1
        if os.path.isfile(p) and not os.path.islink(p):
            n += 1
            z = os.path.getsize(p)
            s += z
            if z > INL:
                # whole units; the last partial one is a tail in the
                # inode when it fits and a unit stays before it
                if z // U and 0 < z % U <= TAIL:
                    floor += z // U * U
                else:
                    floor += (z + U - 1) // U * U
print(n, s, ino, floor + ino * U)
EOF
)
info "$nfiles files, $apparent bytes, $nino inodes"

if [[ -z "$base" ]]; then
	step "building the base (the format before sub-blocks)"
	intro=$(git -C "$src" log --reverse --format=%H \
		-S'CSVFS_VERSION_MAJOR	2' -- include/csvfs/ondisk.h | head -1)
	[[ -n "$intro" ]] || fail "cannot find the commit that introduced format 2"
	# the newest parent of a merge that does not hold format 2 yet
	bcommit=
	for mc in $(git -C "$src" rev-list --merges HEAD); do
		for p in $(git -C "$src" rev-list --parents -n 1 "$mc" | cut -d' ' -f2-); do
			if ! git -C "$src" merge-base --is-ancestor "$intro" "$p"; then
				bcommit=$p
				break 2
			fi
		done
	done
	[[ -n "$bcommit" ]] || bcommit=$(git -C "$src" rev-parse "$intro^")
	mkdir -p "$T/base-src"
	git -C "$src" archive "$bcommit" | tar -x -C "$T/base-src"
	make -C "$T/base-src" -j2 >"$T/base-build.log" 2>&1 ||
		{ tail -20 "$T/base-build.log"; fail "building the base failed"; }
	base=$T/base-src/build
	info "base: $(git -C "$src" log -1 --format='%h %s' "$bcommit")"
fi
base=$(realpath "$base")

# used_bytes of the mount at $1, with csvfsctl of build $2
used() {
	"$2/csvfsctl" --json df "$1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["used_bytes"])'
}

# run BUILD BLOCK: sets RUN_USED (bytes), RUN_DU (bytes) and RUN_SECS
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
	RUN_DU=$(du -s --block-size=1 "$m" | cut -f1)
	umount "$m"
	# under load the daemon may take long to answer the kernel's forgets
	wait_for 6000 eval '! kill -0 '"$pid"' 2>/dev/null' ||
		fail "csvfsd $pid still running 10 minutes after unmounting"
	RUN_USED=$((u1 - u0))
	RUN_SECS=$(python3 -c "print($t1 - $t0)")
}

sizes=(1M 4M 8M)
((quick)) && sizes=(1M)
rounds=${BENCH_ROUNDS:-3}
printf '%-6s %12s %7s %6s %6s %8s %8s %14s %8s %6s %9s\n' block used ratio \
	du floor time base-time base-used base-r rounds time/base | tee -a "$out"
miss=0
for bs in "${sizes[@]}"; do
	ts=() bts=()
	for ((i = 1; i <= rounds; i++)); do
		# which build goes first alternates too: the first run of a
		# round follows the removal of the previous image
		for who in $( ((i % 2)) && echo this base || echo base this); do
			step "$bs blocks, round $i: $who"
			if [[ $who == this ]]; then
				run "$CSVFS_BIN" "$bs"
				u=$RUN_USED ud=$RUN_DU
				ts+=("$RUN_SECS")
			else
				run "$base" "$bs"
				bu=$RUN_USED
				bts+=("$RUN_SECS")
			fi
		done
		info "round $i: ${ts[-1]} s this build, ${bts[-1]} s the base"
	done
	line=$(python3 - "$bs" "$u" "$ud" "$bu" "$apparent" "$floor" \
		"${ts[*]}" "${bts[*]}" <<'EOF'
import sys
bs = sys.argv[1]
u, ud, bu, app, floor = (int(x) for x in sys.argv[2:7])
ts = [float(x) for x in sys.argv[7].split()]
bts = [float(x) for x in sys.argv[8].split()]
def median(v):
    v = sorted(v)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2
s, bt = median(ts), median(bts)
r, tr = u / app, median([a / b for a, b in zip(ts, bts)])
ok = "PASS" if r <= 1.3 else "MISS"
tok = "PASS" if tr <= 1.0 else "MISS"
print("%-6s %12d %6.2fx %5.2fx %5.2fx %7.1fs %7.1fs %14d %7.2fx %6d %8.2fx"
      "  space<=1.3x %s, time<=base %s"
      % (bs, u, r, ud / app, floor / app, s, bt, bu, bu / app, len(ts),
         tr, ok, tok))
EOF
)
	echo "$line" | tee -a "$out"
	[[ "$line" == *MISS* ]] && miss=1
done
info "results in $out"
((miss)) && info "some targets missed (see above)"
exit 0

#!/bin/bash
# bench/run.sh — csvfs data-path benchmarks as ratios against the raw image
# file, measured in the same run on the same filesystem. Not a test: it
# prints figures and PASS/MISS against the targets, and fails only when it
# cannot measure.
#
#   tests/bench/run.sh BUILD_DIR [--quick]
#
# A 4 GiB sparse image in a temp dir under ${TMPDIR:-/tmp}. First fio runs
# on the raw image file (its first 2 GiB written once, then each job), then
# the image is formatted, mounted, and the same jobs run on a preallocated
# and written 2 GiB file in the mount. All jobs: O_DIRECT, libaio,
# time-based (8 s each, 2 s with --quick, after a 1 s ramp).
#
# Output: a table on stdout; fio's JSON and the table are also kept in
# BUILD_DIR/bench-results/. Needs root, fio and python3.
set -euo pipefail

usage() {
	echo "usage: $0 BUILD_DIR [--quick]" >&2
	exit 2
}
quick=0
bdir=
for a; do
	case $a in
	--quick) quick=1 ;;
	-*) usage ;;
	*) if [[ -z "$bdir" ]]; then bdir=$a; else usage; fi ;;
	esac
done
[[ -n "$bdir" && -d "$bdir" ]] || usage
CSVFS_BIN=$(realpath "$bdir")
export CSVFS_BIN
# shellcheck source=../integration/lib.sh
source "$(dirname "$(realpath "$0")")/../integration/lib.sh"
TEST_NAME=bench
tmp_setup
need fio python3

runtime=8 ramp=1
((quick)) && runtime=2
region=2G
results=$CSVFS_BIN/bench-results
mkdir -p "$results"
rm -f "$results"/*.json "$results"/summary.txt

# name rw bs iodepth
JOBS=(
	"seq-write-1M-qd16 write 1M 16"
	"seq-read-1M-qd16 read 1M 16"
	"seq-write-1M-qd1 write 1M 1"
	"randread-4k-qd1 randread 4k 1"
	"randread-4k-qd16 randread 4k 16"
	"randwrite-4k-qd1 randwrite 4k 1"
	"randwrite-4k-qd16 randwrite 4k 16"
)

fio_common() {
	printf '%s\n' --direct=1 --ioengine=libaio --size="$region" --offset=0 \
		--group_reporting --invalidate=1 --randrepeat=0 --norandommap \
		--output-format=json
}

# Writes every byte of the region once, so reads hit real data.
prefill() {
	local file=$1
	step "prefill $region of $file"
	mapfile -t common < <(fio_common)
	fio --name=prefill --filename="$file" "${common[@]}" --rw=write --bs=1M \
		--iodepth=16 --output="$T/prefill.json" >/dev/null ||
		fail "fio prefill of $file failed"
}

# run_jobs TAG FILE: each job once, JSON in $results/TAG.NAME.json
run_jobs() {
	local tag=$1 file=$2 spec name rw bs qd
	mapfile -t common < <(fio_common)
	for spec in "${JOBS[@]}"; do
		read -r name rw bs qd <<<"$spec"
		info "$tag: $name (${runtime}s)"
		if ! fio --name="$name" --filename="$file" "${common[@]}" \
			--rw="$rw" --bs="$bs" --iodepth="$qd" --time_based \
			--runtime="$runtime" --ramp_time="$ramp" \
			--output="$results/$tag.$name.json" >"$T/fio.out" 2>&1; then
			info "fio $name on $tag failed: $(tail -n 3 "$T/fio.out" | tr '\n' ' ')"
			rm -f "$results/$tag.$name.json"
		fi
	done
}

img=$T/bench.img
M=$T/mnt
mkimg "$img" 4G
info "image $img on $(findmnt -n -o SOURCE,FSTYPE --target "$T" | tr -s ' ')"

step "raw image file"
prefill "$img"
run_jobs raw "$img"

step "csvfs on the same image"
csvfs_ok=1
if ! "$B/mkfs.csvfs" -f "$img" >"$T/mkfs.out" 2>&1; then
	info "mkfs.csvfs failed: $(tail -n 3 "$T/mkfs.out" | tr '\n' ' ')"
	csvfs_ok=0
fi
if ((csvfs_ok)); then
	mkdir -p "$M"
	track_dir "$M"
	if timeout 60 "$B/csvfsd" "$img" "$M" -o "pidfile=$T/pid.bench" \
		>"$T/csvfsd.out" 2>&1 </dev/null &&
		wait_for 200 mountpoint -q "$M"; then
		track_mount "$M" "$T/pid.bench"
	else
		info "csvfsd failed: $(tail -n 3 "$T/csvfsd.out" | tr '\n' ' ')"
		csvfs_ok=0
	fi
fi
if ((csvfs_ok)); then
	if fallocate -l "$region" "$M/bench.dat" 2>"$T/falloc.out"; then
		prefill "$M/bench.dat"
		run_jobs csvfs "$M/bench.dat"
	else
		info "fallocate in the mount failed: $(cat "$T/falloc.out")"
		csvfs_ok=0
	fi
	umount_vol "$M"
fi

step "results (${runtime}s per job; ratio = csvfs / raw)"
jobnames=()
for spec in "${JOBS[@]}"; do jobnames+=("${spec%% *}"); done
python3 - "$results" "${jobnames[@]}" <<'PY' | tee "$results/summary.txt"
import json, os, sys

results, names = sys.argv[1], sys.argv[2:]
targets = {"seq-write-1M-qd16": 0.85, "seq-read-1M-qd16": 0.85,
           "randread-4k-qd1": 0.45}

def load(tag, name):
    path = os.path.join(results, f"{tag}.{name}.json")
    try:
        with open(path) as f:
            text = f.read()
        # fio may print notes before the JSON document
        job = json.loads(text[text.index("{"):])["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    d = job["write"] if "write" in name else job["read"]
    if name.startswith("seq"):
        fig = d["bw_bytes"] / 1e6
    else:
        fig = d["iops"]
    lat = d["clat_ns"]["mean"] / 1000.0 if d.get("clat_ns") else 0.0
    return fig, lat

def fmt(v, seq):
    if v is None:
        return "n/a"
    return f"{v[0]:.0f} MB/s" if seq else f"{v[0]:.0f} IOPS"

hdr = f"{'job':<19} {'raw':>12} {'csvfs':>12} {'ratio':>6} {'target':>7} {'result':>6}   {'lat raw/csvfs (us)':>18}"
print(hdr)
print("-" * len(hdr))
misses = 0
for name in names:
    seq = name.startswith("seq")
    raw, cs = load("raw", name), load("csvfs", name)
    ratio = cs[0] / raw[0] if raw and cs and raw[0] > 0 else None
    tgt = targets.get(name)
    if tgt is None:
        res = ""
    elif ratio is None:
        res = "n/a"
    else:
        res = "PASS" if ratio >= tgt else "MISS"
        misses += res == "MISS"
    lat = (f"{raw[1]:.0f}" if raw else "n/a") + " / " + (f"{cs[1]:.0f}" if cs else "n/a")
    print(f"{name:<19} {fmt(raw, seq):>12} {fmt(cs, seq):>12} "
          f"{(f'{ratio:.2f}' if ratio is not None else 'n/a'):>6} "
          f"{(f'>={tgt:.2f}' if tgt else ''):>7} {res:>6}   {lat:>18}")
print(f"targets missed: {misses}")
PY

((csvfs_ok)) || fail "csvfs could not be measured (see above); raw figures only"

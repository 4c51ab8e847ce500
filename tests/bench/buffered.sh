#!/bin/bash
# buffered.sh — buffered (page cache) I/O on a cluster node against a
# standalone mount, same image size, same run (issue 14). Not a timed test:
# it prints MB/s or IOPS and the ratio cluster / standalone (goal >= 0.8).
#
#   tests/bench/buffered.sh [BUILD_DIR] [SECONDS]
#
# Jobs: fio, buffered (no O_DIRECT), psync: 4 KiB sequential writes,
# 1 MiB sequential writes, 4 KiB random reads of a written file; each on a
# fresh 512 MiB file. The cluster node is node 2 of a 2-node cluster
# (scripts/cluster), the coordinator is node 1, so node 2 is the file's
# writer over TLS, as a hypervisor host would be.
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
SECS=${2:-6}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
WORK=$(mktemp -d /var/tmp/csvfs-bench-buffered.XXXXXX)
export CSVFS_BIN=$B CSVFS_CLUSTER_STATE=$WORK/cluster
SPID=

cleanup() {
	if mountpoint -q "$WORK/mnt" 2>/dev/null; then
		umount "$WORK/mnt" || umount -l "$WORK/mnt"
	fi
	[[ -n $SPID ]] && kill "$SPID" 2>/dev/null
	"$CL" down >/dev/null 2>&1 || true
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# name rw bs
JOBS=("write-4k write 4k" "write-1M write 1M" "randread-4k randread 4k")

# fio_on DIR TAG [RUNNER...]: every job on DIR, figures to $WORK/TAG.NAME
fio_on() {
	local dir=$1 tag=$2 spec name rw bs
	shift 2
	for spec in "${JOBS[@]}"; do
		read -r name rw bs <<<"$spec"
		"$@" fio --name="$name" --filename="$dir/$name.dat" --size=512M \
			--rw="$rw" --bs="$bs" --ioengine=psync --direct=0 \
			--end_fsync=1 --time_based --runtime="$SECS" \
			--output-format=json --output="$WORK/$tag.$name.json" \
			>/dev/null 2>&1 || echo "fio $name on $tag failed" >&2
		"$@" rm -f "$dir/$name.dat"
	done
}

truncate -s 4G "$WORK/sa.img" "$WORK/cl.img"
"$B/mkfs.csvfs" "$WORK/sa.img" >/dev/null
"$B/mkfs.csvfs" "$WORK/cl.img" >/dev/null
mkdir -p "$WORK/mnt"
"$B/csvfsd" "$WORK/sa.img" "$WORK/mnt" -o "pidfile=$WORK/sa.pid"
SPID=$(cat "$WORK/sa.pid")
echo "standalone mount"
fio_on "$WORK/mnt" standalone
umount "$WORK/mnt"
for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
SPID=

echo "2-node cluster, node 2 writes"
"$CL" up -n 2 "$WORK/cl.img" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
fio_on "$CSVFS_CLUSTER_STATE/node2/mnt" cluster "$CL" run 2 --

python3 - "$WORK" "${JOBS[@]}" <<'PY'
import json, sys
work, jobs = sys.argv[1], [j.split()[0] for j in sys.argv[2:]]
def fig(tag, name):
    try:
        t = open(f"{work}/{tag}.{name}.json").read()
        j = json.loads(t[t.index("{"):])["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    d = j["read"] if "read" in name else j["write"]
    return d["iops"] if name.startswith("rand") or "4k" in name else d["bw_bytes"] / 1e6
print(f"{'job':<14} {'standalone':>12} {'cluster node':>13} {'ratio':>7}  (goal >= 0.8)")
for n in jobs:
    a, b = fig("standalone", n), fig("cluster", n)
    unit = "IOPS" if "4k" in n else "MB/s"
    r = f"{b / a:.2f}" if a and b else "n/a"
    print(f"{n:<14} {a or 0:>8.0f} {unit} {b or 0:>8.0f} {unit} {r:>7}")
PY

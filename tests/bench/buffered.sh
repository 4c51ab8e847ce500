#!/bin/bash
# buffered.sh — buffered (page cache) I/O on a cluster node against a
# standalone mount, same image size, same run (issue 14). Not a timed test:
# it prints MB/s or IOPS and the ratio cluster / standalone (goal >= 0.8).
#
#   tests/bench/buffered.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# Jobs: fio, buffered (no O_DIRECT), psync: 4 KiB sequential writes,
# 1 MiB sequential writes, 4 KiB random reads of a written file; each on a
# fresh 512 MiB file. The cluster node is node 2 of a 2-node cluster
# (scripts/cluster), the coordinator is node 1, so node 2 is the file's
# writer over TLS, as a hypervisor host would be.
#
# The machine is shared and its load changes from second to second, so
# both mounts are up at once and each job runs on one, then at once on the
# other (the order alternating), ROUNDS times: the ratio printed is the
# median of the rounds' ratios, each taken a few seconds apart. Beside it,
# what does not depend on the load: the CPU time the daemons spent per
# MiB written or read (the standalone daemon; node 2's daemon, and in
# brackets the coordinator's on node 1).
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
SECS=${2:-6}
ROUNDS=${3:-3}
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

# CPU ticks (user + system) of pid.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# one_job DIR TAG ROUND SPEC PIDS [RUNNER...]: the job on DIR, figures
# to $WORK/TAG.NAME.ROUND.json, daemon CPU ticks (each pid of the
# comma-separated PIDS) to $WORK/TAG.NAME.ROUND.cpu
one_job() {
	local dir=$1 tag=$2 round=$3 name rw bs pids=$5 p t0=() i
	read -r name rw bs <<<"$4"
	shift 5
	for p in ${pids//,/ }; do t0+=("$(ticks "$p")"); done
	"$@" fio --name="$name" --filename="$dir/$name.dat" --size=512M \
		--rw="$rw" --bs="$bs" --ioengine=psync --direct=0 \
		--end_fsync=1 --time_based --runtime="$SECS" \
		--output-format=json --output="$WORK/$tag.$name.$round.json" \
		>/dev/null 2>&1 || echo "fio $name on $tag failed" >&2
	i=0
	for p in ${pids//,/ }; do
		echo $(($(ticks "$p") - t0[i]))
		i=$((i + 1))
	done >"$WORK/$tag.$name.$round.cpu"
	"$@" rm -f "$dir/$name.dat"
}

truncate -s 4G "$WORK/sa.img" "$WORK/cl.img"
"$B/mkfs.csvfs" "$WORK/sa.img" >/dev/null
"$B/mkfs.csvfs" "$WORK/cl.img" >/dev/null
mkdir -p "$WORK/mnt"
"$B/csvfsd" "$WORK/sa.img" "$WORK/mnt" -o "pidfile=$WORK/sa.pid"
SPID=$(cat "$WORK/sa.pid")
"$CL" up -n 2 "$WORK/cl.img" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
N1=$(cat "$CSVFS_CLUSTER_STATE/node1/csvfs.pid")
N2=$(cat "$CSVFS_CLUSTER_STATE/node2/csvfs.pid")
CMNT=$CSVFS_CLUSTER_STATE/node2/mnt
echo "standalone mount and a 2-node cluster (node 2 writes), $ROUNDS rounds of ${SECS} s jobs"
for ((r = 1; r <= ROUNDS; r++)); do
	for spec in "${JOBS[@]}"; do
		if ((r % 2)); then
			one_job "$WORK/mnt" standalone "$r" "$spec" "$SPID"
			one_job "$CMNT" cluster "$r" "$spec" "$N2,$N1" "$CL" run 2 --
		else
			one_job "$CMNT" cluster "$r" "$spec" "$N2,$N1" "$CL" run 2 --
			one_job "$WORK/mnt" standalone "$r" "$spec" "$SPID"
		fi
	done
done

python3 - "$WORK" "$ROUNDS" "$(getconf CLK_TCK)" "${JOBS[@]}" <<'PY'
import json, statistics, sys
work, rounds, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
jobs = [j.split()[0] for j in sys.argv[4:]]
def fig(tag, name, r):
    try:
        t = open(f"{work}/{tag}.{name}.{r}.json").read()
        j = json.loads(t[t.index("{"):])["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None, 0
    d = j["read"] if "read" in name else j["write"]
    v = d["iops"] if name.startswith("rand") or "4k" in name else d["bw_bytes"] / 1e6
    return v, d["io_bytes"]
def cpu(tag, name, r):
    try:
        return [int(x) for x in open(f"{work}/{tag}.{name}.{r}.cpu").read().split()]
    except (OSError, ValueError):
        return []
def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
print(f"{'job':<12} {'standalone':>12} {'cluster node':>13} {'ratio':>6}  "
      f"{'rounds':<17} daemon CPU ms/MiB: standalone, node 2 (coordinator)")
for n in jobs:
    unit = "IOPS" if "4k" in n else "MB/s"
    a, b, ratios, ms = [], [], [], {"s": [], "c": [], "k": []}
    for r in range(1, rounds + 1):
        (x, xb), (y, yb) = fig("standalone", n, r), fig("cluster", n, r)
        a.append(x)
        b.append(y)
        if x and y:
            ratios.append(y / x)
        cs, cc = cpu("standalone", n, r), cpu("cluster", n, r)
        if cs and xb:
            ms["s"].append(cs[0] * 1000 / hz / (xb / 2**20))
        if len(cc) == 2 and yb:
            ms["c"].append(cc[0] * 1000 / hz / (yb / 2**20))
            ms["k"].append(cc[1] * 1000 / hz / (yb / 2**20))
    ra = med(ratios)
    each = " ".join(f"{x:.2f}" for x in ratios)
    print(f"{n:<12} {med(a) or 0:>7.0f} {unit} {med(b) or 0:>8.0f} {unit} "
          f"{ra if ra is not None else 0:>6.2f}  {each:<17} "
          f"{med(ms['s']) or 0:.1f}, {med(ms['c']) or 0:.1f} "
          f"({med(ms['k']) or 0:.2f})")
PY

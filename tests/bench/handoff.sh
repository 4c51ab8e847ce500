#!/bin/bash
# handoff.sh — handoff latency benchmark (not a timed test): a 3-node local
# cluster (scripts/cluster), a "VM" (tests/tools/vmwriter, O_DIRECT 4 KiB
# records appended to its disk) running on the owner. Each round: the VM
# writes for a moment, pauses WITHOUT fdatasync (its node still holds
# unreported size and written ranges, and the device cache is dirty), the
# disk is handed to the other node (csvfsctl handoff, run on the source:
# the recall flushes the device, reports the pending writes and revokes
# the handles before the move commits), the VM resumes there. N rounds
# (default 200) between nodes 1 and 2; the coordinator is node 3, so every
# recall is a push over TLS. The latency is the handoff system call alone
# (csvfsctl measures it). Prints p50 / p90 / p99 / max in ms and checks
# every record at the end.
#
#   tests/bench/handoff.sh [BUILD_DIR] [N]
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
N=${2:-200}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
WORK=$(mktemp -d /var/tmp/csvfs-bench-handoff.XXXXXX)
export CSVFS_BIN=$B CSVFS_CLUSTER_STATE=$WORK/cluster
IMG=$WORK/volume.img

cleanup() {
	"$CL" down >/dev/null 2>&1 || true
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

run() { "$CL" run "$@"; }
mnt() { echo "$CSVFS_CLUSTER_STATE/node$1/mnt"; }

truncate -s 2G "$IMG"
"$B/mkfs.csvfs" -q "$IMG" >/dev/null 2>&1 || "$B/mkfs.csvfs" "$IMG" >/dev/null
"$CL" up -n 3 "$IMG" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }

VMW=$B/tests/vmwriter
VM_PIDS=()
trap 'for p in "${VM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup' EXIT
run 1 -- "$B/csvfsctl" coordinator move 3 "$(mnt 1)" >/dev/null
until run 1 -- "$B/csvfsctl" status --json "$(mnt 1)" | grep -q '"coordinator":{"node":3'; do
	sleep 0.1
done

vm_start() { # NODE I
	run "$1" -- sh -c "echo \$\$ > $WORK/vm.$2.pid; exec $VMW write $(mnt "$1")/disk.img --usleep 100 --nosync 1" \
		</dev/null >"$WORK/vm.$2.out" 2>&1 &
	until [ -s "$WORK/vm.$2.pid" ] && grep -q resumed "$WORK/vm.$2.out"; do sleep 0.01; done
	VM_PIDS+=("$(cat "$WORK/vm.$2.pid")")
}
vm_wait() { until grep -q "$2" "$WORK/vm.$1.out"; do sleep 0.01; done; }

lat=$WORK/lat
: >"$lat"
src=1
vm_start 1 0
for i in $(seq 1 "$N"); do
	dst=$((3 - src))
	sleep 0.05
	pid=$(cat "$WORK/vm.$((i - 1)).pid")
	kill -USR1 "$pid"
	vm_wait $((i - 1)) paused
	out=$(run "$src" -- "$B/csvfsctl" handoff "$(mnt $src)/disk.img" "$dst")
	sed -n 's/.* in \([0-9.]*\) ms$/\1/p' <<<"$out" >>"$lat"
	vm_start "$dst" "$i"
	kill -TERM "$pid"
	vm_wait $((i - 1)) stopped
	src=$dst
done
kill -TERM "$(cat "$WORK/vm.$N.pid")"
vm_wait "$N" stopped
VM_PIDS=()
records=$(sed -n 's/^stopped //p' "$WORK/vm.$N.out")
check=$(run 3 -- "$VMW" verify "$(mnt 3)/disk.img" --count "$records")

sort -n "$lat" | awk -v n="$N" -v rec="$records" -v chk="$check" '
	{ v[NR] = $1 }
	END {
		if (NR != n) { printf "only %d of %d handoffs measured\n", NR, n; exit 1 }
		printf "handoffs: %d of a VM disk with unsynced writes (%d records, %s)\n", NR, rec, chk
		printf "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
			v[int(NR * 0.50 + 0.5)], v[int(NR * 0.90 + 0.5)],
			v[int(NR * 0.99 + 0.5)], v[NR]
	}'

#!/bin/bash
# timeout: 1500 (Corosync clusters; slow on a loaded machine)
# t2900 — the coordinator election under concurrent mounts (issue 15).
#
# A cluster of 3 and one of 8 nodes (real corosync, scripts/cluster);
# in each round every node mounts the volume at the same instant
# (`scripts/cluster mount all` releases all mounts from one barrier).
# Checks, every round: every mount succeeds; every node names the same
# coordinator in `csvfsctl status --json`, the lowest node id, and exactly
# one node says it serves; a directory made on each node is seen on every
# other (the metadata path works from all); then all unmount at once; at
# the end fsck is clean.
#
# Rounds: ELECT_ROUNDS3 (default 5) with 3 nodes, ELECT_ROUNDS8 (default
# 3) with 8; `make torture` runs 50 of each.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" corosync python3

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
export CSVFS_BIN=$B
R3=${ELECT_ROUNDS3:-5}
R8=${ELECT_ROUNDS8:-3}
img=$T/vol.img

mnt() { echo "$CSVFS_CLUSTER_STATE/node$1/mnt"; }
status_of() { # NODE: "coordinator self state" as NODE sees it
	"$CL" run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys
s = json.load(sys.stdin)
print(s["coordinator"]["node"], int(s["coordinator"]["self"]), s.get("election", {}).get("state", "-"))'
}

rounds() { # N ROUNDS
	local n=$1 r i st coord self serving
	for ((r = 1; r <= $2; r++)); do
		"$CL" mount all >"$T/mount.log" 2>&1 || {
			cat "$T/mount.log" >&2
			for ((i = 1; i <= n; i++)); do
				sed "s/^/#    node$i: /" "$CSVFS_CLUSTER_STATE/node$i/mount.log" 2>/dev/null | tail -3
			done
			keep_logs "$CSVFS_CLUSTER_STATE"/node*/{mount.log,csvfs.log,log/corosync.log}
			fail "$n nodes, round $r: a concurrent mount failed"
		}
		serving=0
		for ((i = 1; i <= n; i++)); do
			st=$(status_of "$i") || fail "$n nodes, round $r: no status on node $i"
			read -r coord self _ <<<"$st"
			assert_eq 1 "$coord" "$n nodes, round $r: coordinator seen by node $i ($st)"
			serving=$((serving + self))
		done
		assert_eq 1 "$serving" "$n nodes, round $r: nodes that say they serve"
		for ((i = 1; i <= n; i++)); do
			"$CL" run "$i" -- mkdir "$(mnt "$i")/r$r-n$i-of$n"
		done
		for ((i = 1; i <= n; i++)); do
			assert_eq "$n" "$("$CL" run "$i" -- ls "$(mnt "$i")" | grep -c "^r$r-n[0-9]*-of$n\$")" \
				"$n nodes, round $r: directories seen on node $i"
		done
		"$CL" umount all >"$T/umount.log" 2>&1 || { cat "$T/umount.log" >&2; fail "$n nodes, round $r: unmount failed"; }
		info "$n nodes, round $r: all mounted at once, coordinator 1"
	done
}

mkimg "$img" 2G
mkfs_vol "$img"
for n in 3 8; do
	export CSVFS_CLUSTER_STATE=$T/cluster$n
	on_exit CSVFS_CLUSTER_STATE="$T/cluster$n" "$CL" down '>/dev/null 2>&1'
	step "$n nodes with corosync, nothing mounted"
	"$CL" up -n "$n" --no-mount "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
	step "$n nodes mount at the same instant: $( ((n == 3)) && echo "$R3" || echo "$R8") rounds"
	rounds "$n" "$( ((n == 3)) && echo "$R3" || echo "$R8")"
	"$CL" down >/dev/null 2>&1
done

step "fsck clean"
fsck_clean "$img"

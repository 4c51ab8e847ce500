#!/bin/bash
# timeout: 1200 (Corosync clusters; slow on a loaded machine)
# t2500 — the mount agent (scripts/ocf/csvfs) under ocf-tester and as a
# clone under a real Pacemaker on 3 nodes (issue 15).
#
# Checks: ocf-tester passes for csvfs; Pacemaker starts the clone on all
# nodes at once and every start succeeds: each node is mounted, names the
# same coordinator (the lowest node id) in csvfsctl status --json, and a
# file made on one node is seen on the others; stopping and starting the
# clone again (the concurrent mounts that used to race in the election)
# works STARTS times (default 3); stopping the clone unmounts every node;
# fsck is clean.
#
# The agent is installed for the run under a provider of its own
# (/usr/lib/ocf/resource.d/csvfs-tNNNN, removed at the end), so an installed
# csvfs provider is left alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	pacemakerd ocf-tester crm_resource cibadmin crm_mon python3

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
PCMK_CL=$CL
source "$REPO/tests/vm/lib-pcmk.sh"
export CSVFS_BIN=$B
export CSVFS_CLUSTER_STATE=$T/cluster
STARTS=${PCMK_STARTS:-3}
img=$T/vol.img
key=$T/cluster.key
mp=$T/vms			# the same path on every node
prov=csvfs-t$$
pdir=/usr/lib/ocf/resource.d/$prov
on_exit "$CL" down '>/dev/null 2>&1'
on_exit rm -rf "$pdir"

run() { "$CL" run "$@"; }
mounted_on() { # NODE
	run "$1" -- mountpoint -q "$mp"
}
coord_of() { # NODE: the coordinator node id as NODE sees it
	run "$1" -- "$B/csvfsctl" status --json "$mp" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}
clone_role() { # Started|Stopped
	run 1 -- crm_resource -r vol-clone --meta -p target-role -v "$1" >/dev/null 2>&1
}
pcmk_fail() { # MESSAGE: show what pacemaker did, then fail
	run 1 -- crm_mon -1 -r --show-detail 2>&1 | sed 's/^/#    /' || true
	grep -h 'ocf-exit-reason' "$CSVFS_CLUSTER_STATE"/node*/pcmk-log/pacemaker.log 2>/dev/null |
		tail -5 | cut -c1-300 | sed 's/^/#    /' || true
	tail -40 "$T/csvfs.log" 2>/dev/null | sed 's/^/#    /' || true
	fail "$*"
}

mkdir -p "$pdir" "$mp"
install -m 0755 "$REPO/scripts/ocf/csvfs" "$pdir/"
mkimg "$img" 2G
mkfs_vol "$img"
"$B/csvfsctl" keygen "$key" >/dev/null
step "3 nodes with corosync and pacemaker, nothing mounted"
"$CL" up -n 3 --no-mount --pacemaker "$img" >"$T/up.log" 2>&1 ||
	{ cat "$T/up.log"; fail "cluster up failed"; }

step "ocf-tester: csvfs (mount) on node 1"
run_capture run 1 -- ocf-tester -n vol -o device="$img" -o directory="$mp" \
	-o keyfile="$key" -o bindir="$B" "$pdir/csvfs"
((RC == 0)) || { echo "$OUT"; fail "ocf-tester failed for csvfs"; }
assert_match 'passed all tests' "$OUT" "ocf-tester csvfs"
assert_fails mounted_on 1

step "pacemaker mounts the volume on every node at once (a clone of csvfs)"
pcmk_add_volume "$prov" "$img" "$mp" "$key" "$B" "logfile=$T/csvfs.log" >/dev/null ||
	fail "cannot add the mount clone"
for ((s = 1; s <= STARTS; s++)); do
	for n in 1 2 3; do
		wait_for 900 mounted_on "$n" || pcmk_fail "start $s: pacemaker did not mount node $n"
	done
	# Every start succeeded the first time: no failed start in the status.
	fails=$(run 1 -- crm_mon -1 --show-detail 2>&1 | grep -ci 'failed resource actions' || true)
	assert_eq 0 "$fails" "start $s: failed actions in crm_mon"
	for n in 1 2 3; do
		assert_eq 1 "$(coord_of "$n")" "start $s: coordinator seen from node $n"
	done
	run 2 -- sh -c "echo start$s > $mp/s$s"
	for n in 1 3; do
		assert_eq "start$s" "$(run "$n" -- cat "$mp/s$s")" "start $s: file read on node $n"
	done
	info "start $s: mounted on 3 nodes, coordinator 1"
	clone_role Stopped
	for n in 1 2 3; do
		wait_for 900 eval '! mounted_on '"$n" || pcmk_fail "stop $s: node $n still mounted"
	done
	((s == STARTS)) || clone_role Started
done

step "fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

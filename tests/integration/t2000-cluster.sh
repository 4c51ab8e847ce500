#!/bin/bash
# t2000 — three nodes on one volume: real corosync in network namespaces
# (scripts/cluster), one image file mounted on every node in cluster mode,
# metadata over TLS to the elected coordinator, data straight to the image.
#
# Checks: a file made on node 2 reads the same on nodes 1 and 3; rename
# and unlink are seen everywhere; 3 x 1,000 concurrent creates in one
# directory give exactly 3,000 distinct names; a concurrent mkdir of one
# name succeeds once and fails with EEXIST twice; csvfsctl status --json
# names the coordinator; the role moves with csvfsctl coordinator move and
# after the coordinator node is killed; a node with the wrong cluster key
# cannot mount; after unmounting everywhere fsck is clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" corosync python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

coord_of() { # NODE: the coordinator node id as NODE sees it
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}

mkimg "$img" 2G
mkfs_vol "$img"
# A standalone mount of another volume on the host while the cluster
# comes up: the nodes' namespaces must not keep a copy of it, or its daemon
# would outlive its unmount (umount_vol fails after 30 s).
mkimg "$T/other.img" 256M
mkfs_vol "$T/other.img"
mkdir -p "$T/other"
mount_vol "$T/other.img" "$T/other"
step "3 nodes up, the volume mounted on each"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
umount_vol "$T/other"
assert_eq 1 "$(coord_of 2)" "coordinator seen from node 2"
assert_eq 1 "$(coord_of 3)" "coordinator seen from node 3"

step "a file created on node 2 is seen on nodes 1 and 3"
head -c 3000000 /dev/urandom >"$T/payload"
run 2 -- cp "$T/payload" "$(mnt 2)/f2"
want=$(sha256sum <"$T/payload" | cut -d' ' -f1)
for n in 1 3; do
	got=$(run "$n" -- sha256sum "$(mnt $n)/f2" | cut -d' ' -f1)
	assert_eq "$want" "$got" "f2 read on node $n"
done
run 2 -- sh -c "echo small > $(mnt 2)/small"
assert_eq small "$(run 3 -- cat "$(mnt 3)/small")" "inline file read on node 3"

step "rename on node 3, unlink on node 1, seen everywhere"
run 3 -- mv "$(mnt 3)/f2" "$(mnt 3)/renamed"
for n in 1 2; do
	assert_ok run "$n" -- test -f "$(mnt $n)/renamed"
	assert_fails run "$n" -- test -e "$(mnt $n)/f2"
done
run 1 -- rm "$(mnt 1)/renamed"
for n in 2 3; do
	assert_fails run "$n" -- test -e "$(mnt $n)/renamed"
done

step "3 nodes x 1,000 creates in one directory at once"
run 1 -- mkdir "$(mnt 1)/many"
pids=()
for n in 1 2 3; do
	run "$n" -- sh -c "cd $(mnt $n)/many && i=0; while [ \$i -lt 1000 ]; do i=\$((i+1)); : > n$n-\$i || exit 1; done" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a creating node failed"; done
assert_eq 3000 "$(run 2 -- ls "$(mnt 2)/many" | sort -u | wc -l)" "distinct entries"
assert_eq 3000 "$(run 3 -- ls "$(mnt 3)/many" | wc -l)" "entries seen on node 3"

step "concurrent mkdir of one name: one success, EEXIST for the others"
for n in 1 2 3; do
	run "$n" -- mkdir "$(mnt $n)/same" >"$T/mkdir$n.out" 2>&1 &
	pids[$n]=$!
done
ok=0
for n in 1 2 3; do
	if wait "${pids[$n]}"; then ok=$((ok + 1)); else
		assert_match 'File exists' "$(cat "$T/mkdir$n.out")" "mkdir on node $n"
	fi
done
assert_eq 1 "$ok" "successful mkdirs"

step "csvfsctl coordinator move 3"
run 2 -- "$B/csvfsctl" coordinator move 3 "$(mnt 2)" >/dev/null
wait_for 100 eval '[ "$(coord_of 1)" = 3 ]' || fail "the role did not move to node 3"
run 1 -- sh -c "echo after-move > $(mnt 1)/am"
assert_eq after-move "$(run 2 -- cat "$(mnt 2)/am")" "write after the move"

step "kill node 3 (the coordinator): node 1 takes over"
"$CL" kill 3 >/dev/null
run 1 -- sh -c "echo after-kill > $(mnt 1)/ak"
assert_eq after-kill "$(run 2 -- cat "$(mnt 2)/ak")" "write after the failover"
assert_eq 1 "$(coord_of 2)" "coordinator after node 3 died"
assert_eq 3000 "$(run 2 -- ls "$(mnt 2)/many" | wc -l)" "entries after the failover"

step "node 3 comes back with the wrong cluster key: its mount is refused"
"$CL" start 3 --no-mount >"$T/start.log" 2>&1 || { cat "$T/start.log"; fail "restarting node 3 failed"; }
"$B/csvfsctl" keygen "$T/wrong.key" >/dev/null
run_capture run 3 -- "$B/csvfsd" "$img" "$(mnt 3)" -o "cluster,keyfile=$T/wrong.key"
((RC != 0)) || fail "node 3 mounted with the wrong key"
assert_match 'wrong cluster key' "$OUT" "mount error"
assert_fails run 3 -- mountpoint -q "$(mnt 3)"

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

#!/bin/bash
# t2500 — the OCF resource agents (scripts/ocf) under ocf-tester and under a
# real Pacemaker on 3 nodes.
#
# Checks: ocf-tester passes for csvfs (the volume mount) and csvfs-disk (a
# VM disk's ownership); Pacemaker mounts the volume on every node through a
# clone of csvfs; a csvfs-disk resource (allow-migrate) makes its node the
# file's owner, and `crm_resource --move` live-migrates it: migrate_to hands
# the file off, migrate_from finds it owned by the target; stopping the
# resources releases the file and unmounts every node; fsck is clean.
#
# The agents are installed for the run under a provider of their own
# (/usr/lib/ocf/resource.d/csvfs-tNNNN, removed at the end), so an installed
# csvfs provider is left alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	pacemakerd ocf-tester crm_resource cibadmin crm_node getfattr setfattr

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
export CSVFS_BIN=$B
export CSVFS_CLUSTER_STATE=$T/cluster
img=$T/vol.img
key=$T/cluster.key
mp=$T/vms			# the same path on every node
prov=csvfs-t$$
pdir=/usr/lib/ocf/resource.d/$prov
on_exit "$CL" down '>/dev/null 2>&1'
on_exit rm -rf "$pdir"

run() { "$CL" run "$@"; }
owner() { # NODE FILE: the owner node id as NODE sees it
	run "$1" -- getfattr --only-values -n trusted.csvfs.owner "$2" 2>/dev/null |
		sed -n 's/^node=\([0-9]*\) .*/\1/p'
}
located() { # RESOURCE: the node names it runs on
	run 1 -- crm_resource --locate -r "$1" 2>/dev/null | sed -n 's/.*running on: //p'
}
mounted_on() { # NODE
	run "$1" -- mountpoint -q "$mp"
}
pcmk_fail() { # MESSAGE: show what pacemaker did, then fail
	run 1 -- crm_mon -1 -r --show-detail 2>&1 | sed 's/^/#    /' || true
	grep -h 'ocf-exit-reason' "$CSVFS_CLUSTER_STATE"/node*/pcmk-log/pacemaker.log 2>/dev/null |
		tail -5 | cut -c1-300 | sed 's/^/#    /' || true
	cat "$T/csvfs.log" 2>/dev/null | sed 's/^/#    /' || true
	fail "$*"
}

mkdir -p "$pdir" "$mp"
install -m 0755 "$REPO/scripts/ocf/csvfs" "$REPO/scripts/ocf/csvfs-disk" "$pdir/"
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

step "ocf-tester: csvfs-disk (ownership) on node 1"
agent_env="OCF_ROOT=/usr/lib/ocf OCF_RESKEY_device=$img OCF_RESKEY_directory=$mp OCF_RESKEY_keyfile=$key OCF_RESKEY_bindir=$B"
run 1 -- env $agent_env "$pdir/csvfs" start >/dev/null 2>&1 || fail "mounting on node 1 by hand"
run 1 -- truncate -s 256M "$mp/vm1.img"
run_capture run 1 -- ocf-tester -n disk -o file="$mp/vm1.img" -o bindir="$B" \
	"$pdir/csvfs-disk"
((RC == 0)) || { echo "$OUT"; fail "ocf-tester failed for csvfs-disk"; }
assert_match 'passed all tests' "$OUT" "ocf-tester csvfs-disk"
assert_eq 0 "$(owner 1 "$mp/vm1.img")" "owner after the agent's stop"
run 1 -- env $agent_env "$pdir/csvfs" stop >/dev/null 2>&1 || fail "unmounting on node 1 by hand"
assert_fails mounted_on 1

step "pacemaker mounts the volume on every node (a clone of csvfs)"
run 1 -- cibadmin -C -o resources --xml-text "
<clone id='vol-clone'>
  <meta_attributes id='vol-clone-meta'>
    <nvpair id='vol-clone-il' name='interleave' value='true'/>
  </meta_attributes>
  <primitive id='vol' class='ocf' provider='$prov' type='csvfs'>
    <instance_attributes id='vol-ia'>
      <nvpair id='vol-dev' name='device' value='$img'/>
      <nvpair id='vol-dir' name='directory' value='$mp'/>
      <nvpair id='vol-key' name='keyfile' value='$key'/>
      <nvpair id='vol-bin' name='bindir' value='$B'/>
      <nvpair id='vol-opt' name='options' value='logfile=$T/csvfs.log'/>
    </instance_attributes>
    <operations>
      <op id='vol-mon' name='monitor' interval='10s' timeout='20s'/>
      <op id='vol-start' name='start' interval='0' timeout='90s'/>
      <op id='vol-stop' name='stop' interval='0' timeout='60s'/>
    </operations>
  </primitive>
</clone>"
for n in 1 2 3; do
	wait_for 600 mounted_on "$n" || pcmk_fail "pacemaker did not mount node $n"
done

step "a VM disk resource: its node owns the file"
run 1 -- truncate -s 64M "$mp/vm2.img"
run 1 -- cibadmin -C -o resources --xml-text "
<primitive id='disk' class='ocf' provider='$prov' type='csvfs-disk'>
  <instance_attributes id='disk-ia'>
    <nvpair id='disk-file' name='file' value='$mp/vm2.img'/>
    <nvpair id='disk-bin' name='bindir' value='$B'/>
  </instance_attributes>
  <meta_attributes id='disk-meta'>
    <nvpair id='disk-am' name='allow-migrate' value='true'/>
  </meta_attributes>
  <operations>
    <op id='disk-mon' name='monitor' interval='5s' timeout='20s'/>
  </operations>
</primitive>"
run 1 -- cibadmin -C -o constraints --xml-text \
	"<rsc_order id='vol-then-disk' first='vol-clone' then='disk' kind='Mandatory'/>"
run 1 -- cibadmin -C -o constraints --xml-text \
	"<rsc_colocation id='disk-with-vol' rsc='disk' with-rsc='vol-clone' score='INFINITY'/>"
wait_for 300 eval '[ -n "$(located disk)" ]' || pcmk_fail "the disk resource did not start"
src=$(located disk)
src_id=$(run 1 -- crm_node -l | awk -v n="$src" '$2 == n { print $1 }')
wait_for 100 eval '[ "$(owner 1 "$mp/vm2.img")" = "$src_id" ]' ||
	fail "vm2.img is not owned by $src (node $src_id)"
assert_eq 1 "$(run 1 -- getfattr --only-values -n trusted.csvfs.pinned "$mp/vm2.img" 2>/dev/null)" "pinned"
other=$(( src_id % 3 + 1 ))
assert_match 'Device or resource busy' \
	"$(run "$other" -- sh -c "exec 3>>$mp/vm2.img && echo ok" 2>&1 || true)" "open elsewhere"

step "crm_resource --move: a live migration hands the disk off"
dst=node$other
run 1 -- crm_resource --move -r disk -N "$dst" >/dev/null 2>&1
wait_for 300 eval '[ "$(located disk)" = "$dst" ]' || pcmk_fail "the disk resource did not move to $dst"
assert_eq "$other" "$(owner 1 "$mp/vm2.img")" "owner after the move"
assert_eq ok "$(run "$other" -- sh -c "exec 3>>$mp/vm2.img && echo ok" 2>&1)" "the target writes"
grep -qs "disk action:migrate_to" "$CSVFS_CLUSTER_STATE/node$src_id/pcmk-log/pacemaker.log" ||
	fail "no migrate_to on $src (a stop/start, not a live migration)"
grep -qs "disk action:migrate_from" "$CSVFS_CLUSTER_STATE/node$other/pcmk-log/pacemaker.log" ||
	fail "no migrate_from on $dst"

step "stopping the resources releases the file and unmounts every node"
run 1 -- crm_resource -r disk --meta -p target-role -v Stopped >/dev/null 2>&1
wait_for 300 eval '[ -z "$(located disk)" ]' || pcmk_fail "the disk resource did not stop"
assert_eq 0 "$(owner 1 "$mp/vm2.img")" "owner after the stop"
run 1 -- crm_resource -r vol-clone --meta -p target-role -v Stopped >/dev/null 2>&1
for n in 1 2 3; do
	wait_for 600 eval '! mounted_on '"$n" || pcmk_fail "node $n still mounted"
done

step "fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

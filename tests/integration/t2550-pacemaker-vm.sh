#!/bin/bash
# t2550 — VMs under Pacemaker the usual way (issue 15): a clone of
# ocf:csvfs:csvfs mounts the volume on 3 nodes, ocf:heartbeat:VirtualDomain
# runs a libvirt domain whose disk is on csvfs (each node runs its own
# libvirtd: scripts/cluster --libvirt), ordered after the mount clone.
#
# The guest (tests/vm: Debian's cloud kernel + busybox, TCG, 256 MiB)
# writes numbered, checksummed 4 KiB records to its virtio disk
# (cache='none', io='native') and fdatasyncs every 8 records.
# Checks:
# - ocf-tester passes for ocf:csvfs:csvfs; under Pacemaker its monitor
#   notices a csvfs daemon that died (kill -9) and one that hangs (SIGSTOP)
#   and Pacemaker mounts the node again;
# - with allow-migrate=true, `crm_resource --move` moves the running VM
#   live (migrate_to / migrate_from: libvirt's peer-to-peer migration)
#   MOVES times back and forth; after each the domain runs on the target,
#   libvirt reports no disk error, the guest's console shows no I/O error
#   and the guest keeps syncing new records;
# - with STONITH on (fence_csvfs_harness kills a harness node), the node
#   running the VM is killed: Pacemaker fences it and starts the VM on
#   another node once csvfs has broken the dead node's hold; the guest
#   finds every record it had flushed (it resumes after its valid prefix);
# - stopped, every flushed record is on the disk (vmwriter verify-disk);
# - stopping the mount clone while a process keeps a file open on a node
#   ends that process and unmounts (force_unmount); fsck clean.
# libvirt 9 does not know csvfs as a shared file system, so the domain is
# migrated with --unsafe (VirtualDomain migrate_options); cache='none' is
# what makes that safe. A VM start refused while the dead node still holds
# the disk (EBUSY) is retried by Pacemaker: start-failure-is-fatal=false.
# timeout: 1500
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" "$B/tests/vmwriter" \
	corosync pacemakerd libvirtd virsh crm_resource cibadmin crm_attribute \
	qemu-system-x86_64 ocf-tester fuser

MOVES=${T2550_MOVES:-10}
cluster_env
img=$T/vol.img
key=$T/cluster.key
mp=$T/vms			# the same path on every node
con=$T/console.log
prov=csvfs-t$$
pdir=/usr/lib/ocf/resource.d/$prov
on_exit "$CL" down '>/dev/null 2>&1'
on_exit rm -rf "$pdir"
source "$REPO/tests/vm/lib-vm.sh"
PCMK_CL=$CL
source "$REPO/tests/vm/lib-pcmk.sh"
vm_setup
VMW=$B/tests/vmwriter

tstep() { step "$* (at ${SECONDS}s)"; }
located() { pcmk_located; }
virsh_on() { local n=$1; shift; run "$n" -- virsh -q -c qemu:///system "$@"; }
synced() { sed -n 's/^gw: synced \([0-9]*\).*/\1/p' "$con" | tail -n 1; }
synced_over() { local s; s=$(synced); [[ -n $s ]] && ((s > $1)); }
wait_synced() { # MIN SECS
	wait_for $(($2 * 10)) synced_over "$1" || {
		tail -n 20 "$con" >&2
		pcmk_fail "the guest did not sync past record $1 within $2 s (last: $(synced))"
	}
}
pcmk_fail() {
	run 1 -- crm_mon -1 -r --show-detail 2>&1 | sed 's/^/#    /' || true
	grep -h 'ocf-exit-reason\|VirtualDomain' "$CSVFS_CLUSTER_STATE"/node*/pcmk-log/pacemaker.log 2>/dev/null |
		tail -8 | cut -c1-300 | sed 's/^/#    /' || true
	tail -n 25 "$T"/csvfs.log 2>/dev/null | sed 's/^/#    /' || true
	fail "$*"
}
guest_clean() { # NODE: no I/O error on the console since the guest's
	# last start (a guest that died with its host may have seen some),
	# none in libvirt
	local bad
	bad=$(awk '/^gw: resume/ { n++ } n == r' r="$(grep -c '^gw: resume' "$con")" "$con" |
		grep -iE 'I/O error|blk_update_request|Buffer I/O' || true)
	[[ -z $bad ]] || { _show "$bad"; pcmk_fail "the guest saw an I/O error"; }
	bad=$(virsh_on "$1" domblkerror vm1 2>&1 || true)
	assert_match 'No errors found' "$bad" "libvirt's disk errors of vm1 on node $1"
}

mkdir -p "$pdir" "$mp"
install -m 0755 "$REPO/scripts/ocf/csvfs" "$pdir/"
mkimg "$img" 2G
mkfs_vol "$img"
"$B/csvfsctl" keygen "$key" >/dev/null
pcmk_domain_xml "$T/vm1.xml" "$VM_GUEST" "$mp/vm.raw" "$con" "$VM_RATE" "$VM_SYNC"

tstep "3 nodes with corosync, pacemaker and libvirtd"
"$CL" up -n 3 --no-mount --pacemaker --libvirt "$img" >"$T/up.log" 2>&1 ||
	{ cat "$T/up.log"; fail "cluster up failed"; }
run 1 -- crm_attribute -t crm_config -n start-failure-is-fatal -v false >/dev/null

tstep "ocf-tester: ocf:csvfs:csvfs on node 1"
run_capture run 1 -- ocf-tester -n vol -o device="$img" -o directory="$mp" \
	-o keyfile="$key" -o bindir="$B" "$pdir/csvfs"
((RC == 0)) || { echo "$OUT"; fail "ocf-tester failed for csvfs"; }
assert_match 'passed all tests' "$OUT" "ocf-tester csvfs"
assert_fails run 1 -- mountpoint -q "$mp"

tstep "pacemaker mounts the volume on every node (a clone of csvfs)"
pcmk_add_volume "$prov" "$img" "$mp" "$key" "$B" "logfile=$T/csvfs.log" >/dev/null
for n in 1 2 3; do
	wait_for 900 run "$n" -- mountpoint -q "$mp" || pcmk_fail "pacemaker did not mount node $n"
done

agent_pid() { # NODE: the csvfs daemon the agent started there
	run "$1" -- sh -c 'cat /run/resource-agents/csvfs-*.pid' 2>/dev/null
}
tstep "monitor: a dead daemon on node 3 is noticed, the node mounted again"
old_pid=$(agent_pid 3)
[[ -n $old_pid ]] || pcmk_fail "no csvfsd pid file of the agent on node 3"
kill -9 "$old_pid"
remounted() { local p; p=$(agent_pid 3); [[ -n $p && $p != "$old_pid" ]] && run 3 -- mountpoint -q "$mp"; }
wait_for 900 remounted || pcmk_fail "pacemaker did not recover node 3's mount after its daemon died"
run 3 -- stat -f "$mp" >/dev/null || fail "node 3's new mount does not answer"

tstep "monitor: a hung (stopped) daemon on node 3 is noticed, the node mounted again"
old_pid=$(agent_pid 3)
kill -STOP "$old_pid"
wait_for 900 remounted || { kill -CONT "$old_pid" 2>/dev/null; pcmk_fail "pacemaker did not recover node 3's hung mount"; }
kill -0 "$old_pid" 2>/dev/null && { kill -CONT "$old_pid"; fail "the hung csvfsd $old_pid was left running"; }
run 3 -- stat -f "$mp" >/dev/null || fail "node 3's new mount does not answer"
run 1 -- crm_resource --cleanup -r vol-clone >/dev/null 2>&1 || true

tstep "a VirtualDomain resource, after the mount clone, starts the VM"
run 1 -- truncate -s 512M "$mp/vm.raw"	# never full: the guest writes ~100 records/s
pcmk_add_vm "$T/vm1.xml" >/dev/null || fail "cannot add the VirtualDomain resource"
wait_for 1200 eval '[ -n "$(located)" ]' || pcmk_fail "the VM did not start"
wait_for 1200 grep -qs '^gw: resume' "$con" || pcmk_fail "the guest did not start"
wait_synced 16 120
where=$(located)
info "the VM runs on $where"

tstep "$MOVES live moves with crm_resource --move while the guest writes"
declare -a hop_ms=() mig_ms=()
for ((m = 1; m <= MOVES; m++)); do
	from=$(located)
	to=node$(( ${from#node} % 3 + 1 ))
	before=$(synced)
	boots=$(grep -c '^gw: resume' "$con")
	pcmk_move "$to" 180 || pcmk_fail "move $m: the VM is not on $to"
	hop_ms+=("$PCMK_MS")
	mig_ms+=("${PCMK_MIGRATE_MS:-?}")
	# Pacemaker may report the target before libvirt's Finish step has
	# resumed the guest there ("paused (migration)" for a moment); a
	# guest paused for any other reason (an I/O error) stays paused
	wait_for 300 eval '[[ $(virsh_on "${to#node}" domstate vm1) == running ]]' ||
		pcmk_fail "move $m: vm1 on $to is $(virsh_on "${to#node}" domstate --reason vm1)"
	[[ -z "$(virsh_on "${from#node}" list --name 2>/dev/null)" ]] ||
		fail "move $m: vm1 still runs on $from"
	wait_synced "$before" 120
	(( $(grep -c '^gw: resume' "$con") == boots )) ||
		pcmk_fail "move $m: the guest booted again (a restart, not a live move)"
	guest_clean "${to#node}"
	run 1 -- grep -q "migrate_to" "$CSVFS_CLUSTER_STATE/node${from#node}/pcmk-log/pacemaker.log" ||
		fail "move $m: pacemaker did not migrate_to (a stop/start instead of a live move)"
	info "move $m: $from -> $to in ${hop_ms[-1]} ms (libvirt's migration: ${mig_ms[-1]} ms), guest at record $(synced)"
done
echo "${hop_ms[*]}" >"$T/hops"
echo "${mig_ms[*]}" >"$T/migs"

tstep "STONITH on; the VM's node is killed: fenced, the VM restarts elsewhere"
pcmk_add_fence >/dev/null || fail "cannot add the fence device"
wait_for 600 eval 'run 1 -- crm_mon -1 | grep -q "fence.*Started"' || pcmk_fail "the fence device did not start"
victim=$(located)
vn=${victim#node}
obs=$(( vn % 3 + 1 ))
flushed=$(synced)
boots=$(grep -c '^gw: resume' "$con")
t0=$SECONDS
"$CL" kill "$vn" >/dev/null 2>&1
info "killed $victim (the guest had flushed $flushed records)"
wait_for 1200 eval 'run '"$obs"' -- stonith_admin --history '"$victim"' 2>/dev/null | grep -q "successful"' ||
	pcmk_fail "$victim was not fenced"
pcmk_wait_located "!$victim" 180 "$obs" || pcmk_fail "the VM did not restart away from $victim"
restart_s=$((SECONDS - t0))
echo "$restart_s" >"$T/restart"
where=$(pcmk_located "$obs")
info "the VM runs again on $where ${restart_s}s after $victim was killed"
wait_for 1200 eval '(( $(grep -c "^gw: resume" "$con") > boots ))' || fail "the restarted guest did not start"
resumed=$(sed -n 's/^gw: resume \([0-9]*\).*/\1/p' "$con" | tail -n 1)
((resumed >= flushed)) || fail "the guest found $resumed valid records, it had flushed $flushed"
wait_synced "$resumed" 120
guest_clean "${where#node}"

tstep "stop the VM; every flushed record is on the disk"
last=$(synced)
run "$obs" -- crm_resource --resource vm --set-parameter target-role --meta --parameter-value Stopped >/dev/null
wait_for 1200 eval '[ -z "$(run '"$obs"' -- crm_resource --locate -r vm 2>/dev/null | grep "running on")" ]' ||
	pcmk_fail "the VM did not stop"
out=$(run "$obs" -- "$VMW" verify-disk "$mp/vm.raw" --min "$last" 2>&1) ||
	pcmk_fail "host check of vm.raw on node $obs: $out"
info "host: $out (flushed: $last)"
info "live moves (ms): $(cat "$T/hops"); libvirt migrations in them (ms): $(cat "$T/migs"); recovery after a node kill: $(cat "$T/restart") s"

tstep "the mount clone stops with a file still open on node $obs (force_unmount)"
pf=$T/busy.pid
run "$obs" -- sh -c "exec 3<$mp/vm.raw && echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec sleep 600" \
	</dev/null >/dev/null 2>&1 &
wait_for 100 test -s "$pf" || fail "holder on node $obs"
busy=$(cat "$pf")
run "$obs" -- crm_resource --resource vol-clone --set-parameter target-role --meta --parameter-value Stopped >/dev/null
for n in 1 2 3; do
	[[ $n == "$vn" ]] && continue
	wait_for 900 eval '! run '"$n"' -- mountpoint -q "$mp"' || pcmk_fail "node $n still mounted"
done
kill -0 "$busy" 2>/dev/null && { kill "$busy"; fail "the process using the mount on node $obs was left running"; }

tstep "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

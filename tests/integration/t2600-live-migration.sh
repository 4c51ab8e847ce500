#!/bin/bash
# t2600 — live migration of a real QEMU VM between csvfs nodes, the way QEMU
# and libvirt do it, with no csvfs-specific step (issue 11; DESIGN.md "File
# ownership": single-writer).
#
# The guest (tests/vm: Debian's cloud kernel + busybox, TCG, 256 MiB) writes
# numbered, checksummed 4 KiB records to its virtio disk with O_DIRECT, 50 a
# second, and fdatasyncs every 4, all the time. On a 3-node cluster:
# - raw image, -drive ...,cache=none,if=virtio: migrated 1->2->1->2->1;
#   while it runs on node 1, a second QEMU started normally on node 3 on
#   the same image (with -drive, and with -blockdev) cannot write it: it
#   fails to start with EBUSY, the coordinator's log names node 1, and the
#   guest carries on; a migration cancelled half-way (migrate_cancel)
#   leaves the guest writing on the source.
# - then 2 more hops with libvirt's -blockdev style (file node with
#   auto-read-only and cache.direct, raw node, virtio-blk-pci) on the
#   targets (the first from a -drive source, as when a VM moves to a host
#   with a newer libvirt); the guest checks every record.
# - node 1 is killed (csvfs and corosync; its QEMU with it) while the VM
#   migrates to node 2: once node 1's hold is broken, the VM starts on
#   node 2 and every record the guest had flushed is there; guest and host
#   check every record of the whole run.
# - a qcow2 image: 2 hops (nodes 2 and 3), guest and host check every
#   record.
# After every hop: the migration completed, the target runs, no
# BLOCK_IO_ERROR event on QMP, no I/O error on the guest's console, and
# the guest keeps syncing new records. fsck clean at the end.
#
# Migration goes over TCP between the nodes' addresses on the test subnet
# (through the bridge, as between real hosts), not over a unix socket in
# the shared temp dir: that is the path a real migration takes, from one
# network namespace to another. About 2 minutes on an idle machine, 4 at
# a load average of 20.
# timeout: 900
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" "$B/tests/vmwriter" corosync

cluster_env
export VM_RATE=50 VM_SYNC=4
source "$REPO/tests/vm/lib-vm.sh"
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'
vm_setup

# steps say when they start: under load, the log shows where the time went
tstep() { step "$* (at ${SECONDS}s)"; }
nlog() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
VMW=$B/tests/vmwriter

# Waits until NAME's outgoing migration is active and has sent something
# (polled every 0.5 s).
wait_active() {
	local i
	for ((i = 0; i < 120; i++)); do
		vm_qmp "$1" query-migrate | grep -q '"status": "active".*"transferred": [1-9]' && return 0
		sleep 0.5
	done
	fail "$1: the migration never became active: $(vm_qmp "$1" query-migrate)"
}

# Tells the guest to verify every record it wrote, then to stop; sets
# GUEST_N to the number of records (every one of them flushed).
guest_verify_stop() {
	local name=$1 n
	vm_send "$name" verify
	wait_for 600 grep -qE '^gw: (verified|verify failed)' "$VMD/$name/console.log" ||
		fail "$name: the guest did not answer verify"
	assert_match '^gw: verified [0-9]+' "$(grep -E '^gw: verif' "$VMD/$name/console.log")" \
		"$name: the guest's check of its records"
	vm_send "$name" stop
	wait_for 300 grep -q '^gw: stopped' "$VMD/$name/console.log" ||
		fail "$name: the guest did not stop"
	n=$(sed -n 's/^gw: stopped \([0-9]*\).*/\1/p' "$VMD/$name/console.log")
	info "$name: guest verified $(sed -n 's/^gw: verified //p' "$VMD/$name/console.log"), stopped at $n"
	GUEST_N=$n
}

mkimg "$img" 3G
mkfs_vol "$img"
tstep "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
"$CL" run 1 -- truncate -s 256M "$(mnt 1)/vm.raw"

tstep "raw image, -drive cache=none: the guest boots on node 1 and writes"
vm_start a1 1 drive "$(mnt 1)/vm.raw" || { _show "$(cat "$VMD/a1/qemu.out")"; fail "QEMU did not start on node 1"; }
vm_wait_synced a1 16 120
vm_clean a1

tstep "a second QEMU on node 3 on the same image cannot write it"
last=$(vm_synced a1)
ino=$("$CL" run 1 -- stat -c %i "$(mnt 1)/vm.raw")
if vm_start x3 3 drive "$(mnt 3)/vm.raw"; then
	fail "a second QEMU started on node 3 on the image the VM on node 1 writes"
fi
info "refused: $(grep -m1 -iE 'vm.raw' "$VMD/x3/qemu.out" || head -n 1 "$VMD/x3/qemu.out")"
assert_match 'Device or resource busy' "$(cat "$VMD/x3/qemu.out")" "the second QEMU's error"
assert_match "ino $ino: .*node 3 refused.*node 1" "$(cat "$(nlog 1)")" \
	"the coordinator's log line naming the owner node"
# libvirt's style opens read-only first (auto-read-only) and fails when
# the virtio device asks for write access
if vm_start y3 3 blockdev "$(mnt 3)/vm.raw"; then
	fail "a second QEMU (-blockdev, auto-read-only) started on node 3 on the image the VM on node 1 writes"
fi
assert_match 'Device or resource busy' "$(cat "$VMD/y3/qemu.out")" "the second QEMU's error (-blockdev)"
info "refused (-blockdev): $(grep -m1 -i 'busy' "$VMD/y3/qemu.out" | sed 's/.*: \([^:]*: Device or resource busy\)/\1/')"
vm_wait_synced a1 "$last" 60
vm_clean a1

tstep "migrate 1 -> 2 -> 1 -> 2 -> 1 (-drive)"
vm_migrate a1 a2 2 drive "$(mnt 2)/vm.raw"
vm_migrate a2 a3 1 drive "$(mnt 1)/vm.raw"
vm_migrate a3 a4 2 drive "$(mnt 2)/vm.raw"
vm_migrate a4 a5 1 drive "$(mnt 1)/vm.raw"

tstep "migrate_cancel half-way: the VM carries on on node 1"
ip2=$(vm_node_ip 2)
vm_start c2 2 drive "$(mnt 2)/vm.raw" "tcp:$ip2:4499" ||
	{ _show "$(cat "$VMD/c2/qemu.out")"; fail "the target QEMU on node 2 did not start"; }
# slow enough to be caught while active (the guest's RAM takes seconds)
vm_qmp a5 migrate-set-parameters '{"max-bandwidth": 1048576}' >/dev/null
vm_qmp a5 migrate '{"uri": "tcp:'"$ip2"':4499"}' >/dev/null
wait_active a5
vm_qmp a5 migrate_cancel >/dev/null
vm_wait_migration a5 60 || true
assert_match '"status": "cancelled"' "$VM_OUT" "the migration's state after migrate_cancel"
vm_wait_status a5 running 30 || fail "a5: not running after migrate_cancel"
last=$(vm_synced a5)
vm_wait_synced a5 "$last" 60
wait_for 300 eval '! _vm_alive c2' || vm_quit c2
vm_clean a5

tstep "libvirt's -blockdev style: migrate 1 -> 2 -> 1; the guest checks every record"
vm_migrate a5 b2 2 blockdev "$(mnt 2)/vm.raw"
vm_migrate b2 b3 1 blockdev "$(mnt 1)/vm.raw"
vm_send b3 verify
wait_for 600 grep -qE '^gw: (verified|verify failed)' "$VMD/b3/console.log" ||
	fail "b3: the guest did not answer verify"
assert_match '^gw: verified [0-9]+' "$(grep -E '^gw: verif' "$VMD/b3/console.log")" \
	"b3: the guest's check of its records"
info "b3: guest $(grep -E '^gw: verif' "$VMD/b3/console.log")"

tstep "node 1 dies during a migration: the VM restarts on node 2 with every flushed record"
vm_qmp b3 migrate-set-parameters '{"max-bandwidth": 1048576}' >/dev/null
vm_start k2 2 blockdev "$(mnt 2)/vm.raw" "tcp:$ip2:4498" ||
	{ _show "$(cat "$VMD/k2/qemu.out")"; fail "the target QEMU on node 2 did not start"; }
vm_qmp b3 migrate '{"uri": "tcp:'"$ip2"':4498"}' >/dev/null
wait_active b3
vm_clean b3
flushed=$(vm_synced b3)
"$CL" kill 1 >/dev/null
vm_kill b3
info "node 1 killed with its VM; the guest had flushed $flushed records"
wait_for 600 eval '! _vm_alive k2' || fail "k2: the incoming QEMU did not give up when its source died"
t0=$SECONDS
i=0
until vm_start "r$i" 2 blockdev "$(mnt 2)/vm.raw"; do
	assert_match 'Device or resource busy' "$(cat "$VMD/r$i/qemu.out")" "why the restart on node 2 is refused"
	((SECONDS - t0 < 120)) || fail "the VM could not start on node 2 within 120 s of node 1's death"
	i=$((i + 1))
	sleep 2
done
r=r$i
info "the VM started on node 2 $((SECONDS - t0)) s after node 1 died ($i refusals first)"
wait_for 1200 grep -q '^gw: resume' "$VMD/$r/console.log" || fail "$r: the guest did not start"
resumed=$(sed -n 's/^gw: resume \([0-9]*\).*/\1/p' "$VMD/$r/console.log")
((resumed >= flushed)) || fail "the guest found $resumed valid records, it had flushed $flushed"
vm_wait_synced "$r" "$resumed" 60
guest_verify_stop "$r"
nk=$GUEST_N
vm_clean "$r"
vm_quit "$r"
out=$("$CL" run 3 -- "$VMW" verify-disk "$(mnt 3)/vm.raw" --exact "$nk") ||
	{ _show "$out"; fail "host check of vm.raw after node 1's death"; }
info "host: $out (flushed before the death: $flushed, found at restart: $resumed)"

tstep "qcow2 image (nodes 2 and 3; node 1 stays dead): migrate 2 -> 3 -> 2, then every record checked"
"$CL" run 2 -- qemu-img create -q -f qcow2 "$(mnt 2)/vm.qcow2" 256M
vm_start q1 2 drive "$(mnt 2)/vm.qcow2" || { _show "$(cat "$VMD/q1/qemu.out")"; fail "QEMU on qcow2 did not start"; }
vm_wait_synced q1 16 120
vm_migrate q1 q2 3 drive "$(mnt 3)/vm.qcow2"
vm_migrate q2 q3 2 drive "$(mnt 2)/vm.qcow2"
guest_verify_stop q3
nq=$GUEST_N
vm_clean q3
vm_quit q3
"$CL" run 3 -- qemu-img check -q "$(mnt 3)/vm.qcow2" || fail "qemu-img check of vm.qcow2"
"$CL" run 3 -- qemu-img convert -f qcow2 -O raw "$(mnt 3)/vm.qcow2" "$T/q.raw"
out=$("$VMW" verify-disk "$T/q.raw" --exact "$nq") || { _show "$out"; fail "host check of vm.qcow2"; }
info "host: $out"
rm -f "$T/q.raw"

tstep "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

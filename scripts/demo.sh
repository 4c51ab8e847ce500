#!/bin/bash
# The main job (make demo): a local 3-node cluster — real corosync in
# network namespaces — sharing one csvfs volume in an image file. A VM
# disk (qcow2) is created on node 1, written by qemu-io with O_DIRECT, and
# read back and checked on node 2 and node 3; the coordinator role moves;
# a real QEMU guest (tests/vm: Debian's cloud kernel + busybox, TCG) that
# writes checksummed records to its csvfs disk is live-migrated node 1 ->
# node 2 -> node 1 by QEMU's own migration, with no csvfs step, while a
# second QEMU on node 3 is refused the disk; a running "VM" (tests/tools/vmwriter: numbered, checksummed 4 KiB
# O_DIRECT records) has its disk handed back and forth between node 1 and
# node 2 as in a live migration, while a conflicting open from another node
# is refused; the role fails over while the volume stays in use. When
# Pacemaker and libvirt are installed (make demo installs them), Pacemaker
# then mounts the volume as a clone and runs the guest as a VirtualDomain
# resource: crm_mon, two live moves, a node kill with STONITH and the VM
# restarted elsewhere with every flushed record.
# Everything it starts is torn down at the end, also on failure.
#
#   scripts/demo.sh [BUILD_DIR]
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
CL=$REPO/scripts/cluster
WORK=$(mktemp -d /var/tmp/csvfs-demo.XXXXXX)
export CSVFS_BIN=$B CSVFS_CLUSTER_STATE=$WORK/cluster
IMG=$WORK/volume.img

VM_PIDS=()
PROV=csvfs-demo$$		# a private OCF provider: the agent is not installed
PDIR=/usr/lib/ocf/resource.d/$PROV
cleanup() {
	local p
	for p in "${VM_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	"$CL" down >/dev/null 2>&1 || true
	rm -rf "$PDIR"
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
run() { "$CL" run "$@"; }
mnt() { echo "$CSVFS_CLUSTER_STATE/node$1/mnt"; }
ms() { date +%s%3N; }
coord() {
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}

# until SECS WHAT CMD...: runs CMD until it succeeds; fails the demo after SECS
until_ok() {
	local end=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		((SECONDS < end)) || { echo "demo: $what did not happen within the time given" >&2; return 1; }
		sleep 0.5
	done
}

# The Pacemaker part: the same volume mounted by a clone of ocf:csvfs:csvfs,
# the test guest run by ocf:heartbeat:VirtualDomain through libvirt (each
# node has its own libvirtd), moved live by `crm_resource --move`, and
# restarted elsewhere after its node is killed and fenced.
pacemaker_part() {
	local mp=$WORK/vms con=$WORK/pcmk-console.log key=$WORK/pcmk.key n from to
	local victim obs flushed t0 resumed last boots
	say "Pacemaker: a clone mounts the volume on 3 nodes, libvirt runs a VM (ocf:heartbeat:VirtualDomain)"
	export CSVFS_CLUSTER_STATE=$WORK/pcmk
	PCMK_CL=$CL
	source "$REPO/tests/vm/lib-pcmk.sh"
	mkdir -p "$PDIR" "$mp"
	install -m 0755 "$REPO/scripts/ocf/csvfs" "$PDIR/"
	"$B/csvfsctl" keygen "$key" >/dev/null
	t0=$(ms)
	"$CL" up -n 3 --no-mount --pacemaker --libvirt "$IMG" >"$WORK/pcmk-up.log" 2>&1 ||
		{ cat "$WORK/pcmk-up.log"; return 1; }
	run 1 -- crm_attribute -t crm_config -n start-failure-is-fatal -v false >/dev/null
	pcmk_add_volume "$PROV" "$IMG" "$mp" "$key" "$B" "logfile=$WORK/pcmk-csvfs.log" >/dev/null
	for n in 1 2 3; do
		until_ok 180 "the mount on node $n" run "$n" -- mountpoint -q "$mp"
	done
	echo "corosync, pacemaker and libvirtd up and the volume mounted on 3 nodes in $(( $(ms) - t0 )) ms"
	run 1 -- truncate -s 512M "$mp/vm.raw"
	pcmk_domain_xml "$WORK/vm1.xml" "$GUEST" "$mp/vm.raw" "$con" 100 8
	pcmk_add_vm "$WORK/vm1.xml" >/dev/null
	until_ok 240 "the VM start" eval '[ -n "$(pcmk_located)" ] && grep -qs "^gw: synced" "$con"'
	run 1 -- crm_mon -1 | sed 's/^/    /'
	for n in 1 2; do
		from=$(pcmk_located)
		to=node$(( ${from#node} % 3 + 1 ))
		boots=$(grep -c '^gw: resume' "$con")
		pcmk_move "$to" 240
		# a live move keeps the guest running: it never boots again
		(( $(grep -c '^gw: resume' "$con") == boots )) ||
			{ echo "demo: move $n restarted the guest instead of migrating it" >&2; return 1; }
		echo "live move $n: $from -> $to by crm_resource --move in $PCMK_MS ms" \
			"(libvirt's migration: ${PCMK_MIGRATE_MS:-?} ms); the guest kept running"
	done
	last=$(synced "$con")
	until_ok 120 "the guest's progress" eval \
		'(( $(synced "$con") > last + 50 ))'
	echo "guest I/O errors so far: $(grep -ciE 'I/O error|blk_update_request' "$con" || true)"

	say "Pacemaker: the VM's node is killed; STONITH fences it and the VM starts on another node"
	pcmk_add_fence >/dev/null
	until_ok 120 "the fence device start" eval 'run 1 -- crm_mon -1 | grep -q "fence.*Started"'
	victim=$(pcmk_located)
	obs=$(( ${victim#node} % 3 + 1 ))
	flushed=$(synced "$con")
	boots=$(grep -c '^gw: resume' "$con")
	t0=$(ms)
	"$CL" kill "${victim#node}" >/dev/null 2>&1
	echo "killed $victim; the guest had flushed $flushed records"
	until_ok 240 "the VM restart" pcmk_wait_located "!$victim" 1 "$obs"
	until_ok 120 "the guest restart" eval '(( $(grep -c "^gw: resume" "$con") > boots ))'
	resumed=$(sed -n 's/^gw: resume \([0-9]*\).*/\1/p' "$con" | tail -n 1)
	echo "the VM runs again on $(pcmk_located "$obs") $(( $(ms) - t0 )) ms after the kill;" \
		"its guest found $resumed valid records (flushed before the kill: $flushed)"
	((resumed >= flushed)) || { echo "demo: records lost" >&2; return 1; }
	run "$obs" -- crm_mon -1 | sed 's/^/    /'
	run "$obs" -- crm_resource --resource vm --set-parameter target-role --meta \
		--parameter-value Stopped >/dev/null
	until_ok 180 "the VM stop" eval '[ -z "$(pcmk_located "$obs")" ]'
	last=$(synced "$con")
	echo "VM stopped; node $obs checks every record the guest flushed ($last):"
	run "$obs" -- "$B/tests/vmwriter" verify-disk "$mp/vm.raw" --min "$last" | sed 's/^/    /'
	"$CL" down >/dev/null 2>&1
	"$B/fsck.csvfs" -n "$IMG"
}

say "formatting a 4 GiB volume image"
truncate -s 4G "$IMG"
"$B/mkfs.csvfs" -L demo "$IMG"

say "starting 3 nodes (corosync in namespaces) and mounting the volume on each"
t0=$(ms)
"$CL" up -n 3 "$IMG"
echo "cluster up in $(( $(ms) - t0 )) ms"
run 2 -- "$B/csvfsctl" status "$(mnt 2)"

say "node 1: a 2 GiB qcow2 VM disk, 64 MiB of guest writes with O_DIRECT"
run 1 -- qemu-img create -q -f qcow2 "$(mnt 1)/vm1.qcow2" 2G
t0=$(ms)
run 1 -- qemu-io -f qcow2 -t none -c 'write -P 0x5a 0 32M' \
	-c 'write -P 0xa5 32M 32M' "$(mnt 1)/vm1.qcow2" >/dev/null
echo "64 MiB written in $(( $(ms) - t0 )) ms"

say "node 2 and node 3 read the disk and check every byte"
for n in 2 3; do
	run "$n" -- qemu-io -f qcow2 -t none -r -c 'read -P 0x5a 0 32M' \
		-c 'read -P 0xa5 32M 32M' "$(mnt $n)/vm1.qcow2" | grep -q 'read 33554432' &&
		echo "node $n: pattern verified"
	run "$n" -- qemu-img check -q "$(mnt $n)/vm1.qcow2" && echo "node $n: qemu-img check clean"
done

say "moving the coordinator role to node 3"
t0=$(ms)
run 1 -- "$B/csvfsctl" coordinator move 3 "$(mnt 1)"
until [ "$(coord 1)" = 3 ]; do sleep 0.05; done
echo "coordinator is node $(coord 1) after $(( $(ms) - t0 )) ms"
run 2 -- qemu-io -f qcow2 -t none -c 'write -P 0x77 64M 8M' "$(mnt 2)/vm1.qcow2" >/dev/null
run 1 -- qemu-io -f qcow2 -t none -r -c 'read -P 0x77 64M 8M' "$(mnt 1)/vm1.qcow2" | grep -q 'read 8388608' &&
	echo "node 2 wrote, node 1 verified, through the new coordinator"

say "a real QEMU VM live-migrated node 1 -> node 2 -> node 1 (QEMU's own migration, no csvfs step)"
GUEST=$("$REPO/tests/vm/build-guest.sh" "$B")
run 1 -- truncate -s 256M "$(mnt 1)/vm3.raw"
# qmp NAME CMD [ARGS-JSON]: one QMP command; "migrate-wait" polls until done
qmp() {
	python3 - "$WORK/$1.qmp" "$2" "${3:-{\}}" <<'PY'
import json, socket, sys, time
path, cmd, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rw")
def call(c, a=None):
    f.write(json.dumps({"execute": c, "arguments": a or {}}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
f.readline(); call("qmp_capabilities")
if cmd != "migrate-wait":
    print(json.dumps(call(cmd, args))); sys.exit(0)
while True:
    r = call("query-migrate")["return"]
    if r.get("status") in ("completed", "failed", "cancelled"):
        print(r.get("status"), r.get("downtime", "?")); break
    time.sleep(0.2)
PY
}
qemu_on() { # NODE NAME [INCOMING]
	local a=(-name "$2" -machine pc -accel tcg -m 256 -smp 1 -nodefaults
		-no-user-config -display none -kernel "$GUEST/vmlinuz"
		-initrd "$GUEST/initrd.img"
		-append "console=ttyS0 quiet panic=-1 rate=100 sync=8"
		-chardev "file,id=con,path=$WORK/vm3.console" -serial chardev:con
		-qmp "unix:$WORK/$2.qmp,server=on,wait=off"
		-pidfile "$WORK/$2.pid" -daemonize
		-drive "file=$(mnt "$1")/vm3.raw,format=raw,cache=none,if=virtio")
	[[ -n ${3:-} ]] && a+=(-incoming "$3")
	run "$1" -- qemu-system-x86_64 "${a[@]}" || return 1
	VM_PIDS+=("$(cat "$WORK/$2.pid")")
}
# synced [CONSOLE]: the last record the guest reported flushed
synced() { sed -n 's/^gw: synced \([0-9]*\).*/\1/p' "${1:-$WORK/vm3.console}" | tail -n 1; }
ip_of() { run "$1" -- ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4 }'; }
qemu_on 1 q0
until [[ -n $(synced) ]]; do sleep 0.5; done
echo "guest running on node 1, records synced: $(synced)"
echo "a second QEMU on node 3 with the same disk:"
run 3 -- timeout 30 qemu-system-x86_64 -accel tcg -m 64 -display none -nodefaults \
	-drive "file=$(mnt 3)/vm3.raw,format=raw,cache=none,if=virtio" -S 2>&1 |
	sed 's/^/    /' || true
src=1 name=q0
for hop in 1 2; do
	dst=$((3 - src))
	port=$((4700 + hop))
	qemu_on "$dst" "q$hop" "tcp:$(ip_of "$dst"):$port"
	before=$(synced)
	qmp "$name" migrate "{\"uri\": \"tcp:$(ip_of "$dst"):$port\"}" >/dev/null
	read -r status downtime < <(qmp "$name" migrate-wait)
	[[ $status == completed ]] || { echo "migration $hop: $status"; exit 1; }
	qmp "$name" quit >/dev/null 2>&1 || true
	until (( $(synced) > before + 50 )); do sleep 0.5; done
	echo "hop $hop: node $src -> node $dst $status, QEMU downtime $downtime ms; guest at record $(synced), no I/O error: $(grep -c 'I/O error' "$WORK/vm3.console") errors"
	src=$dst name=q$hop
done
qmp "$name" quit >/dev/null 2>&1 || true
sleep 1
last=$(synced)
echo "node 2 checks every record the guest flushed ($last):"
run 2 -- "$B/tests/vmwriter" verify-disk "$(mnt 2)/vm3.raw" --min "$last" | sed 's/^/    /'
VM_PIDS=()

say "a running VM's disk handed between node 1 and node 2 (live-migration switch-over)"
VMW=$B/tests/vmwriter
HANDOFFS=10
# vm_start NODE I: starts the VM writer on NODE; its pid in $WORK/vm.I.pid
vm_start() {
	run "$1" -- sh -c "echo \$\$ > $WORK/vm.$2.pid; exec $VMW write $(mnt "$1")/vm2.img --usleep 200" \
		</dev/null >"$WORK/vm.$2.out" 2>&1 &
	until [ -s "$WORK/vm.$2.pid" ] && grep -q resumed "$WORK/vm.$2.out"; do sleep 0.05; done
	VM_PIDS+=("$(cat "$WORK/vm.$2.pid")")
}
vm_wait() { until grep -q "$2" "$WORK/vm.$1.out"; do sleep 0.05; done; }
src=1
vm_start 1 0
sleep 0.5
echo "node 3 tries to open the running VM's disk for writing:"
run 3 -- sh -c "exec 3>>$(mnt 3)/vm2.img" 2>&1 | sed 's/^/    /' || true
echo "csvfsctl locks on node 3:"
run 3 -- "$B/csvfsctl" locks "$(mnt 3)" | sed 's/^/    /'; echo
: >"$WORK/handoff-ms"
for i in $(seq 1 "$HANDOFFS"); do
	dst=$((3 - src))
	pid=$(cat "$WORK/vm.$((i - 1)).pid")
	kill -USR1 "$pid"			# the VM pauses (migration switch-over)
	vm_wait $((i - 1)) paused
	out=$(run "$src" -- "$B/csvfsctl" handoff "$(mnt $src)/vm2.img" "$dst")
	echo "  $out (node $src -> node $dst, after $(sed -n 's/^paused //p' "$WORK/vm.$((i - 1)).out") records)"
	sed -n 's/.* in \([0-9.]*\) ms$/\1/p' <<<"$out" >>"$WORK/handoff-ms"
	vm_start "$dst" "$i"			# the VM resumes on the target
	kill -TERM "$pid"			# the source's process goes away
	vm_wait $((i - 1)) stopped
	sleep 0.3
	src=$dst
done
kill -TERM "$(cat "$WORK/vm.$HANDOFFS.pid")"
vm_wait "$HANDOFFS" stopped
VM_PIDS=()
records=$(sed -n 's/^stopped //p' "$WORK/vm.$HANDOFFS.out")
sort -n "$WORK/handoff-ms" | awk '{ v[NR] = $1 } END {
	printf "%d handoffs: min %.1f ms, median %.1f ms, max %.1f ms\n", NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
echo "the VM wrote $records records; node 3 checks every one:"
run 3 -- "$VMW" verify "$(mnt 3)/vm2.img" --count "$records" | sed 's/^/    /'

say "killing node 3 (the coordinator): the role fails over"
t0=$(ms)
"$CL" kill 3
run 1 -- sh -c "echo still-here > $(mnt 1)/after-failover"
echo "first metadata change after the kill answered in $(( $(ms) - t0 )) ms; coordinator is node $(coord 1)"
run 2 -- cat "$(mnt 2)/after-failover"

say "unmounting everywhere and checking the volume"
"$CL" down
"$B/fsck.csvfs" -n "$IMG"

if command -v pacemakerd >/dev/null && command -v libvirtd >/dev/null; then
	pacemaker_part
else
	say "Pacemaker or libvirt is not installed: the Pacemaker part is left out"
fi
echo
echo "demo finished: every step above succeeded"

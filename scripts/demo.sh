#!/bin/bash
# The main job (make demo): a local 3-node cluster — real corosync in
# network namespaces — sharing one csvfs volume in an image file. A VM
# disk (qcow2) is created on node 1, written by qemu-io with O_DIRECT, and
# read back and checked on node 2 and node 3; the coordinator role moves
# and fails over while the volume stays in use. Everything it starts is
# torn down at the end, also on failure.
#
#   scripts/demo.sh [BUILD_DIR]
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
CL=$REPO/scripts/cluster
WORK=$(mktemp -d /var/tmp/csvfs-demo.XXXXXX)
export CSVFS_BIN=$B CSVFS_CLUSTER_STATE=$WORK/cluster
IMG=$WORK/volume.img

cleanup() {
	"$CL" down >/dev/null 2>&1 || true
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

say "killing node 3 (the coordinator): the role fails over"
t0=$(ms)
"$CL" kill 3
run 1 -- sh -c "echo still-here > $(mnt 1)/after-failover"
echo "first metadata change after the kill answered in $(( $(ms) - t0 )) ms; coordinator is node $(coord 1)"
run 2 -- cat "$(mnt 2)/after-failover"

say "unmounting everywhere and checking the volume"
"$CL" down
"$B/fsck.csvfs" -n "$IMG"
echo
echo "demo finished: every step above succeeded"

#!/bin/bash
# t1200 — VM disk images on csvfs: qemu-img create/convert/check/compare/
# resize of raw and qcow2 images, and qemu-io with cache=none (O_DIRECT)
# writing patterns, reading them back, and discarding; all images still
# check and compare equal after an unmount, fsck and remount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" qemu-img qemu-io sha256sum

img=$T/vol.img
M=$T/mnt
mkimg "$img" 1G
mkfs_vol "$img"
mount_vol "$img" "$M"

# qemu-io exits non-zero when a command fails (e.g. "Pattern verification
# failed"); the message check guards against a version that does not.
qio() {
	run_capture qemu-io "$@"
	if ((RC != 0)) || grep -qiE 'fail|error|mismatch' <<<"$OUT"; then
		printf 'FAIL: %s: qemu-io %s (exit %s)\n' "$(_where)" "$*" "$RC" >&2
		_show "$OUT"
		exit 1
	fi
}

step "qemu-img create raw and qcow2"
assert_ok qemu-img create -f raw "$M/disk.raw" 64M
assert_ok qemu-img create -f qcow2 "$M/disk.qcow2" 64M
assert_match '"virtual-size": 67108864' "$(qemu-img info --output=json "$M/disk.raw")" "raw virtual size"
assert_match '"format": "qcow2"' "$(qemu-img info --output=json "$M/disk.qcow2")" "qcow2 format"
assert_ok qemu-img check "$M/disk.qcow2"

step "qemu-io -t none on raw: patterns written and read back"
qio -f raw -t none -c 'write -P 0xab 0 4M' -c 'write -P 0xcd 1M 512k' "$M/disk.raw"
qio -f raw -t none -c 'read -P 0xab 0 1M' -c 'read -P 0xcd 1M 512k' \
	-c 'read -P 0xab 1536k 2560k' -c 'read -P 0 4M 60M' "$M/disk.raw"
# unaligned to 1 MiB blocks, 4 KiB guest writes, the last sector
qio -f raw -t none -c 'write -P 0x11 4092k 8k' -c 'write -P 0x22 64508k 4k' \
	-c 'write -P 0x33 67104768 4096' "$M/disk.raw"
qio -f raw -t none -c 'read -P 0xab 0 1M' -c 'read -P 0x11 4092k 8k' \
	-c 'read -P 0 4100k 60408k' -c 'read -P 0x22 64508k 4k' \
	-c 'read -P 0x33 67104768 4096' "$M/disk.raw"
run_capture qemu-io -f raw -t none -c 'read -P 0xcd 0 4k' "$M/disk.raw"
((RC != 0)) || grep -q 'Pattern verification failed' <<<"$OUT" ||
	fail "qemu-io did not notice a wrong pattern: its checks cannot be trusted"

step "qemu-io -t none on qcow2"
qio -f qcow2 -t none -c 'write -P 0xab 0 4M' -c 'write -P 0xcd 1M 512k' "$M/disk.qcow2"
qio -f qcow2 -t none -c 'read -P 0xab 0 1M' -c 'read -P 0xcd 1M 512k' \
	-c 'read -P 0xab 1536k 2560k' -c 'read -P 0 4M 4M' "$M/disk.qcow2"
assert_ok qemu-img check "$M/disk.qcow2"

step "qemu-io discard on raw reads back zeroes"
qio -f raw -t none -c 'discard 2M 1M' -c 'read -P 0 2M 1M' \
	-c 'read -P 0xab 0 1M' -c 'read -P 0xab 3M 1020k' "$M/disk.raw"
qio -f raw -t none -c 'discard 4092k 8k' -c 'read -P 0 4092k 8k' "$M/disk.raw"
qio -f qcow2 -t none -c 'discard 2M 1M' -c 'read -P 0 2M 1M' "$M/disk.qcow2"
assert_ok qemu-img check "$M/disk.qcow2"

step "qemu-img convert raw -> qcow2 -> raw, compare"
assert_ok qemu-img convert -f raw -O qcow2 "$M/disk.raw" "$M/conv.qcow2"
assert_ok qemu-img check "$M/conv.qcow2"
assert_ok qemu-img convert -f qcow2 -O raw "$M/conv.qcow2" "$M/back.raw"
assert_ok cmp "$M/disk.raw" "$M/back.raw"
assert_ok qemu-img compare -f raw -F qcow2 "$M/disk.raw" "$M/conv.qcow2"
# and with O_DIRECT on both sides
assert_ok qemu-img convert -t none -T none -f raw -O qcow2 "$M/disk.raw" "$M/conv2.qcow2"
assert_ok qemu-img compare -f qcow2 -F qcow2 "$M/conv.qcow2" "$M/conv2.qcow2"

step "qemu-img resize"
assert_ok qemu-img resize -f raw "$M/back.raw" 128M
assert_eq 134217728 "$(stat -c %s "$M/back.raw")" "raw size after resize"
qio -f raw -t none -c 'read -P 0 64M 64M' -c 'read -P 0xab 0 1M' "$M/back.raw"
assert_ok qemu-img resize -f qcow2 "$M/conv.qcow2" 128M
assert_ok qemu-img check "$M/conv.qcow2"

step "a qcow2 overlay on a raw backing file"
assert_ok qemu-img create -f qcow2 -F raw -b "$M/disk.raw" "$M/overlay.qcow2"
qio -f qcow2 -t none -c 'write -P 0x77 8M 1M' -c 'read -P 0xab 0 1M' \
	-c 'read -P 0x77 8M 1M' "$M/overlay.qcow2"
assert_ok qemu-img check "$M/overlay.qcow2"

step "unmount, fsck clean, remount: images unchanged"
sums=$(cd "$M" && sha256sum ./*.raw ./*.qcow2)
umount_vol "$M"
fsck_clean "$img"
mount_vol "$img" "$M"
assert_eq "$sums" "$(cd "$M" && sha256sum ./*.raw ./*.qcow2)" "image checksums after remount"
for q in disk conv conv2 overlay; do
	assert_ok qemu-img check "$M/$q.qcow2"
done
qio -f raw -t none -c 'read -P 0 4092k 8k' -c 'read -P 0x22 64508k 4k' -c 'read -P 0xcd 1M 512k' "$M/disk.raw"
umount_vol "$M"
fsck_clean "$img"
step "done"

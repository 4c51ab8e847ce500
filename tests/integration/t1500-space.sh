#!/bin/bash
# t1500 — space management on a standalone mount: a thin 100 GiB image on a
# 1 GiB volume takes only what is written; punching holes and qemu-io
# discards give whole blocks back; csvfsctl reserve holds space for a file
# while another file fills the volume; preallocate --zero gives written,
# zeroed blocks; csvfsctl df (table and --json) shows size, used, reserved,
# provisioned and overcommit; the low-space warning is logged once per
# crossing; a full volume gives ENOSPC and recovers; an enlarged image file
# is grown online with csvfsctl grow; fsck is clean after each phase.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" \
	"$TOOLS/seekdata" qemu-img qemu-io python3 fallocate

img=$T/vol.img
M=$T/mnt
log=$T/csvfsd.log
MiB=$((1 << 20))
mkimg "$img" 1G
mkfs_vol "$img"
mount_vol "$img" "$M" "logfile=$log,lowspace=20"

# df --json field (integer bytes, or the overcommit ratio)
dfj() {
	"$B/csvfsctl" --json df "$M" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
used_mib() { echo $(($(dfj used_bytes) / MiB)); }
# Waits for used space to reach $1 MiB (a last close gives back the blocks
# allocated ahead of a writer; release is asynchronous to close(2)).
expect_used() {
	local want=$1 msg=$2
	wait_for 50 test "$(used_mib)" -eq "$want" || true
	assert_eq "$want" "$(used_mib)" "$msg"
}

step "thin: a 100 GiB image on a 1 GiB volume takes nothing until written"
base=$(used_mib)
truncate -s 100G "$M/thin.img"
assert_eq 107374182400 "$(stat -c %s "$M/thin.img")" "thin image size"
expect_used "$base" "used after creating the thin image"
dd if=/dev/urandom of="$M/thin.img" bs=1M count=200 seek=1000 conv=notrunc,fsync status=none
expect_used $((base + 200)) "used after writing 200 MiB"
sum_thin=$(dd if="$M/thin.img" bs=1M skip=1000 count=200 status=none | sha256sum)

step "punch a hole of 100 MiB: whole blocks go back"
fallocate -p -o $((1050 * MiB)) -l $((100 * MiB)) "$M/thin.img"
expect_used $((base + 100)) "used after punching 100 MiB"
assert_eq 0 "$(dd if="$M/thin.img" bs=1M skip=1050 count=100 status=none | tr -d '\0' | wc -c)" \
	"the punched range reads zeroes"
# an unaligned punch frees only the whole blocks inside it
fallocate -p -o $((1000 * MiB + 4096)) -l $((2 * MiB)) "$M/thin.img"
expect_used $((base + 99)) "used after an unaligned 2 MiB punch"
rm "$M/thin.img"
expect_used "$base" "used after removing the thin image"

step "qemu-io discard frees space (raw and qcow2, cache=none)"
assert_ok qemu-img create -f raw "$M/d.raw" 10G
run_capture qemu-io -f raw -t none -c 'write -P 0x5a 0 64M' "$M/d.raw"
((RC == 0)) || fail "qemu-io write: $OUT"
expect_used $((base + 64)) "used after qemu-io wrote 64 MiB"
run_capture qemu-io -f raw -t none -c 'discard 16M 32M' -c 'read -P 0 16M 32M' \
	-c 'read -P 0x5a 0 16M' -c 'read -P 0x5a 48M 16M' "$M/d.raw"
((RC == 0)) && ! grep -qi fail <<<"$OUT" || fail "qemu-io discard: $OUT"
expect_used $((base + 32)) "used after discarding 32 MiB of a raw image"
run_capture qemu-io -f raw -t none -c 'write -z -u 48M 16M' "$M/d.raw"
((RC == 0)) || fail "qemu-io write -z -u: $OUT"
expect_used $((base + 16)) "used after write -z -u (unmap) of 16 MiB"
rm "$M/d.raw"
assert_ok qemu-img create -f qcow2 "$M/d.qcow2" 10G
run_capture qemu-io -f qcow2 -t none -c 'write -P 0x77 0 64M' "$M/d.qcow2"
((RC == 0)) || fail "qemu-io qcow2 write: $OUT"
wait_for 50 test "$(used_mib)" -ge $((base + 64))
q_used=$(used_mib)
run_capture qemu-io -f qcow2 -t none -c 'discard 0 48M' -c 'read -P 0 0 48M' "$M/d.qcow2"
((RC == 0)) && ! grep -qi fail <<<"$OUT" || fail "qemu-io qcow2 discard: $OUT"
wait_for 50 test "$(used_mib)" -le $((q_used - 40)) || true
(($(used_mib) <= q_used - 40)) ||
	fail "qcow2 discard of 48 MiB freed only $((q_used - $(used_mib))) MiB"
info "qcow2: $q_used MiB used before the discard, $(used_mib) after"
assert_ok qemu-img check "$M/d.qcow2"
rm "$M/d.qcow2"
expect_used "$base" "used after removing the images"

step "preallocate --zero: written blocks that read zeroes"
truncate -s 64M "$M/thin2.img"
assert_match '^hole 0 67108864' "$("$TOOLS/seekdata" "$M/thin2.img")" "a new file is one hole"
fallocate -l 64M "$M/unwritten.img"
assert_match '^hole 0 67108864' "$("$TOOLS/seekdata" "$M/unwritten.img")" \
	"fallocate: unwritten blocks read as a hole"
expect_used $((base + 64)) "used after fallocate of 64 MiB"
assert_ok "$B/csvfsctl" preallocate --zero "$M/thin2.img"
assert_match '^data 0 67108864' "$("$TOOLS/seekdata" "$M/thin2.img")" \
	"preallocate --zero: the whole file is data (written extents)"
expect_used $((base + 128)) "used after preallocate --zero of 64 MiB"
assert_eq 0 "$(tr -d '\0' <"$M/thin2.img" | wc -c)" "a preallocated file reads zeroes"
assert_ok "$B/csvfsctl" preallocate --zero "$M/unwritten.img"
assert_match '^data 0 67108864' "$("$TOOLS/seekdata" "$M/unwritten.img")" \
	"preallocate --zero turns unwritten blocks into written ones"
expect_used $((base + 128)) "used after converting unwritten blocks"
: >"$M/sized.img"
assert_ok "$B/csvfsctl" preallocate --zero "$M/sized.img" 8M
assert_eq 8388608 "$(stat -c %s "$M/sized.img")" "preallocate with a size extends the file"
expect_used $((base + 136)) "used after preallocating 8 MiB more"
assert_fails "$B/csvfsctl" preallocate "$M/sized.img"
assert_match 'only --zero' "$OUT" "preallocate without --zero"
rm "$M/thin2.img" "$M/unwritten.img" "$M/sized.img"
expect_used "$base" "used after removing the preallocated files"

step "reservations: the reserved file can still write when another fills the volume"
: >"$M/vm.img"
assert_ok "$B/csvfsctl" reserve "$M/vm.img" 300M
assert_match '300.0 MiB reserved' "$OUT" "reserve's answer"
assert_ok "$B/csvfsctl" reserve "$M/vm.img"
assert_match '300.0 MiB reserved' "$OUT" "reserve without a size shows it"
assert_eq $((300 * MiB)) "$(dfj reserved_bytes)" "df: reserved bytes"
size=$(dfj size_bytes)
avail=$(dfj available_bytes)
# statfs counts 4 KiB units: free includes the free inode slots of the
# meta chunk in use (less than one 1 MiB chunk here), available does not
slots=$((size - $(dfj used_bytes) - 300 * MiB - avail))
((slots >= 0 && slots < MiB)) ||
	fail "df: available excludes the reservation (and free inode slots: $slots bytes)"
# statfs counts 4 KiB units (sub-blocks count exactly)
assert_eq $((avail / $(stat -f -c %S "$M"))) "$(stat -f -c %a "$M")" "statfs f_bavail excludes the reservation"
: >"$M/other.img"
assert_fails "$B/csvfsctl" reserve "$M/other.img" 10G
assert_match 'not enough free space on the volume' "$OUT" "a too large reservation"
assert_fails "$B/csvfsctl" reserve "$M/other.img" 12Q
assert_match 'is not a size' "$OUT" "a bad size"
: >"$T/not-csvfs"
assert_fails "$B/csvfsctl" reserve "$T/not-csvfs" 1M
assert_match 'not on a csvfs mount' "$OUT" "reserve of a file elsewhere"
# another file fills the volume
assert_fails_with ENOSPC dd if=/dev/zero of="$M/other.img" bs=1M count=2000 conv=fsync status=none
assert_eq $((avail)) "$(stat -c %s "$M/other.img")" "the other file got everything not reserved"
assert_eq 0 "$(dfj available_bytes)" "df: nothing available"
# the reserved file still gets its 300 MiB
head -c $((300 * MiB)) /dev/urandom >"$T/vm.data"
assert_ok dd if="$T/vm.data" of="$M/vm.img" bs=1M conv=fsync,notrunc status=none
assert_ok cmp "$T/vm.data" "$M/vm.img"
assert_eq 0 "$(dfj reserved_bytes)" "df: the reservation is used up"
assert_fails_with ENOSPC dd if=/dev/zero of="$M/vm.img" bs=1M count=1 seek=300 conv=fsync,notrunc status=none

step "low-space warning: logged once when crossing, again when recovered"
wait_for 30 grep -q 'free space low' "$log" || true
assert_eq 1 "$(grep -c 'free space low' "$log")" "low-space warnings in the log"
assert_match 'below the 20% threshold' "$(grep 'free space low' "$log")" "the warning names the threshold"

step "full volume: fsck clean, freeing makes writes work again"
umount_vol "$M"
fsck_clean "$img"
mount_vol "$img" "$M" "logfile=$log,lowspace=20"
assert_ok cmp "$T/vm.data" "$M/vm.img"
assert_eq 0 "$(dfj available_bytes)" "still full after the remount"
rm "$M/other.img"
wait_for 50 grep -q 'free space recovered' "$log" || true
assert_eq 1 "$(grep -c 'free space recovered' "$log")" "recovery lines in the log"
assert_ok dd if=/dev/zero of="$M/after.img" bs=1M count=50 conv=fsync status=none
assert_ok "$B/csvfsctl" reserve "$M/vm.img" 0
assert_match 'reservation removed' "$OUT" "reserve 0"

step "df: size, used, reserved, provisioned, overcommit (table and --json)"
truncate -s 4G "$M/big.img"
assert_ok "$B/csvfsctl" reserve "$M/after.img" 100M
js=$("$B/csvfsctl" --json df "$M")
info "$js"
python3 - "$js" "$size" "$MiB" "$base" <<'EOF' || fail "df --json figures"
import json, sys
d = json.loads(sys.argv[1])
size, mib, base = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prov = 4 * 1024 * mib + 300 * mib + 50 * mib
want = {"size_bytes": size, "reserved_bytes": 50 * mib,
        "provisioned_bytes": prov, "block_size": 4096}
for k, v in want.items():
    assert d[k] == v, (k, d[k], v)
# used counts 4 KiB units: the 350 MiB of data plus the few metadata
# blocks (inodes) of the files, less than a MiB
assert (base + 350) * mib <= d["used_bytes"] < (base + 351) * mib, d
# available: not the reservation, nor the free inode slots of the meta
# chunk in use (less than a MiB)
assert size - (base + 401) * mib <= d["available_bytes"] <= \
    size - (base + 400) * mib, d
assert abs(d["overcommit"] - prov / size) < 0.01, d
EOF
run_capture "$B/csvfsctl" df "$M"
((RC == 0)) || fail "csvfsctl df: $OUT"
info "$OUT"
assert_match 'SIZE +USED +AVAIL +RESERVED +PROVISIONED +OVERCOMMIT' "$OUT" "df header"
assert_match '50\.0 MiB +4\.3 GiB +4\.42x' "$OUT" "df row: reserved, provisioned, overcommit"
assert_ok python3 -c 'import json, sys; assert json.loads(sys.argv[1])["size_bytes"]' \
	"$("$B/csvfsctl" df --json "$M")"
assert_fails "$B/csvfsctl" df "$T"
assert_match 'not a csvfs mount' "$OUT" "df of a directory that is no csvfs mount"

step "grow: the image file enlarged, csvfsctl grow, the new space used"
old_size=$(dfj size_bytes)
old_avail=$(dfj available_bytes)
assert_ok "$B/csvfsctl" grow "$M"
assert_match 'already covers the device' "$OUT" "grow without a larger device"
truncate -s 2G "$img"
assert_ok "$B/csvfsctl" grow "$M"
assert_match 'grown from .* to 2\.0 GiB' "$OUT" "grow's answer"
assert_eq $((old_size + 1024 * MiB)) "$(dfj size_bytes)" "size after grow"
assert_eq $((old_avail + 1024 * MiB)) "$(dfj available_bytes)" "available after grow"
# more than was free before: some of it must land in the new blocks
head -c $((old_avail + 256 * MiB)) /dev/urandom >"$T/grow.data"
assert_ok cp "$T/grow.data" "$M/grow.data"
assert_ok cmp "$T/grow.data" "$M/grow.data"
grep -q 'grown from' "$log" || fail "grow not logged"
t0=$SECONDS
umount_vol "$M"
info "unmounted in $((SECONDS - t0)) s"
fsck_clean "$img"
mount_vol "$img" "$M"
assert_ok cmp "$T/grow.data" "$M/grow.data"
assert_ok cmp "$T/vm.data" "$M/vm.img"
assert_eq $((old_size + 1024 * MiB)) "$(dfj size_bytes)" "size after a remount"
umount_vol "$M"
fsck_clean "$img"

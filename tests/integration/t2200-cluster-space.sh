#!/bin/bash
# t2200 — space management on a 2-node cluster (scripts/cluster, real
# corosync): both nodes fill the volume at once with fsynced 4 MiB records
# and both get ENOSPC; every fsynced record reads back intact on the other
# node and, after unmounting, from a standalone mount; fsck is clean. Then
# the image file is enlarged, `csvfsctl grow` runs on the coordinator's
# node, and the other node (which saw the old device size at mount) writes
# more than the old free space into the new blocks; reservations and df
# answer on a non-coordinator node; fsck is clean at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync python3

cluster_env
img=$T/vol.img
MiB=$((1 << 20))
REC=$((4 * MiB))	# writer.py's record size
on_exit "$CL" down '>/dev/null 2>&1'

dfj() { # NODE FIELD
	run "$1" -- "$B/csvfsctl" --json df "$(mnt "$1")" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# writer FILE SEED: 4 MiB records (seeded pseudo-random), each fsynced,
# until ENOSPC; prints "records N sha256 HEX" of what was fsynced.
cat >"$T/writer.py" <<'EOF'
import errno, hashlib, os, random, sys
path, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
h = hashlib.sha256()
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
n = 0
while True:
    rec = rnd.randbytes(4 << 20)
    try:
        off = 0
        while off < len(rec):
            off += os.pwrite(fd, rec[off:], n * len(rec) + off)
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        print("enospc")
        break
    h.update(rec)
    n += 1
print("records %d sha256 %s" % (n, h.hexdigest()))
EOF
# prefix_sum FILE RECORDS: sha256 of the first RECORDS records
prefix_sum() {
	head -c $(($2 * REC)) "$1" | sha256sum | cut -d' ' -f1
}

mkimg "$img" 1G
mkfs_vol "$img"
step "2 nodes up, the volume mounted on each"
"$CL" up -n 2 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
coord=$(run 2 -- "$B/csvfsctl" status --json "$(mnt 2)" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])')
assert_eq 1 "$coord" "coordinator"
size0=$(dfj 2 size_bytes)

step "both nodes fill the volume at once: both get ENOSPC"
run 1 -- python3 "$T/writer.py" "$(mnt 1)/fill1" 1 >"$T/w1.out" 2>&1 &
p1=$!
run 2 -- python3 "$T/writer.py" "$(mnt 2)/fill2" 2 >"$T/w2.out" 2>&1 &
p2=$!
wait "$p1" || { cat "$T/w1.out"; fail "writer on node 1 failed"; }
wait "$p2" || { cat "$T/w2.out"; fail "writer on node 2 failed"; }
for n in 1 2; do
	assert_match '^enospc' "$(cat "$T/w$n.out")" "node $n's writer ends with ENOSPC"
	read -r _ rec[$n] _ sum[$n] < <(grep '^records' "$T/w$n.out")
	info "node $n: $((rec[$n] * 4)) MiB fsynced"
	((rec[$n] > 12)) || fail "node $n wrote only ${rec[$n]} records: the fill was not concurrent"
done
used=$(dfj 2 used_bytes)
assert_eq 0 "$(dfj 2 available_bytes)" "nothing available after the fill"
# all but the last partial record of each writer and the root's chunk
(((rec[1] + rec[2]) * REC >= used - 8 * MiB - MiB)) ||
	fail "fsynced $((rec[1] + rec[2])) records of 4 MiB, but $((used / MiB)) MiB are used"

step "every fsynced record reads back on the other node"
assert_eq "${sum[1]}" "$(run 2 -- sh -c "head -c $((rec[1] * REC)) $(mnt 2)/fill1 | sha256sum | cut -d' ' -f1")" \
	"node 1's records read on node 2"
assert_eq "${sum[2]}" "$(run 1 -- sh -c "head -c $((rec[2] * REC)) $(mnt 1)/fill2 | sha256sum | cut -d' ' -f1")" \
	"node 2's records read on node 1"

step "unmount, fsck clean, the records intact from a standalone mount"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"
mount_vol "$img" "$T/sa"
assert_eq "${sum[1]}" "$(prefix_sum "$T/sa/fill1" "${rec[1]}")" "node 1's records"
assert_eq "${sum[2]}" "$(prefix_sum "$T/sa/fill2" "${rec[2]}")" "node 2's records"
# room for what follows: the first file goes
rm "$T/sa/fill1"
umount_vol "$T/sa"
fsck_clean "$img"

step "cluster up again; reserve and df on the non-coordinator"
"$CL" up -n 2 "$img" >"$T/up2.log" 2>&1 || { cat "$T/up2.log"; fail "cluster up failed"; }
run 2 -- sh -c ": > $(mnt 2)/vm"
assert_ok run 2 -- "$B/csvfsctl" reserve "$(mnt 2)/vm" 64M
assert_eq $((64 * MiB)) "$(dfj 1 reserved_bytes)" "reserved, as node 1 sees it"
old_avail=$(dfj 2 available_bytes)
info "available before the grow: $((old_avail / MiB)) MiB"

step "grow the image file; csvfsctl grow on node 1; node 2 uses the new space"
truncate -s 2G "$img"
assert_ok run 1 -- "$B/csvfsctl" grow "$(mnt 1)"
assert_match 'grown from .* to 2\.0 GiB' "$OUT" "grow's answer"
assert_eq $((size0 + 1024 * MiB)) "$(dfj 2 size_bytes)" "size seen on node 2"
want=$(((old_avail + 256 * MiB) / MiB))
head -c $((want * MiB)) /dev/urandom >"$T/grow.data"
assert_ok run 2 -- cp "$T/grow.data" "$(mnt 2)/grown"
assert_ok run 2 -- sync "$(mnt 2)/grown"
assert_ok run 1 -- cmp "$T/grow.data" "$(mnt 1)/grown"
assert_ok run 2 -- cmp "$T/grow.data" "$(mnt 2)/grown"
info "node 2 wrote $want MiB after the grow ($((old_avail / MiB)) MiB were free before)"
# the reservation still holds
assert_ok run 2 -- dd if=/dev/zero of="$(mnt 2)/vm" bs=1M count=64 conv=fsync status=none

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"
mount_vol "$img" "$T/sa"
assert_ok cmp "$T/grow.data" "$T/sa/grown"
assert_eq "${sum[2]}" "$(prefix_sum "$T/sa/fill2" "${rec[2]}")" "node 2's records after the grow"
umount_vol "$T/sa"
fsck_clean "$img"

#!/bin/bash
# t2950 — sub-block files on a 2-node cluster (direct I/O on every node):
# small files written on node 1 (buffered, O_DIRECT aligned, unaligned
# pieces) read back on node 2; node 2 appends to one of them (its run
# grows) and then past the threshold (its data moves to a large block);
# node 1 reads the moved file; node 2 reads a file node 1 rewrote in
# place; the last partial 4 KiB of a closed file (its tail, kept in the
# inode) reads with O_DIRECT on the other node and takes an O_DIRECT
# write there; fsck is clean at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" corosync python3 dd

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

sum() { run "$1" -- sha256sum "$(mnt "$1")/$2" | cut -d' ' -f1; }

mkimg "$img" 1G
mkfs_vol "$img"
step "2 nodes up"
"$CL" up -n 2 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

step "small files written on node 1 read back on node 2"
for s in 3000 4096 10000 65536 200000; do
	head -c "$s" /dev/urandom >"$T/f$s"
	run 1 -- cp "$T/f$s" "$(mnt 1)/f$s"
done
# O_DIRECT, 4 KiB aligned, in 3 pieces
head -c 12288 /dev/urandom >"$T/direct"
run 1 -- dd if="$T/direct" of="$(mnt 1)/direct" bs=4096 oflag=direct status=none
# unaligned pieces: read-modify-write of the 4 KiB edges
head -c 9000 /dev/urandom >"$T/rmw.src"
cat >"$T/rmw.py" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    for off in (0, 1000, 4100, 7000):
        f.seek(off)
        f.write(data[off:off + 3000])
PY
python3 "$T/rmw.py" "$T/rmw.src" "$T/rmw"
run 1 -- python3 "$T/rmw.py" "$T/rmw.src" "$(mnt 1)/rmw"
for f in f3000 f4096 f10000 f65536 f200000 direct rmw; do
	assert_eq "$(sha256sum <"$T/$f" | cut -d' ' -f1)" "$(sum 2 "$f")" "$f read on node 2"
done
# the last close moves the last 1808 bytes into the inode (a tail)
wait_for 100 test "$(run 2 -- stat -c %b "$(mnt 2)/f10000")" -eq 16 || true
assert_eq 16 "$(run 2 -- stat -c %b "$(mnt 2)/f10000")" "10000 bytes in 2 sub-blocks and a tail, seen on node 2"
step "tails read with O_DIRECT on node 2; node 2 writes into one with O_DIRECT"
for f in f3000 f10000 f200000 rmw; do
	assert_eq "$(sha256sum <"$T/$f" | cut -d' ' -f1)" \
		"$(run 2 -- dd if="$(mnt 2)/$f" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
		"$f read with O_DIRECT on node 2"
done
head -c 4096 /dev/urandom >"$T/d4k"
dd if="$T/d4k" of="$T/rmw" bs=4096 seek=2 conv=notrunc status=none
run 2 -- dd if="$T/d4k" of="$(mnt 2)/rmw" bs=4096 seek=2 oflag=direct conv=notrunc status=none
assert_eq "$(sha256sum <"$T/rmw" | cut -d' ' -f1)" "$(sum 1 rmw)" "O_DIRECT write over a tail, read on node 1"

step "node 2 appends: the run grows, then moves to a large block"
head -c 30000 /dev/urandom >>"$T/f10000"
run 2 -- sh -c "tail -c 30000 '$T/f10000' >>'$(mnt 2)/f10000'"
assert_eq "$(sha256sum <"$T/f10000" | cut -d' ' -f1)" "$(sum 1 f10000)" "grown file read on node 1"
head -c 600000 /dev/urandom >>"$T/f10000"
run 2 -- sh -c "tail -c 600000 '$T/f10000' >>'$(mnt 2)/f10000'"
assert_eq 640000 "$(run 1 -- stat -c %s "$(mnt 1)/f10000")" "size after the move, on node 1"
assert_eq "$(sha256sum <"$T/f10000" | cut -d' ' -f1)" "$(sum 1 f10000)" "moved file read on node 1"
assert_eq 2048 "$(run 1 -- stat -c %b "$(mnt 1)/f10000")" "the moved file takes one 1 MiB block"

step "node 1 rewrites a small file in place; node 2 reads the new bytes"
head -c 3000 /dev/urandom >"$T/f3000"
run 1 -- dd if="$T/f3000" of="$(mnt 1)/f3000" bs=3000 conv=notrunc,fsync status=none
assert_eq "$(sha256sum <"$T/f3000" | cut -d' ' -f1)" "$(sum 2 f3000)" "rewritten file on node 2"

step "fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

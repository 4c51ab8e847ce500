#!/bin/bash
# t1950 — small files in sub-blocks: a 192 MiB volume (1 MiB blocks) is
# filled with small files of a header-tree-like size distribution until
# ENOSPC; it must hold at least 70 % of what a 4 KiB-cluster file system
# holds (computed from the same sizes: each file takes its size rounded up
# to 4 KiB, nothing for inodes); every file reads back after a remount;
# st_blocks shows 4 KiB granularity; a file of up to 3840 bytes without
# xattrs takes its inode only; the last partial 4 KiB of a closed
# file lives in its inode (a tail), and every change of such a file
# (writes in and past it, O_DIRECT, truncate, hole, xattr) reads back;
# fsck finds and zeroes bytes past a tail; a file growing past the threshold
# moves to a large block intact; fsck is clean; removing everything gives
# the space back (empty chunks return to the free space), and fsck finds
# and repairs a sub-block map that lost a bit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" python3

img=$T/vol.img
M=$T/mnt
log=$T/csvfsd.log
mkimg "$img" 192M
mkfs_vol "$img"
mount_vol "$img" "$M" "logfile=$log"

dfj() {
	"$B/csvfsctl" --json df "$M" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# With thousands of inodes cached, the kernel's forgets at unmount take a
# while on a loaded machine: wait longer than umount_vol does.
umount_wait() {
	local dir=$1 pid=${_MOUNT_PID[$1]}
	assert_ok umount "$dir"
	wait_for 3000 eval '! _pid_alive '"$pid" ||
		fail "daemon pid $pid still running 300 s after unmounting $dir"
}
base_used=$(dfj used_bytes)
size_bytes=$(dfj size_bytes)
info "volume: $size_bytes bytes, $base_used used at start"

blocks() { stat -c %b "$1"; }
step "st_blocks of a small file counts 4 KiB units; its tail is in the inode"
head -c 10000 /dev/urandom >"$T/ten"
cp "$T/ten" "$M/ten"
# the last close (asynchronous to close(2)) moves the last 1808 bytes
# into the inode: 2 units left
wait_for 100 test "$(blocks "$M/ten")" -eq 16 || true
assert_eq 16 "$(blocks "$M/ten")" "a 10000-byte file takes 8 KiB (16 sectors) and its inode"
assert_ok cmp "$T/ten" "$M/ten"

step "a file of up to 3840 bytes without xattrs takes its inode only"
u0=$(dfj used_bytes)
mkdir "$M/inl"
for i in $(seq 20); do head -c 3800 /dev/urandom >"$M/inl/$i"; done
# the directory's inode and 2 blocks, then 20 inodes and nothing more
assert_eq $(((3 + 20) * 4096)) $(($(dfj used_bytes) - u0)) "space of 20 files of 3800 bytes"
head -c 3800 /dev/urandom >"$T/inl"
cp "$T/inl" "$M/inl/x"
assert_ok setfattr -n user.a -v b "$M/inl/x"
assert_ok cmp "$T/inl" "$M/inl/x"
assert_eq 'user.a="b"' "$(getfattr --absolute-names -n user.a "$M/inl/x" | sed -n 2p)" "xattr of a full inline file"
rm -r "$M/inl"

step "a file growing past the sub-block threshold keeps its bytes"
head -c 300000 /dev/urandom >"$T/grow"
cp "$T/grow" "$M/grow"
wait_for 100 test "$(blocks "$M/grow")" -eq 584 || true
assert_eq 584 "$(blocks "$M/grow")" "300000 bytes in 73 units and a tail"
head -c 400000 /dev/urandom >>"$T/grow"
tail -c 400000 "$T/grow" >>"$M/grow"
assert_ok cmp "$T/grow" "$M/grow"
assert_eq 2048 "$(stat -c %b "$M/grow")" "700000 bytes: one 1 MiB block"
rm "$M/ten" "$M/grow"

step "tails: every change of a file with a tail reads back (buffered and O_DIRECT)"
# python: change the file and the reference the same way, then compare
cat >"$T/tail.py" <<'PY'
import mmap, os, sys
ref, f, what = sys.argv[1], sys.argv[2], sys.argv[3]
def both(fn):
    for p in (ref, f):
        fn(p)
def pwrite(off, data):
    def fn(p):
        fd = os.open(p, os.O_WRONLY)
        os.pwrite(fd, data, off)
        os.close(fd)
    both(fn)
if what == "append":
    both(lambda p: open(p, "ab").write(b"A" * 3000))
elif what == "poke":		# one byte inside the tail
    pwrite(10000, b"P")
elif what == "head":		# inside the run only: the tail stays
    pwrite(100, b"H" * 50)
elif what == "shrink":
    both(lambda p: os.truncate(p, 9000))
elif what == "grow-in":		# still within what the inode holds
    both(lambda p: os.truncate(p, 10500))
elif what == "grow-out":
    both(lambda p: os.truncate(p, 16000))
elif what == "punch":
    import subprocess
    both(lambda p: subprocess.check_call(
        ["fallocate", "-p", "-o", "8300", "-l", "200", p]))
elif what == "xattr":
    os.setxattr(f, "user.t", b"v" * 100)
elif what == "direct":		# O_DIRECT, 4 KiB aligned, over the tail
    buf = mmap.mmap(-1, 8192)
    buf.write(b"D" * 8192)
    fd = os.open(f, os.O_WRONLY | os.O_DIRECT)
    os.pwrite(fd, buf, 8192)
    os.close(fd)
    fd = os.open(ref, os.O_WRONLY)
    os.pwrite(fd, b"D" * 8192, 8192)
    os.close(fd)
elif what == "read-direct":
    buf = mmap.mmap(-1, 1 << 16)
    fd = os.open(f, os.O_RDONLY | os.O_DIRECT)
    n = os.readv(fd, [buf])
    os.close(fd)
    want = open(ref, "rb").read()
    if buf[:n] != want:
        sys.exit("O_DIRECT read of %d bytes differs" % n)
PY
tailed() {	# wait for the tail to be packed: fewer units than the size needs
	local f=$1 s
	s=$(stat -c %s "$f")
	wait_for 100 test "$(blocks "$f")" -lt $(((s + 4095) / 4096 * 8)) || true
	(($(blocks "$f") < (s + 4095) / 4096 * 8)) || fail "$f: no tail after the last close"
}
head -c 11000 /dev/urandom >"$T/t.ref"
cp "$T/t.ref" "$M/t"
tailed "$M/t"
for what in read-direct head poke read-direct append shrink grow-in grow-out \
	punch direct read-direct xattr; do
	assert_ok python3 "$T/tail.py" "$T/t.ref" "$M/t" "$what"
	assert_ok cmp "$T/t.ref" "$M/t"
done
assert_eq "user.t" "$(getfattr --absolute-names -d "$M/t" | sed -n 's/=.*//p')" "the xattr is kept"
rm "$M/t"

step "fsck checks a tail: bytes past it that are not zero are found and zeroed"
head -c 10000 /dev/urandom >"$T/tl"
cp "$T/tl" "$M/tl"
tailed "$M/tl"
ino=$(stat -c %i "$M/tl")
umount_wait "$M"
fsck_clean "$img"
python3 - "$img" "$ino" <<'PY'
import struct, sys, zlib
f = open(sys.argv[1], "r+b")
off = int(sys.argv[2]) * 4096
f.seek(off)
b = bytearray(f.read(4096))
assert struct.unpack_from("<I", b, 0xa8)[0] & 0x400, "no tail flag"
# the tail is 1808 bytes: 1024 in xattr[], the rest from 0x518 on
b[0x518 + 1808 - 1024 + 10] = 0x5a
struct.pack_into("<I", b, 4, 0)
struct.pack_into("<I", b, 4, zlib.crc32(bytes(b)) & 0xffffffff)
f.seek(off)
f.write(b)
PY
run_capture "$B/fsck.csvfs" -n "$img"
((RC != 0)) || fail "fsck -n says clean with bytes past a tail"
assert_match "inode $ino: bytes past its 1808-byte tail are not zero" "$OUT" "fsck names the tail"
run_capture "$B/fsck.csvfs" -y "$img"
((RC == 1)) || { _show "$OUT"; fail "fsck -y exit $RC, expected 1 (fixed)"; }
fsck_clean "$img"
mount_vol "$img" "$M" "logfile=$log"
assert_ok cmp "$T/tl" "$M/tl"
rm "$M/tl"

step "fill the volume with small files until ENOSPC"
python3 - "$M/fill" "$T/sizes" <<'EOF'
import errno, os, random, sys
d, out = sys.argv[1], sys.argv[2]
os.mkdir(d)
rnd = random.Random(1950)
sizes = []
n = 0
cur = None
try:
    while True:
        # lognormal around 5 KiB, like a tree of C headers, at most 256 KiB
        s = min(int(rnd.lognormvariate(8.5, 1.3)), 256 << 10)
        sub = os.path.join(d, "d%03d" % (n // 500))
        if n % 500 == 0:
            os.mkdir(sub)
        p = os.path.join(sub, "f%06d" % n)
        data = rnd.randbytes(s)
        cur = p
        with open(p, "wb") as f:
            f.write(data)
        cur = None
        sizes.append(s)
        n += 1
except OSError as e:
    if e.errno != errno.ENOSPC:
        raise
    if cur:
        try:
            os.unlink(cur)	# the one that did not fit (may be partial)
        except FileNotFoundError:
            pass
with open(out, "w") as f:
    f.write("\n".join(map(str, sizes)) + "\n")
print(n)
EOF
nfiles=$(wc -l <"$T/sizes")
info "$nfiles files fit"
ref=$(python3 - "$T/sizes" "$size_bytes" <<'EOF'
import sys
sizes = [int(x) for x in open(sys.argv[1])]
cap = int(sys.argv[2])
used = n = 0
while True:
    s = sizes[n % len(sizes)]
    need = (s + 4095) // 4096 * 4096
    if used + need > cap:
        break
    used += need
    n += 1
print(n)
EOF
)
info "a 4 KiB-cluster file system of the same size holds $ref of them"
((nfiles * 100 >= ref * 70)) ||
	fail "only $nfiles small files fit, below 70 % of the $ref a 4 KiB-cluster file system holds"

step "every file reads back after a remount; fsck clean"
umount_wait "$M"
fsck_clean "$img"
mount_vol "$img" "$M" "logfile=$log"
python3 - "$M/fill" "$T/sizes" <<'EOF'
import os, random, sys
d, sizes = sys.argv[1], [int(x) for x in open(sys.argv[2])]
rnd = random.Random(1950)
for n, want in enumerate(sizes):
    s = min(int(rnd.lognormvariate(8.5, 1.3)), 256 << 10)
    assert s == want
    data = rnd.randbytes(s)
    p = os.path.join(d, "d%03d" % (n // 500), "f%06d" % n)
    got = open(p, "rb").read()
    if got != data:
        sys.exit("%s: %d bytes differ from what was written" % (p, len(got)))
EOF

step "removing everything gives the space back"
rm -rf "$M/fill"
wait_for 100 test "$(dfj used_bytes)" -le $((base_used + (4 << 20)))
used=$(dfj used_bytes)
info "used after removing: $used (at start: $base_used)"
((used <= base_used + (4 << 20))) ||
	fail "$used bytes still used after removing every file (at start $base_used)"
assert_match "gave [0-9]+ empty chunks back" "$(cat "$log")" "empty chunks are given back"
umount_wait "$M"
fsck_clean "$img"

step "fsck repairs a sub-block map bit that went missing"
mount_vol "$img" "$M" "logfile=$log"
head -c 20000 /dev/urandom >"$T/one"
cp "$T/one" "$M/one"
ino=$(stat -c %i "$M/one")
umount_wait "$M"
dump=$("$B/fsck.csvfs" -n "$img")
info "$dump"
# the sub chunk holding it: the extent in its inode names its first unit
chunk=$(python3 - "$img" "$ino" <<'EOF'
import struct, sys, zlib
f = open(sys.argv[1], "r+b")
sb = f.read(4096)
shift = struct.unpack_from("<I", sb, 0x44)[0]
f.seek(int(sys.argv[2]) * 4096)
inode = f.read(4096)
# body[0]: the one extent {lblk, pblk (mblk of the first unit), len, flags}
pblk, n, fl = struct.unpack_from("<QII", inode, 0x500 + 8)
assert fl & 0x4 and n >= 1, (pblk, n, fl)
per = 1 << (shift - 12)
head, unit = pblk // per, pblk % per
# clear the used bit of its first unit, keep the checksum
off = head << shift
f.seek(off)
h = bytearray(f.read(4096))
assert h[0:4] == b"CVSB", h[0:4]
assert h[0x60 + unit // 8] & (1 << (unit % 8)), "unit not marked used"
h[0x60 + unit // 8] &= ~(1 << (unit % 8)) & 0xff
struct.pack_into("<I", h, 4, 0)
struct.pack_into("<I", h, 4, zlib.crc32(bytes(h)) & 0xffffffff)
f.seek(off)
f.write(h)
print(head)
EOF
)
run_capture "$B/fsck.csvfs" -n "$img"
((RC != 0)) || fail "fsck -n says clean with a sub-block bit missing in chunk $chunk"
assert_match "sub chunk $chunk: .* owned but marked free" "$OUT" "fsck names the sub chunk"
run_capture "$B/fsck.csvfs" -y "$img"
((RC == 1)) || { _show "$OUT"; fail "fsck -y exit $RC, expected 1 (fixed)"; }
fsck_clean "$img"
mount_vol "$img" "$M" "logfile=$log"
assert_ok cmp "$T/one" "$M/one"
umount_wait "$M"

step "a volume of format 1 (before sub-blocks) is refused by mount and fsck"
mkimg "$T/old.img" 64M
mkfs_vol "$T/old.img"
python3 - "$T/old.img" <<'PY'
import struct, sys, zlib
f = open(sys.argv[1], "r+b")
sb = bytearray(f.read(4096))
struct.pack_into("<H", sb, 0x28, 1)	# block header: format major 1
struct.pack_into("<H", sb, 0x40, 1)	# vmajor 1
struct.pack_into("<I", sb, 4, 0)
struct.pack_into("<I", sb, 4, zlib.crc32(bytes(sb)) & 0xffffffff)
f.seek(0)
f.write(sb)
PY
assert_mount_refused "$T/old.img" "$T/oldmnt" "unsupported format version"
run_capture "$B/fsck.csvfs" -n "$T/old.img"
assert_eq 8 "$RC" "fsck exit for a format it does not know"
assert_match "format version 1\.0 is not supported" "$OUT" "fsck names the version"

#!/bin/bash
# t1960 — long symlink targets and large xattr values on a standalone
# mount (issue 14; format 1.2 blob chains).
#
# Checks: symlinks of 1, 2,815 (the inode body), 2,816 and 4,095 bytes
# are made and read back (also after a remount), 4,096 fails with
# ENAMETOOLONG; user xattr values of 64 KiB (and one byte more: E2BIG)
# with getxattr/listxattr size probes through the kernel, replaced by a
# smaller value, removed; the space (free inodes of statfs, which count
# metadata blocks) comes back on removexattr and unlink; fsck is clean
# with the chains in use and after everything is gone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" python3

img=$T/vol.img
mkimg "$img" 1G
mkfs_vol "$img"
mnt=$T/mnt
mount_vol "$img" "$mnt"
free_inodes() { stat -f -c %d "$mnt"; }

cat >"$T/make.py" <<'EOF2'
# make.py DIR: long symlinks and large xattrs
import errno, os, sys
d = sys.argv[1]
def target(n, seed):
    return "".join(chr(ord("a") + (i * 7 + seed) % 26) for i in range(n))
for n in (1, 2815, 2816, 4095):
    p = os.path.join(d, "l%d" % n)
    os.symlink(target(n, n), p)
    assert os.readlink(p) == target(n, n), n
    assert os.lstat(p).st_size == n
try:
    os.symlink(target(4096, 1), os.path.join(d, "l4096"))
    raise SystemExit("a 4096-byte target was accepted")
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
f = os.path.join(d, "x")
open(f, "w").close()
big = os.urandom(65536)
os.setxattr(f, "user.big", big)
os.setxattr(f, "user.s", b"small")
try:
    os.setxattr(f, "user.huge", big + b"!")
    raise SystemExit("a 65537-byte value was accepted")
except OSError as e:
    assert e.errno in (errno.E2BIG, errno.ERANGE, errno.ENOSPC), e
assert os.getxattr(f, "user.big") == big
assert sorted(os.listxattr(f)) == ["user.big", "user.s"], os.listxattr(f)
with open(os.path.join(d, "big.val"), "wb") as o:
    o.write(big)
print("ok")
EOF2

cat >"$T/check.py" <<'EOF2'
# check.py DIR: what make.py made, read back; then shrink and remove
import ctypes, errno, os, sys
d = sys.argv[1]
def target(n, seed):
    return "".join(chr(ord("a") + (i * 7 + seed) % 26) for i in range(n))
for n in (1, 2815, 2816, 4095):
    assert os.readlink(os.path.join(d, "l%d" % n)) == target(n, n), n
f = os.path.join(d, "x")
big = open(os.path.join(d, "big.val"), "rb").read()
assert os.getxattr(f, "user.big") == big
# the size probe (size 0) and a short buffer, as getfattr does
libc = ctypes.CDLL(None, use_errno=True)
libc.getxattr.restype = ctypes.c_ssize_t
n = libc.getxattr(f.encode(), b"user.big", None, ctypes.c_size_t(0))
assert n == 65536, n
buf = ctypes.create_string_buffer(100)
assert libc.getxattr(f.encode(), b"user.big", buf, ctypes.c_size_t(100)) == -1
assert ctypes.get_errno() == errno.ERANGE
libc.listxattr.restype = ctypes.c_ssize_t
assert libc.listxattr(f.encode(), None, ctypes.c_size_t(0)) == len("user.big\0user.s\0")
os.setxattr(f, "user.big", b"now small")
assert os.getxattr(f, "user.big") == b"now small"
print("ok")
EOF2

step "symlinks up to 4095 bytes, xattr values of 64 KiB"
i0=$(free_inodes)
assert_ok python3 "$T/make.py" "$mnt"
assert_eq ok "$OUT" "make.py"
(( $(free_inodes) < i0 )) || fail "the chains took no metadata blocks"

step "read back after a remount; fsck clean with the chains in use"
umount_vol "$mnt"
fsck_clean "$img"
mount_vol "$img" "$mnt"
assert_ok python3 "$T/check.py" "$mnt"
assert_eq ok "$OUT" "check.py"

step "removed: every block comes back"
rm "$mnt"/l* "$mnt/x" "$mnt/big.val"
assert_eq "$i0" "$(free_inodes)" "free inodes after removing everything"
umount_vol "$mnt"
fsck_clean "$img"

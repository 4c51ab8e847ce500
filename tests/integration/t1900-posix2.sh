#!/bin/bash
# t1900 — POSIX gaps of issue 14 on a standalone mount.
#
# Checks: the issue's sequence on an open unlinked file (open(O_CREAT),
# unlink, ftruncate 1M, 0, 1M; then pwrite, pread, fstat, fallocate all
# work, new files never get its inode number, a shrink keeps it) and its
# space comes back at close; renameat2(RENAME_WHITEOUT) leaves a char
# device 0/0 owned by the caller, and refuses it with RENAME_EXCHANGE;
# directories report the bytes of their entries as st_size; st_blksize is
# 64 KiB; an open directory that is removed keeps working through its fd
# (fstat, an empty listing, nothing made in it), its inode number is not
# reused until its last close, which frees it; fsck is clean after all of
# it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$TOOLS/renameat2" python3 setpriv

img=$T/vol.img
mkimg "$img" 1G
mkfs_vol "$img"
mnt=$T/mnt
mount_vol "$img" "$mnt"

cat >"$T/unlinked.py" <<'EOF'
# unlinked.py DIR: the issue's sequence on an open unlinked file
import os, sys
d = sys.argv[1]
p = os.path.join(d, "tmpfile")
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
ino = os.fstat(fd).st_ino
os.unlink(p)
M = 1 << 20
os.ftruncate(fd, M)
os.ftruncate(fd, 0)
os.ftruncate(fd, M)
assert os.pwrite(fd, b"a" * 4096, 8192) == 4096
assert os.pread(fd, 4096, 8192) == b"a" * 4096
st = os.fstat(fd)
assert st.st_size == M and st.st_nlink == 0, (st.st_size, st.st_nlink)
os.posix_fallocate(fd, 0, 2 * M)
others = []
for i in range(4):
    q = os.path.join(d, "new%d" % i)
    f2 = os.open(q, os.O_CREAT | os.O_RDWR, 0o600)
    os.write(f2, b"x" * 10000)
    others.append(os.fstat(f2).st_ino)
    os.close(f2)
assert ino not in others, (ino, others)
os.ftruncate(fd, 100)
assert os.pwrite(fd, b"b" * 5000, 3 * M) == 5000
assert os.pread(fd, 5000, 3 * M) == b"b" * 5000
assert os.pread(fd, 100, 0) == b"\0" * 100
assert os.fstat(fd).st_size == 3 * M + 5000
os.close(fd)
print("ok")
EOF

free_blocks() { stat -f -c %f "$mnt"; }

step "an open unlinked file survives a shrinking ftruncate (the issue's sequence)"
f0=$(free_blocks)
assert_ok python3 "$T/unlinked.py" "$mnt"
assert_eq ok "$OUT" "unlinked.py"
rm -f "$mnt"/new*
assert_eq "$f0" "$(free_blocks)" "free blocks after the last close"
step "the same through O_DIRECT handles"
cat >"$T/direct.py" <<'EOF'
import mmap, os, sys
p = os.path.join(sys.argv[1], "d")
fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
os.unlink(p)
buf = mmap.mmap(-1, 1 << 20)
buf.write(b"z" * (1 << 20))
os.ftruncate(fd, 4 << 20)
os.ftruncate(fd, 0)
os.ftruncate(fd, 4 << 20)
assert os.pwrite(fd, buf, 1 << 20) == 1 << 20
os.ftruncate(fd, 1 << 20)
assert os.pwrite(fd, buf, 0) == 1 << 20
assert os.fstat(fd).st_size == 1 << 20
assert os.preadv(fd, [buf], 0) == 1 << 20 and buf[:4] == b"zzzz"
assert os.fstat(fd).st_nlink == 0
os.close(fd)
print("ok")
EOF
assert_ok python3 "$T/direct.py" "$mnt"
assert_eq "$f0" "$(free_blocks)" "free blocks after the O_DIRECT file's close"

step "rmdir of an open directory: it stays until its last close"
cat >"$T/opendir.py" <<'EOF2'
# opendir.py DIR: an open directory removed, then used through its fd
import errno, os, stat, sys
d = sys.argv[1]
p = os.path.join(d, "od")
os.mkdir(p)
fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
ino = os.fstat(fd).st_ino
assert os.listdir(fd) == []
os.rmdir(p)
st = os.fstat(fd)
assert stat.S_ISDIR(st.st_mode) and st.st_nlink == 0 and st.st_ino == ino, st
try:
    # this mount removed it: the kernel itself says ENOENT (a dead dir)
    assert os.listdir(fd) == []
except FileNotFoundError:
    pass
try:
    os.mkdir("in", dir_fd=fd)
    raise SystemExit("mkdir in a removed directory worked")
except FileNotFoundError:
    pass
others = []
for i in range(4):
    q = os.path.join(d, "nd%d" % i)
    os.mkdir(q)
    others.append(os.stat(q).st_ino)
    f2 = os.open(os.path.join(d, "nf%d" % i), os.O_CREAT | os.O_RDWR, 0o600)
    others.append(os.fstat(f2).st_ino)
    os.close(f2)
assert ino not in others, (ino, others)
assert os.fstat(fd).st_ino == ino
os.close(fd)
for i in range(4):
    os.rmdir(os.path.join(d, "nd%d" % i))
    os.unlink(os.path.join(d, "nf%d" % i))
print("ok")
EOF2
i0=$(stat -f -c %d "$mnt")
assert_ok python3 "$T/opendir.py" "$mnt"
assert_eq ok "$OUT" "opendir.py"
assert_eq "$i0" "$(stat -f -c %d "$mnt")" "free inodes after the last close"

step "renameat2(RENAME_WHITEOUT)"
mkdir "$mnt/wo"
chmod 0777 "$mnt/wo"
echo a >"$mnt/wo/a"
echo b >"$mnt/wo/b"
chown 1000:1000 "$mnt/wo/a" "$mnt/wo/b"
assert_ok as_user 1000 "$TOOLS/renameat2" --whiteout "$mnt/wo/a" "$mnt/wo/c"
assert_eq "character special file 0:0 0 1000:1000" \
	"$(stat -c '%F %t:%T %a %u:%g' "$mnt/wo/a")" "the whiteout"
assert_file_content "$mnt/wo/c" "a
"
# over an existing name: the target goes, a whiteout stays behind
assert_ok "$TOOLS/renameat2" --whiteout "$mnt/wo/b" "$mnt/wo/c"
assert_eq "character special file 0:0 0 0:0" \
	"$(stat -c '%F %t:%T %a %u:%g' "$mnt/wo/b")" "root's whiteout"
assert_file_content "$mnt/wo/c" "b
"
assert_fails_with EINVAL python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
# RENAME_EXCHANGE | RENAME_WHITEOUT
if libc.renameat2(-100, (d + "/c").encode(), -100, (d + "/a").encode(), 2 | 4):
    e = ctypes.get_errno()
    sys.exit(os.strerror(e))
' "$mnt/wo"

step "directories: st_size is the bytes of their entries"
mkdir "$mnt/sz"
assert_eq 48 "$(stat -c %s "$mnt/sz")" "empty directory (. and ..)"
touch "$mnt/sz/a" "$mnt/sz/abcdefghijkl"
assert_eq $((48 + 24 + 32)) "$(stat -c %s "$mnt/sz")" "two entries"
rm "$mnt/sz/abcdefghijkl"
assert_eq $((48 + 24)) "$(stat -c %s "$mnt/sz")" "after a removal"
mv "$mnt/sz/a" "$mnt/sz/b"
assert_eq $((48 + 24)) "$(stat -c %s "$mnt/sz")" "after a rename"

step "st_blksize"
assert_eq 65536 "$(stat -c %o "$mnt/wo/c")" "st_blksize of a file"

umount_vol "$mnt"
fsck_clean "$img"

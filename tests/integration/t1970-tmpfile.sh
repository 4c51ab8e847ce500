#!/bin/bash
# t1970 — O_TMPFILE on a standalone mount (issue 14).
#
# Checks: open(dir, O_TMPFILE|O_RDWR) works (libfuse 3.14 answers the
# kernel's FUSE_TMPFILE with ENOSYS; fs/fsops_io.c lets it through): the
# file has no name and nlink 0, takes writes and reads, and linkat()
# through /proc/self/fd gives it a name that keeps its data after the
# close; a second one closed without a name is freed (statfs's free
# blocks and free inodes come back, its number may be reused); a plain
# unlinked open file cannot be linked back (ENOENT); fsck is clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" python3

img=$T/vol.img
mkimg "$img" 1G
mkfs_vol "$img"
mnt=$T/mnt
mount_vol "$img" "$mnt"

cat >"$T/tmpfile.py" <<'EOF2'
# tmpfile.py DIR
import ctypes, errno, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
def link_fd(fd, path):
    src = ("/proc/self/fd/%d" % fd).encode()
    if libc.linkat(AT_FDCWD, src, AT_FDCWD, path.encode(), AT_SYMLINK_FOLLOW):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o640)
st = os.fstat(fd)
assert st.st_nlink == 0 and st.st_mode == 0o100640, (st.st_nlink, oct(st.st_mode))
assert os.listdir(d) == [], os.listdir(d)
data = os.urandom(3 << 20)
assert os.pwrite(fd, data, 0) == len(data)
assert os.pread(fd, 100, 1 << 20) == data[1 << 20:(1 << 20) + 100]
link_fd(fd, os.path.join(d, "named"))
assert os.fstat(fd).st_nlink == 1
os.close(fd)
assert open(os.path.join(d, "named"), "rb").read() == data
# a plain unlinked open file cannot come back
p = os.path.join(d, "plain")
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
os.unlink(p)
try:
    link_fd(fd, os.path.join(d, "back"))
    raise SystemExit("an unlinked file was linked back")
except OSError as e:
    assert e.errno == errno.ENOENT, e
os.close(fd)
print("ok")
EOF2

cat >"$T/unnamed.py" <<'EOF2'
# unnamed.py DIR: a tmpfile written and closed without a name
import os, sys
fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY)
os.write(fd, b"u" * (2 << 20))
os.fsync(fd)
print(os.fstat(fd).st_ino)
os.close(fd)
EOF2

step "O_TMPFILE: written, read, given a name by linkat"
assert_ok python3 "$T/tmpfile.py" "$mnt"
assert_eq ok "$OUT" "tmpfile.py"
assert_eq "named" "$(ls "$mnt")" "the directory after the link"

step "a tmpfile closed without a name is freed"
b0=$(stat -f -c %f "$mnt")
i0=$(stat -f -c %d "$mnt")
assert_ok python3 "$T/unnamed.py" "$mnt"
wait_for 100 eval '[ "$(stat -f -c %f "$mnt")" = "$b0" ]' ||
	fail "free blocks $(stat -f -c %f "$mnt") after the close, $b0 before"
assert_eq "$i0" "$(stat -f -c %d "$mnt")" "free inodes after the close"
assert_eq "named" "$(ls "$mnt")" "the directory"

umount_vol "$mnt"
fsck_clean "$img"

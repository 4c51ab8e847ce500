#!/bin/bash
# t2730 — long symlink targets and large xattr values across cluster
# nodes (issue 14; format 1.2 blob chains).
#
# Checks, with 3 nodes: a 4,095-byte symlink and a 64 KiB xattr made on
# node 1 read back the same on nodes 2 and 3 (with the size probes), a
# value replaced on node 3 is seen on node 2, the coordinator moves to
# node 2 and everything still reads back; an O_TMPFILE on node 3 linked
# by linkat is read on node 1, one closed without a name is freed; node
# 2 removes it all and the free inode count (metadata blocks) is what it
# was; fsck is clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

coord_of() {
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}
free_inodes() { run 1 -- stat -f -c %d "$(mnt 1)"; }

cat >"$T/ln.py" <<'EOF2'
# ln.py make|check|replaced DIR
import ctypes, errno, hashlib, os, sys
what, d = sys.argv[1:3]
t = "".join(chr(ord("a") + (i * 7) % 26) for i in range(4095))
big = hashlib.sha256(b"seed").digest() * 2048          # 64 KiB
f = os.path.join(d, "x")
if what == "make":
    os.symlink(t, os.path.join(d, "long"))
    open(f, "w").close()
    os.setxattr(f, "user.big", big)
    os.setxattr(f, "user.b2", big[:40000])
elif what == "check":
    assert os.readlink(os.path.join(d, "long")) == t
    libc = ctypes.CDLL(None, use_errno=True)
    libc.getxattr.restype = ctypes.c_ssize_t
    assert libc.getxattr(f.encode(), b"user.big", None, ctypes.c_size_t(0)) == 65536
    assert os.getxattr(f, "user.big") == big
    assert os.getxattr(f, "user.b2") == big[:40000]
    assert sorted(os.listxattr(f)) == ["user.b2", "user.big"]
elif what == "replace":
    os.setxattr(f, "user.big", big[::-1])
elif what == "replaced":
    assert os.getxattr(f, "user.big") == big[::-1]
print("ok")
EOF2

cat >"$T/tmp.py" <<'EOF2'
# tmp.py DIR: an O_TMPFILE linked by name, another closed without one
import ctypes, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o644)
os.write(fd, b"tmpfile data")
src = ("/proc/self/fd/%d" % fd).encode()
dst = os.path.join(d, "fromtmp").encode()
if libc.linkat(-100, src, -100, dst, 0x400):
    raise OSError(ctypes.get_errno(), "linkat")
os.close(fd)
fd = os.open(d, os.O_TMPFILE | os.O_WRONLY)
os.write(fd, b"gone" * 100000)
os.close(fd)
print("ok")
EOF2

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
i0=$(free_inodes)

step "node 1 makes a 4095-byte symlink and 64 KiB xattrs; nodes 2 and 3 read them"
assert_ok run 1 -- python3 "$T/ln.py" make "$(mnt 1)"
for n in 2 3; do
	assert_ok run $n -- python3 "$T/ln.py" check "$(mnt $n)"
	assert_eq ok "$OUT" "node $n reads them"
done

step "node 3 replaces a value, node 2 sees it"
assert_ok run 3 -- python3 "$T/ln.py" replace "$(mnt 3)"
assert_ok run 2 -- python3 "$T/ln.py" replaced "$(mnt 2)"

step "the coordinator moves to node 2: all still there"
run 1 -- "$B/csvfsctl" coordinator move 2 "$(mnt 1)" >/dev/null
wait_for 300 eval '[ "$(coord_of 3)" = 2 ]' || fail "the role did not move to node 2"
assert_ok run 3 -- python3 "$T/ln.py" replaced "$(mnt 3)"
assert_eq "$(run 1 -- readlink "$(mnt 1)/long" | wc -c)" 4096 "target length (+ newline) on node 1"

step "O_TMPFILE on node 3: linked, read on node 1; one closed unnamed is freed"
assert_ok run 3 -- python3 "$T/tmp.py" "$(mnt 3)"
assert_eq ok "$OUT" "tmp.py on node 3"
assert_eq "tmpfile data" "$(run 1 -- cat "$(mnt 1)/fromtmp")" "the linked tmpfile on node 1"

step "node 2 removes everything: the metadata blocks come back"
run 2 -- rm "$(mnt 2)/long" "$(mnt 2)/x" "$(mnt 2)/fromtmp"
wait_for 100 eval '[ "$(free_inodes)" = "$i0" ]' ||
	fail "free inodes $(free_inodes) after the removal, $i0 before"

"$CL" down >/dev/null 2>&1
fsck_clean "$img"

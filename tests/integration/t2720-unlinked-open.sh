#!/bin/bash
# t2720 — an open unlinked file on cluster nodes (issue 14): never freed
# while a node has it open, also across a coordinator move.
#
# Checks, with 3 nodes: the issue's sequence (open(O_CREAT), unlink,
# ftruncate 1M, 0, 1M, then pwrite/pread/fstat/fallocate) on node 2; a
# file node 2 holds open is unlinked on node 3, shrunk and grown by node
# 2, then the coordinator moves to node 3 (whose start processes the
# orphan list) and node 2 keeps using the file: shrink, write, read back,
# fstat, fallocate; files made on node 1 meanwhile never get its inode
# number; its space comes back when node 2 closes it; fsck is clean.
# The same for a directory node 2 has open and node 3 removes: across the
# move node 2 can fstat it and lists nothing, no new file or directory
# gets its number, and node 2's close frees it.
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
free_blocks() { run 1 -- stat -f -c %f "$(mnt 1)"; }
free_inodes() { run 1 -- stat -f -c %d "$(mnt 1)"; }

cat >"$T/unlinked.py" <<'EOF'
# unlinked.py DIR: the issue's sequence on an open unlinked file
import os, sys
d = sys.argv[1]
p = os.path.join(d, "tmpfile")
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
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
os.close(fd)
print("ok")
EOF

cat >"$T/holder.py" <<'EOF'
# holder.py FILE CTL: keeps FILE open through phases driven by files in CTL
import os, sys, time
path, ctl = sys.argv[1:3]
def wait(name):
    for _ in range(3000):
        if os.path.exists(os.path.join(ctl, name)):
            return
        time.sleep(0.1)
    raise SystemExit("timed out waiting for " + name)
def mark(name, text=""):
    with open(os.path.join(ctl, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(ctl, name + ".tmp"), os.path.join(ctl, name))
M = 1 << 20
try:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.pwrite(fd, b"h" * (3 * M), 0)
    os.fsync(fd)
    os.mkdir(path + ".d")
    dfd = os.open(path + ".d", os.O_RDONLY | os.O_DIRECTORY)
    dino = os.fstat(dfd).st_ino
    mark("opened", "%d %d\n" % (os.fstat(fd).st_ino, dino))
    wait("unlinked")
    os.ftruncate(fd, M)
    os.ftruncate(fd, 0)
    os.ftruncate(fd, M)
    assert os.pwrite(fd, b"1" * 4096, 0) == 4096
    os.fsync(fd)
    mark("phase1")
    wait("moved")
    os.ftruncate(fd, 100)
    assert os.pwrite(fd, b"2" * 5000, 3 * M) == 5000
    assert os.pread(fd, 5000, 3 * M) == b"2" * 5000
    assert os.pread(fd, 100, 0) == b"1" * 100
    st = os.fstat(fd)
    assert st.st_nlink == 0 and st.st_size == 3 * M + 5000, (st.st_nlink, st.st_size)
    os.posix_fallocate(fd, 0, 4 * M)
    os.fsync(fd)
    # the directory node 3 removed: fstat works, it lists nothing
    st = os.fstat(dfd)
    assert st.st_nlink == 0 and st.st_ino == dino, (st.st_nlink, st.st_ino)
    assert os.listdir(dfd) == [], os.listdir(dfd)
    mark("phase2", "ok")
    wait("close")
    os.close(fd)
    os.close(dfd)
    mark("closed")
except BaseException as e:
    mark("error", repr(e))
    raise
EOF

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
assert_eq 1 "$(coord_of 2)" "coordinator"

step "the issue's sequence on node 2"
assert_ok run 2 -- python3 "$T/unlinked.py" "$(mnt 2)"
assert_eq ok "$OUT" "unlinked.py on node 2"

step "node 2 holds a file and a directory, node 3 removes both, node 2 shrinks and grows the file"
f0=$(free_blocks)
i0=$(free_inodes)
ctl=$T/ctl
mkdir "$ctl"
run 2 -- python3 "$T/holder.py" "$(mnt 2)/held" "$ctl" >"$T/holder.log" 2>&1 &
hpid=$!
on_exit kill "$hpid" 2>/dev/null
ctl_wait() {
	wait_for 600 eval "test -e '$ctl/$1' || test -e '$ctl/error'" ||
		fail "holder did not reach $1"
	[[ ! -e "$ctl/error" ]] || fail "holder failed: $(cat "$ctl/error")"
}
ctl_wait opened
read -r ino dino <"$ctl/opened"
run 3 -- rm "$(mnt 3)/held"
run 3 -- rmdir "$(mnt 3)/held.d"
touch "$ctl/unlinked"
ctl_wait phase1

step "the coordinator moves to node 3 while node 2 has the orphan open"
run 1 -- "$B/csvfsctl" coordinator move 3 "$(mnt 1)" >/dev/null
wait_for 300 eval '[ "$(coord_of 2)" = 3 ]' || fail "the role did not move to node 3"
for i in 0 1 2 3 4 5; do
	run 1 -- sh -c "head -c 10000 /dev/zero > $(mnt 1)/new$i"
	n=$(run 1 -- stat -c %i "$(mnt 1)/new$i")
	[[ $n != "$ino" ]] || fail "new file new$i got the open file's inode $ino"
	[[ $n != "$dino" ]] || fail "new file new$i got the open directory's inode $dino"
	run 1 -- mkdir "$(mnt 1)/newd$i"
	n=$(run 1 -- stat -c %i "$(mnt 1)/newd$i")
	[[ $n != "$ino" && $n != "$dino" ]] ||
		fail "new directory newd$i got inode $n of an open removed one"
done
touch "$ctl/moved"
ctl_wait phase2
assert_eq ok "$(cat "$ctl/phase2")" "node 2's use of the file after the move"

step "node 2 closes it: its space comes back"
run 1 -- sh -c "rm -rf $(mnt 1)/new*"
touch "$ctl/close"
ctl_wait closed
wait "$hpid" || fail "holder exited with an error: $(cat "$T/holder.log")"
wait_for 100 eval '[ "$(free_blocks)" = "$f0" ]' ||
	fail "free blocks $(free_blocks) after the close, $f0 before the file"
wait_for 100 eval '[ "$(free_inodes)" = "$i0" ]' ||
	fail "free inodes $(free_inodes) after the close, $i0 before"

"$CL" down >/dev/null 2>&1
fsck_clean "$img"

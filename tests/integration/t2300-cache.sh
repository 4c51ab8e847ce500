#!/bin/bash
# t2300 — coherent client caches: every node answers lookups and stats from
# its own cache, and the coordinator's invalidations keep it right.
#
# Checks, with 3 nodes: a change made on one node (chmod, write, truncate,
# utime, rename, create, unlink, mkdir, rmdir) is seen by the next stat on
# the two others, which had the old state cached, 300 times in a random
# mix; negative entries (a name looked up before it existed) go away; the
# caches really answer (hits counted by csvfsctl status --json); after a
# coordinator move the caches are still right; fsck is clean at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

# The node's mount seen from here, through its holder's mount namespace.
view() { echo "/proc/$("$CL" pid "$1" holder)/root$(mnt "$1")"; }
status_of() { # NODE PYEXPR: evaluate PYEXPR on the node's status object s
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"
}

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

cat >"$T/mix.py" <<'EOF'
# mix.py SEED N DIR ROOT1 ROOT2 ROOT3: random changes in DIR on one node,
# checked at once on the two others (which stat everything first, to cache
# it).
import os, random, stat, sys

seed, count, sub = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
roots = sys.argv[4:]
rnd = random.Random(seed)
names = ["a", "b", "c", "d", "e"]

def p(node, name):
    return os.path.join(roots[node], sub, name)

def look(node, name):
    try:
        st = os.stat(p(node, name))
        return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                st.st_size, st.st_mtime_ns, st.st_nlink)
    except FileNotFoundError:
        return None

def listing(node):
    return sorted(os.listdir(os.path.join(roots[node], sub)))

os.mkdir(os.path.join(roots[0], sub))
for i in range(count):
    # Everyone caches the current state of every name (and its absence).
    for n in range(3):
        for name in names:
            look(n, name)
    a = rnd.randrange(3)
    name = rnd.choice(names)
    path = p(a, name)
    cur = look(a, name)
    if cur is None:
        op = rnd.choice(["create", "mkdir", "rename_in"])
    elif cur[0] == stat.S_IFDIR:
        op = rnd.choice(["rmdir", "chmod", "utime", "rename"])
    else:
        op = rnd.choice(["chmod", "write", "truncate", "utime", "rename",
                         "unlink", "link"])
    other = rnd.choice([x for x in names if x != name])
    if op == "create":
        with open(path, "wb") as f:
            f.write(os.urandom(rnd.randrange(1, 9000)))
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rename_in":
        if look(a, other) is None or look(a, other)[0] == stat.S_IFDIR:
            with open(path, "wb") as f:
                f.write(b"x")
        else:
            os.rename(p(a, other), path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op == "chmod":
        os.chmod(path, rnd.choice([0o600, 0o644, 0o755, 0o700, 0o640]))
    elif op == "utime":
        t = rnd.randrange(10**9, 2 * 10**9) * 10**9 + rnd.randrange(10**9)
        os.utime(path, ns=(t, t))
    elif op == "write":
        with open(path, "r+b") as f:
            f.seek(rnd.randrange(0, 3 * 1024 * 1024))
            f.write(os.urandom(rnd.randrange(1, 70000)))
    elif op == "truncate":
        os.truncate(path, rnd.randrange(0, 5 * 1024 * 1024))
    elif op == "rename":
        dst = p(a, other)
        d = look(a, other)
        if d is not None and (d[0] == stat.S_IFDIR) != (cur[0] == stat.S_IFDIR):
            op = "chmod"
            os.chmod(path, 0o711)
        else:
            if d is not None and d[0] == stat.S_IFDIR:
                try:
                    os.rmdir(dst)
                except OSError:
                    op = "chmod"
                    os.chmod(path, 0o711)
            if op == "rename":
                os.rename(path, dst)
    elif op == "unlink":
        os.unlink(path)
    elif op == "link":
        if look(a, other) is None:
            os.link(path, p(a, other))
        else:
            os.chmod(path, 0o751)
    # The change has returned: every other node must see exactly it.
    want = {name: look(a, name) for name in names}
    for n in range(3):
        if n == a:
            continue
        for x in names:
            got = look(n, x)
            if got != want[x]:
                sys.exit("step %d: %s of %s on node %d: node %d sees %s for "
                         "%s, node %d %s" % (i, op, name, a + 1, n + 1, got,
                                             x, a + 1, want[x]))
        if listing(n) != listing(a):
            sys.exit("step %d: %s: listing differs on node %d" %
                     (i, op, n + 1))
print("mix: %d changes checked" % count)
EOF

step "300 random changes, each seen at once by the two other nodes"
hits0=$(status_of 3 's["cache"]["hits"]')
python3 "$T/mix.py" 7 300 mix "$(view 1)" "$(view 2)" "$(view 3)" ||
	fail "a node answered from a stale cache"
hits1=$(status_of 3 's["cache"]["hits"]')
info "node 3 cache hits: $hits0 -> $hits1"
(( hits1 > hits0 + 100 )) || fail "node 3's cache answered only $((hits1 - hits0)) lookups"
(( $(status_of 3 's["cache"]["invalidations"]') > 0 )) || fail "no invalidation reached node 3"

step "a negative entry goes away when the name is created elsewhere"
for i in 1 2 3 4 5; do
	assert_fails run 3 -- stat "$(mnt 3)/late$i"
	assert_fails run 3 -- stat "$(mnt 3)/late$i"
	run 1 -- sh -c "echo $i > $(mnt 1)/late$i"
	assert_eq "$i" "$(run 3 -- cat "$(mnt 3)/late$i")" "late$i on node 3"
done

step "after a coordinator move the caches stay right"
run 2 -- "$B/csvfsctl" coordinator move 2 "$(mnt 2)" >/dev/null
wait_for 100 eval '[ "$(status_of 1 "s[\"coordinator\"][\"node\"]")" = 2 ]' ||
	fail "the role did not move to node 2"
python3 "$T/mix.py" 11 100 mix2 "$(view 1)" "$(view 2)" "$(view 3)" ||
	fail "a node answered from a stale cache after the move"
python3 - "$(view 1)" "$(view 2)" "$(view 3)" <<'EOF' || fail "stale cache after the move"
import os, sys
r = sys.argv[1:]
for i in range(50):
    path = os.path.join(r[i % 3], "mv%d" % i)
    with open(path, "w") as f:
        f.write("x" * i)
    for n in range(3):
        st = os.stat(os.path.join(r[n], "mv%d" % i))
        if st.st_size != i:
            sys.exit("mv%d: size %d on node %d" % (i, st.st_size, n + 1))
EOF

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

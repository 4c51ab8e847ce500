#!/bin/bash
# t2870 — the node-side directory listing cache: a listing is answered by
# the node's cache, and every change made in the directory on another node
# is in the next listing.
#
# Checks, with 3 nodes: 150 random changes in a small tree (create, write,
# mkdir, rmdir, unlink, rename within and across directories, chmod),
# each made on a random node; after each one the two other nodes, which
# had listed the whole tree before (names, types, modes, sizes, link
# counts, as ls -lR), list it again and must see exactly what the changing
# node sees. A second listing of an unchanged tree is answered by the
# cache (hits grow, misses barely). fsck is clean at the end.
# Fails with the coordinator's invalidations switched off (checked by
# hand with mds_inval_collect() emptied: a node lists a stale tree).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

view() { echo "/proc/$("$CL" pid "$1" holder)/root$(mnt "$1")"; }
status_of() { # NODE PYEXPR: evaluate PYEXPR on the node's status object s
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"
}

mkimg "$img" 4G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

cat >"$T/lsmix.py" <<'EOF'
# lsmix.py SEED N SUB ROOT1 ROOT2 ROOT3: random changes in the tree SUB on
# one node; after each, the other nodes' full listings must equal its own.
import os, random, stat, sys

seed, count, sub = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
roots = sys.argv[4:]
rnd = random.Random(seed)
dirs = ["", "d0", "d1", "d2", "d1/e"]
names = ["a", "b", "c", "dd"]

def top(node):
    return os.path.join(roots[node], sub)

def walk(node):
    """What ls -lR shows: every entry with type, mode, size, links."""
    out = []
    base = top(node)
    for d, subdirs, files in os.walk(base):
        subdirs.sort()
        for n in sorted(subdirs + files):
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                out.append((os.path.relpath(p, base), "vanished"))
                continue
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            out.append((os.path.relpath(p, base), stat.S_IFMT(st.st_mode),
                        stat.S_IMODE(st.st_mode), size, st.st_nlink))
    return out

os.mkdir(top(0))
for d in dirs[1:]:
    os.mkdir(os.path.join(top(0), d))
ops = {}
for i in range(count):
    for n in range(len(roots)):
        walk(n)			# everyone caches the current tree
    a = rnd.randrange(len(roots))
    d = rnd.choice(dirs)
    path = os.path.join(top(a), d, rnd.choice(names))
    exists = os.path.lexists(path)
    isdir = exists and os.path.isdir(path)
    if not exists:
        op = rnd.choice(["create", "create", "mkdir", "rename_in"])
    elif isdir:
        op = rnd.choice(["rmdir", "chmod", "rename"])
    else:
        op = rnd.choice(["write", "chmod", "unlink", "rename", "link"])
    other = os.path.join(top(a), rnd.choice(dirs), rnd.choice(names))
    try:
        if op == "create":
            with open(path, "wb") as f:
                f.write(os.urandom(rnd.randrange(0, 5000)))
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "rename_in":
            if os.path.isfile(other):
                os.rename(other, path)
            else:
                op = "create"
                open(path, "wb").close()
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "chmod":
            os.chmod(path, rnd.choice([0o600, 0o644, 0o755, 0o700]))
        elif op == "write":
            with open(path, "ab") as f:
                f.write(b"y" * rnd.randrange(1, 3000))
        elif op == "unlink":
            os.unlink(path)
        elif op == "rename":
            os.rename(path, other)
        elif op == "link":
            os.link(path, other)
    except OSError as e:
        # rmdir of a non-empty dir, rename onto a non-empty dir or into
        # itself, link over an existing name: no change, still checked.
        op += " (%s)" % e.strerror
    ops[op] = ops.get(op, 0) + 1
    want = walk(a)
    for n in range(len(roots)):
        if n == a:
            continue
        got = walk(n)
        if got != want:
            w, g = set(want), set(got)
            sys.exit("step %d: %s %s on node %d: node %d lists %s; node %d "
                     "%s" % (i, op, os.path.relpath(path, top(a)), a + 1,
                             n + 1, sorted(g - w), a + 1, sorted(w - g)))
print("lsmix: %d changes checked: %s" % (count, ", ".join(
    "%s %d" % kv for kv in sorted(ops.items()))))
EOF

step "150 random changes, each in the next full listing of the two other nodes"
python3 "$T/lsmix.py" 5 150 tree "$(view 1)" "$(view 2)" "$(view 3)" ||
	fail "a node listed a stale tree"

step "an unchanged tree is listed from the cache"
run 2 -- sh -c "cd $(mnt 2) && mkdir big && cd big &&
	for i in \$(seq 1 300); do echo \$i > f\$i; done"
run 3 -- ls -lR "$(mnt 3)" >"$T/ls1" 2>&1
h0=$(status_of 3 's["cache"]["hits"]')
m0=$(status_of 3 's["cache"]["misses"]')
run 3 -- ls -lR "$(mnt 3)" >"$T/ls2" 2>&1
h1=$(status_of 3 's["cache"]["hits"]')
m1=$(status_of 3 's["cache"]["misses"]')
cmp -s "$T/ls1" "$T/ls2" || fail "two listings of an unchanged tree differ"
info "node 3, second ls -lR: $((h1 - h0)) cache hits, $((m1 - m0)) misses"
(( h1 - h0 >= 300 )) || fail "the second listing was not answered by the cache"
(( (m1 - m0) * 10 < h1 - h0 )) || fail "the second listing missed the cache $((m1 - m0)) times"
run 1 -- rm "$(mnt 1)/big/f7"
run 3 -- ls "$(mnt 3)/big" >"$T/ls3"
assert_fails grep -qx f7 "$T/ls3"
assert_eq 299 "$(wc -l <"$T/ls3")" "entries of big on node 3 after a removal on node 1"

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

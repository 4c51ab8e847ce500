#!/bin/bash
# t2880 — consistency of the namespace across many nodes: every node
# creates, renames and removes at the same time in shared directories;
# afterwards all nodes agree on the full tree listing, and fsck is clean.
#
# Checks, with CSVFS_T2880_NODES nodes (default 8; `make torture` runs it
# at 32): each node runs OPS random operations (create with content,
# rename within and across four shared directories onto names the other
# nodes use too, unlink, mkdir, rmdir), all nodes at once. Races end in
# ENOENT/EEXIST/ENOTEMPTY for the loser and are counted, not failed. Then
# every node lists the whole tree (name, type, mode, size, link count, and
# each file's first bytes, which say who wrote it) and all listings must be
# equal; each file's content must be the one its name's creator wrote (no
# torn or mixed file). Unmounted everywhere, fsck.csvfs -n is clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" corosync python3

NODES=${CSVFS_T2880_NODES:-8}
OPS=${CSVFS_T2880_OPS:-150}
cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'


# Every file that is not inline takes a whole large block: room for all.
mkimg "$img" 8G
mkfs_vol "$img"
step "$NODES nodes up"
t0=$SECONDS
# Corosync's token timeout grows with the nodes (token_coefficient).
CSVFS_QUORUM_TIMEOUT=$((60 + 10 * NODES)) "$CL" up -n "$NODES" "$img" >"$T/up.log" 2>&1 || { tail -n 30 "$T/up.log"; fail "cluster up failed"; }
info "up in $((SECONDS - t0)) s"

cat >"$T/work.py" <<'EOF'
# work.py NODE SEED OPS ROOT: random namespace changes in ROOT/shared.
import errno, os, random, sys

node, seed, ops, root = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
top = os.path.join(root, "shared")
dirs = ["s0", "s1", "s2", "s3"]
lost = {}
mine = 0

def pick():
    return os.path.join(top, rnd.choice(dirs), "n%d" % rnd.randrange(24))

for i in range(ops):
    r = rnd.random()
    try:
        if r < 0.40:
            # The content names its writer and its length: checked later.
            mine += 1
            name = os.path.join(top, rnd.choice(dirs), "f%d_%d" % (node, mine))
            body = ("%d:%d:" % (node, mine)).encode()
            body += b"z" * rnd.randrange(0, 6000)
            with open(name, "xb") as f:
                f.write(body)
            if rnd.random() < 0.5:
                os.rename(name, pick())
        elif r < 0.65:
            os.rename(pick(), pick())
        elif r < 0.85:
            os.unlink(pick())
        elif r < 0.93:
            os.mkdir(os.path.join(top, rnd.choice(dirs), "d%d" % rnd.randrange(6)))
        else:
            os.rmdir(os.path.join(top, rnd.choice(dirs), "d%d" % rnd.randrange(6)))
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY,
                           errno.EISDIR, errno.ENOTDIR):
            raise
        lost[e.errno] = lost.get(e.errno, 0) + 1
print("node %d: %d ops, races: %s" % (node, ops, ", ".join(
    "%s %d" % (errno.errorcode[k], v) for k, v in sorted(lost.items())) or "none"))
EOF

cat >"$T/list.py" <<'EOF'
# list.py ROOT: the full tree, one line per entry, sorted.
import os, stat, sys

base = sys.argv[1]
out = []
for d, subdirs, files in os.walk(base):
    for n in subdirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        head = ""
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                data = f.read()
            if len(data) != st.st_size:
                sys.exit("%s: read %d bytes of %d" % (p, len(data), st.st_size))
            w = data.split(b":", 2)
            if len(w) != 3 or set(w[2]) - {ord("z")}:
                sys.exit("%s: content is not one writer's" % p)
            head = "%s:%s" % (w[0].decode(), w[1].decode())
        out.append("%s %o %o %d %d %s" % (os.path.relpath(p, base),
                   stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                   st.st_size if stat.S_ISREG(st.st_mode) else 0,
                   st.st_nlink, head))
print("\n".join(sorted(out)))
EOF

run 1 -- mkdir "$(mnt 1)/shared"
for d in s0 s1 s2 s3; do run 1 -- mkdir "$(mnt 1)/shared/$d"; done

step "$NODES nodes x $OPS random creates, renames, removes at once"
t0=$SECONDS
pids=()
for ((i = 1; i <= NODES; i++)); do
	run "$i" -- python3 "$T/work.py" "$i" "$((1000 + i))" "$OPS" "$(mnt "$i")" \
		>"$T/work$i.out" 2>&1 &
	pids+=($!)
done
for ((i = 1; i <= NODES; i++)); do
	wait "${pids[i - 1]}" || {
		cat "$T/work$i.out"
		keep_logs "$CSVFS_CLUSTER_STATE"/node*/csvfs.log
		fail "node $i: workload failed"
	}
	info "$(cat "$T/work$i.out")"
done
info "workload took $((SECONDS - t0)) s"

step "every node lists the same tree"
for ((i = 1; i <= NODES; i++)); do
	run "$i" -- python3 "$T/list.py" "$(mnt "$i")/shared" >"$T/list$i" ||
		fail "node $i: listing failed: $(tail -n 1 "$T/list$i")"
done
n=$(wc -l <"$T/list1")
info "node 1 lists $n entries"
(( n > NODES * 10 )) || fail "only $n entries: the workload did not run"
for ((i = 2; i <= NODES; i++)); do
	cmp -s "$T/list1" "$T/list$i" ||
		fail "node $i lists another tree than node 1: $(diff "$T/list1" "$T/list$i" | head -n 6 | tr '\n' ' ')"
done

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

#!/bin/bash
# t3320 — random partitions while every node writes (issue 13).
#
# 3 nodes. In each trial every node runs a writer that appends numbered
# records ("file=F writer=nodeN seq=S off=O") to files it holds, O_DIRECT,
# fdatasync after each, and notes every acknowledged record; it starts
# its own files and, about once a second, tries a read-write open of a
# file it never wrote (granted only when the holder closed it or is dead:
# then it appends after the size it sees). A file whose write fails is
# closed and never written again by that node. Writes do not wait for
# flushes: a second thread flushes every 0.2 s and acknowledges the
# records it covered; a failed flush only goes unacknowledged (the writer
# goes on, as a program that ignores it would: only the node's fencing
# keeps its later writes off a file another node took). Meanwhile a random node is
# cut off (scripts/cluster cut) at a random moment for a random 1-12 s
# (sometimes shorter, sometimes longer than the 5 s after which others
# may take its files) and healed. Then the writers stop, the volume is
# unmounted and checked, and mounted again. After each trial:
# - every record sits at its own offset in its own file;
# - no file holds interleaved writers (once another writer follows, the
#   earlier one never appears again further on);
# - every acknowledged (fsynced) record, of this trial and the earlier
#   ones, is there;
# - fsck is clean.
# CSVFS_T3320_TRIALS (default 10; `make torture`: 100) sets the trials,
# CSVFS_T3320_SEED the random seed (printed, to replay a failure).
# timeout: 3600
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" corosync python3 timeout

cluster_env
img=$T/vol.img
trials=${CSVFS_T3320_TRIALS:-10}
seed=${CSVFS_T3320_SEED:-$RANDOM}
RANDOM=$seed
on_exit touch "$T/stop"
on_exit "$CL" down '>/dev/null 2>&1'

log_of() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
fail_log() { # NODE MESSAGE
	tail -30 "$(log_of "$1")" 2>/dev/null | sed 's/^/#    /' || true
	fail "$2"
}
coord_of() {
	run "$1" -- timeout 20 "$B/csvfsctl" status --json "$(mnt "$1")" 2>/dev/null |
		python3 -c 'import json,sys
s = json.load(sys.stdin)
print(s["coordinator"]["node"] if s["quorate"] else 0)'
}
settled() { # all 3 nodes quorate and naming one coordinator
	local a b c
	a=$(coord_of 1) && b=$(coord_of 2) && c=$(coord_of 3) &&
		[[ $a != 0 && $a == "$b" && $b == "$c" ]]
}

cat >"$T/writer.py" <<'EOF'
# writer.py NODE MNT ACKS STOP TRIAL: records go out without waiting for
# flushes (a second thread flushes and acknowledges what it covered), as
# QEMU's writes and flushes do
import ctypes, mmap, os, random, sys, threading, time
node, mnt, acks, stop, trial = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
lock = threading.Lock()
held, lost, pending = {}, set(), {}	# name -> [fd, next_off]; unflushed
gen = seq = 0
buf = mmap.mmap(-1, 4096)
ack = open(acks, "a", buffering=1)
random.seed(f"{node}-{trial}")
done = False

def drop(name):
    fd = held.pop(name)[0]
    lost.add(name)
    pending.pop(name, None)
    try:
        os.close(fd)
    except OSError:
        pass

def flusher():
    while not done:
        time.sleep(0.2)
        with lock:
            todo = [(n, held[n][0], pending.pop(n, [])) for n in list(held)]
        for name, fd, recs in todo:
            # A failed flush acknowledges nothing; the writer goes on, as
            # a program that ignores it would: only the node's fencing
            # keeps its later writes off a file another node took.
            try:
                os.fdatasync(fd)
            except OSError:
                continue
            with lock:
                if held.get(name, [None])[0] != fd:
                    continue	# dropped meanwhile: fd may be another's
            for r in recs:
                ack.write(r)

def new_own():
    global gen
    name = f"{node}-t{trial}-g{gen}"
    gen += 1
    try:
        fd = os.open(os.path.join(mnt, name),
                     os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o644)
    except OSError:
        return
    # Blocks for its records ahead of the size (FALLOC_FL_KEEP_SIZE): its
    # writes need no allocation from the coordinator, so a node cut off
    # could go on writing were it not fenced.
    libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(4 << 20))
    with lock:
        held[name] = [fd, 0]

def taker():
    while not done:
        time.sleep(1)
        try:
            names = [n for n in os.listdir(mnt)
                     if n not in held and n not in lost and
                     not n.startswith(node + "-") and f"-t{trial}-" in n]
        except OSError:
            continue
        if not names:
            continue
        name = random.choice(names)
        try:
            fd = os.open(os.path.join(mnt, name), os.O_RDWR | os.O_DIRECT)
            size = os.fstat(fd).st_size
        except OSError:
            continue
        with lock:
            held[name] = [fd, (size + 4095) // 4096 * 4096]
        ack.write(f"TAKE {name} {size} {node}\n")

threads = [threading.Thread(target=f) for f in (flusher, taker)]
for t in threads:
    t.start()
while not os.path.exists(stop):
    with lock:
        empty = not held
    if empty:
        new_own()
    with lock:
        items = [(n, held[n][0], held[n][1]) for n in held]
    for name, fd, off in items:
        seq += 1
        rec = f"file={name} writer={node} seq={seq} off={off}\n".encode()
        buf.seek(0)
        buf.write(rec.ljust(4096, b"\0"))
        try:
            os.pwrite(fd, buf, off)
        except OSError:
            with lock:
                if name in held:
                    drop(name)
            continue
        with lock:
            if name in held:
                held[name][1] = off + 4096
                pending.setdefault(name, []).append(f"{name} {off} {node} {seq}\n")
    time.sleep(0.05)
done = True
for t in threads:
    t.join()
with lock:
    for name in list(held):
        drop(name)
EOF

cat >"$T/check.py" <<'EOF'
# check.py MNT ACKS...: records in place, no interleaving, no acked loss
import mmap, os, re, sys
mnt, ackfiles = sys.argv[1], sys.argv[2:]
bad, files = [], {}
for name in sorted(os.listdir(mnt)):
    fd = os.open(os.path.join(mnt, name), os.O_RDONLY | os.O_DIRECT)
    size = os.fstat(fd).st_size
    buf = mmap.mmap(-1, max(4096, (size + 4095) // 4096 * 4096))
    n = os.preadv(fd, [buf], 0) if size else 0
    os.close(fd)
    recs, order = {}, []
    for i in range(n // 4096):
        blk = buf[i * 4096:(i + 1) * 4096]
        if not blk.strip(b"\0"):
            continue
        m = re.match(rb"file=(\S+) writer=(\S+) seq=(\d+) off=(\d+)\n", blk)
        if not m or m.group(1).decode() != name or int(m.group(4)) != i * 4096:
            bad.append(f"{name}: block {i} is not its record: {blk[:60]!r}")
            continue
        w = m.group(2).decode()
        recs[i * 4096] = (w, int(m.group(3)))
        if not order or order[-1] != w:
            if w in order:
                bad.append(f"{name}: {w} again at offset {i * 4096} after {order[-1]}: interleaved writers")
            order.append(w)
    files[name] = recs
acked = 0
for a in ackfiles:
    for line in open(a):
        p = line.split()
        if p[0] == "TAKE":
            continue
        acked += 1
        name, off, w, seq = p[0], int(p[1]), p[2], int(p[3])
        if files.get(name, {}).get(off) != (w, seq):
            bad.append(f"{name}: acknowledged record of {w} seq {seq} at {off} lost "
                       f"(found {files.get(name, {}).get(off)})")
print("\n".join(bad[:30]))
print(f"{len(files)} files, {sum(len(r) for r in files.values())} records, "
      f"{acked} acknowledged, {len(bad)} problems")
sys.exit(1 if bad else 0)
EOF

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up (seed $seed, $trials trials)"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
for ((trial = 1; trial <= trials; trial++)); do
	cut=$((RANDOM % 3 + 1))
	before=$((RANDOM % 2500 + 500))
	held=$((RANDOM % 11000 + 1000))
	step "trial $trial: node $cut cut after ${before} ms for ${held} ms"
	rm -f "$T/stop"
	wpids=()
	for n in 1 2 3; do
		# Kept across trials: earlier trials' records must stay too.
		run "$n" -- python3 "$T/writer.py" "node$n" "$(mnt "$n")" "$T/acks$n" "$T/stop" "$trial" \
			2>>"$T/writer$n.err" &
		wpids+=($!)
	done
	sleep "$(printf '%d.%03d' $((before / 1000)) $((before % 1000)))"
	"$CL" cut "$cut"
	sleep "$(printf '%d.%03d' $((held / 1000)) $((held % 1000)))"
	"$CL" heal "$cut"
	wait_for 1200 settled || fail_log "$cut" "trial $trial: the nodes do not agree on a coordinator after the heal"
	sleep 2
	touch "$T/stop"
	for p in "${wpids[@]}"; do
		wait_for 600 eval '! kill -0 '"$p"' 2>/dev/null' || { kill "$p" 2>/dev/null; fail "trial $trial: a writer did not stop"; }
		wait "$p" || true
	done
	info "$(grep -h -c TAKE "$T"/acks? | paste -sd' ') takeovers by node 1 2 3"
	run 1 -- python3 "$T/check.py" "$(mnt 1)" "$T/acks1" "$T/acks2" "$T/acks3" >"$T/check.txt" ||
		{ cat "$T/check.txt"; fail "trial $trial (seed $seed): the records are wrong"; }
	info "$(tail -1 "$T/check.txt")"
	"$CL" umount all >/dev/null 2>&1 || fail "trial $trial: unmount failed"
	fsck_clean "$img"
	"$CL" mount all >/dev/null 2>&1 || fail "trial $trial: mount failed"
	wait_for 1200 settled || fail "trial $trial: no coordinator after the remount"
done
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

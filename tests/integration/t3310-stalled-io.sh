#!/bin/bash
# t3310 — a node whose writes hang past the deadline stops itself before
# another node takes its file; none of its writes lands after the takeover
# (issue 13, bounded I/O and the watchdog).
#
# 3 nodes, every daemon started with the test-only stall
# (CSVFS_TEST_DEV_STALL, meta/dev.h). Node 3 writes numbered records
# ("writer=node3 seq=N") into a file it owns, O_DIRECT, fdatasync after
# each, and notes each acknowledged one. Then its device writes are held
# for 20 s (its heartbeat stamps too) and it is cut off the network. A
# taker on node 2 tries a read-write open of the file every 0.2 s; once
# it gets it (node 3 is then dead for the coordinator), it snapshots the
# records and writes its own ("writer=node2") after them. Checked:
# - node 3's daemon ended (its watchdog: "stopping this node hard")
#   before node 2's open succeeded;
# - after the 20 s are over, the records node 3 wrote are exactly those
#   of the snapshot (no write of node 3 landed after the takeover), every
#   record node 3 had acknowledged is there, and no record names a writer
#   that does not own its region (no interleaving);
# - fsck is clean.
# Without the watchdog node 3's daemon lives on and its held write lands
# 20 s later, over the snapshot: the test fails.
# timeout: 900
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" corosync python3 timeout

cluster_env
export CSVFS_TEST_DEV_STALL=$T/stall
mkdir -p "$CSVFS_TEST_DEV_STALL"
img=$T/vol.img
on_exit rm -f "$CSVFS_TEST_DEV_STALL/node3"
on_exit "$CL" down '>/dev/null 2>&1'

log_of() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
fail_log() { # NODE MESSAGE
	tail -30 "$(log_of "$1")" 2>/dev/null | sed 's/^/#    /' || true
	fail "$2"
}
now() { date +%s.%N; }

cat >"$T/writer.py" <<'EOF'
# writer.py PATH NAME ACKS FIRST COUNT: O_DIRECT records, fdatasync each
import mmap, os, sys, time
path, name, acks, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
buf = mmap.mmap(-1, 4096)
with open(acks, "a", buffering=1) as ack:
    for seq in range(count):
        rec = f"writer={name} seq={seq}\n".encode()
        buf.seek(0)
        buf.write(rec.ljust(4096, b"\0"))
        os.pwrite(fd, buf, (first + seq) * 4096)
        os.fdatasync(fd)
        ack.write(f"{seq}\n")
        time.sleep(0.02)
EOF
cat >"$T/taker.py" <<'EOF'
# taker.py PATH SNAP OUT: open read-write until granted, snapshot, write
import errno, mmap, os, sys, time
path, snap, out = sys.argv[1:4]
t0 = time.time()
while True:
    try:
        fd = os.open(path, os.O_RDWR | os.O_DIRECT)
        break
    except OSError as e:
        if e.errno not in (errno.EBUSY, errno.EIO, errno.EAGAIN):
            raise
        if time.time() - t0 > 300:
            sys.exit("no read-write open after 300 s: " + str(e))
        time.sleep(0.2)
took = time.time()
buf = mmap.mmap(-1, 1 << 20)
n = os.preadv(fd, [buf], 0)
with open(snap, "wb") as f:
    f.write(buf[:n])
one = mmap.mmap(-1, 4096)
for seq in range(10):
    one.seek(0)
    one.write(f"writer=node2 seq={seq}\n".encode().ljust(4096, b"\0"))
    os.pwrite(fd, one, (256 + seq) * 4096)
    os.fdatasync(fd)
os.close(fd)
with open(out, "w") as f:
    f.write(f"{took:.3f}\n")
EOF

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up, every daemon with the test-only stall control"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
f3=$(mnt 3)/records
f2=$(mnt 2)/records

step "node 3 writes records into a file it owns"
run 3 -- python3 "$T/writer.py" "$f3" node3 "$T/acks3" 0 240 2>"$T/writer3.err" &
writer=$!
wait_for 600 eval '[[ $(wc -l <"$T/acks3" 2>/dev/null || echo 0) -ge 20 ]]' ||
	{ cat "$T/writer3.err"; fail_log 3 "node 3's writer did not get 20 records through"; }
d3=$("$CL" pid 3 csvfs)

step "node 3's writes held 20 s, node 3 cut off"
echo 20000 >"$CSVFS_TEST_DEV_STALL/node3"
t_stall=$(now)
sleep 0.3
"$CL" cut 3
run 2 -- python3 "$T/taker.py" "$f2" "$T/snap" "$T/took" 2>"$T/taker.err" &
taker=$!
t_dead3=""
for ((i = 0; i < 600; i++)); do
	# Ended: gone, or a zombie (its threads have exited, its files
	# are closed) that its parent has not reaped yet.
	if ! kill -0 "$d3" 2>/dev/null ||
		[[ $(awk '/^State:/ {print $2}' /proc/"$d3"/status 2>/dev/null) == Z ]]; then
		t_dead3=$(now)
		break
	fi
	sleep 0.1
done
[[ -n $t_dead3 ]] || fail_log 3 "node 3's daemon did not stop itself within 60 s of the stall"
info "node 3's daemon ended $(python3 -c "print(round($t_dead3 - $t_stall, 2))") s after the stall began"
grep -q "stopping this node hard (watchdog)" "$(log_of 3)" ||
	fail_log 3 "node 3's log does not name the watchdog"
info "$(grep -m1 -o "a device write has been in flight.*" "$(log_of 3)")"
wait "$taker" || { cat "$T/taker.err"; fail_log 1 "node 2 could not take the file"; }
t_take=$(cat "$T/took")
info "node 2 took the file $(python3 -c "print(round($t_take - $t_stall, 2))") s after the stall began"
python3 -c "import sys; sys.exit(0 if $t_dead3 < $t_take else 1)" ||
	fail "node 2 took the file ($t_take) before node 3 stopped itself ($t_dead3)"
wait "$writer" 2>/dev/null || true

step "after the held writes' 20 s: nothing of node 3 landed after the takeover"
python3 -c "import time; time.sleep(max(0, $t_stall + 25 - time.time()))"
rm -f "$CSVFS_TEST_DEV_STALL/node3"
run 2 -- python3 - "$f2" "$T/final" <<'EOF'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 2 << 20)
n = os.preadv(fd, [buf], 0)
open(sys.argv[2], "wb").write(buf[:n])
EOF
python3 - "$T/snap" "$T/final" "$T/acks3" >"$T/check.txt" <<'EOF' || { cat "$T/check.txt"; fail "the record checker failed"; }
import re, sys
snap, final = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
acked = [int(l) for l in open(sys.argv[3]) if l.strip()]
bad = []
def recs(data):
    out = {}
    for i in range(len(data) // 4096):
        blk = data[i * 4096:(i + 1) * 4096]
        if blk.strip(b"\0"):
            m = re.match(rb"writer=(node\d) seq=(\d+)\n", blk)
            out[i] = (m.group(1).decode(), int(m.group(2))) if m else ("garbage", -1)
    return out
s, f = recs(snap), recs(final)
for i, r in f.items():
    want = "node3" if i < 256 else "node2"
    if r[0] != want or r[1] != (i if i < 256 else i - 256):
        bad.append(f"block {i}: {r} in {want}'s region")
for i in range(256):
    if s.get(i) != f.get(i):
        bad.append(f"block {i}: {s.get(i)} at the takeover, {f.get(i)} now: landed after the takeover")
for seq in acked:
    if f.get(seq) != ("node3", seq):
        bad.append(f"acknowledged record node3 seq={seq} lost")
for seq in range(10):
    if f.get(256 + seq) != ("node2", seq):
        bad.append(f"node2 seq={seq} missing")
print("\n".join(bad))
print(f"{len(acked)} records acknowledged on node 3, {sum(1 for r in s.values() if r[0] == 'node3')} at the takeover, "
      f"{sum(1 for r in f.values() if r[0] == 'node2')} of node 2, {len(bad)} problems")
sys.exit(1 if bad else 0)
EOF
info "$(tail -1 "$T/check.txt")"

step "fsck clean"
"$CL" heal 3 || true
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

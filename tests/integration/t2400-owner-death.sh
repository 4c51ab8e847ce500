#!/bin/bash
# t2400 — a host that dies, or is cut off, gives its files back
# (DESIGN.md "File ownership": owner death, self-fencing).
#
# Checks, with 3 nodes: node 3 writes a file and has its network cut: it
# loses quorum and fences itself (its writes fail with EIO at once); node 1
# then takes the file over and writes it; after the network heals, node 3's
# old handle still gets EIO (its hold was broken) and node 1's bytes are
# intact. Node 2 owns files and is killed (csvfs and corosync, kill -9);
# node 3's open for write is refused while node 2 may still be alive, then
# succeeds once node 2 left the membership and its heartbeat stopped for
# the timeout, and the coordinator's log says the ownership was broken; a
# handoff of the other file from dead node 2 needs no recall. fsck clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

nlog() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
opens() { # NODE FILE: one open for writing; prints "ok" or the error
	run "$1" -- sh -c "exec 3>>$(mnt "$1")/$2 && echo ok" 2>&1 || true
}
hold() { # NODE FILE: keep FILE open for writing on NODE
	local pf=$T/hold.$RANDOM
	run "$1" -- sh -c "exec 3>>$(mnt "$1")/$2 && echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec sleep 600" \
		</dev/null >/dev/null 2>&1 &
	wait_for 100 test -s "$pf" || fail "holder on node $1 could not open $2"
	HOLDERS+=("$(cat "$pf")")
}
HOLDERS=()
kill_holders() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null || true; done
	HOLDERS=()
}
on_exit kill_holders

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

cat >"$T/writer.py" <<'EOF'
# writer.py FILE LOG STOP: overwrite 4 KiB record 0..15 in turn; log each
# result ("ok"/"EIO") until STOP exists.
import errno, os, sys, time
path, log, stop = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY)
i = 0
with open(log, "w", buffering=1) as out:
    while not os.path.exists(stop):
        try:
            os.pwrite(fd, (b"n3-%08d" % i).ljust(4096, b"."), (i % 16) * 4096)
            out.write("ok\n")
        except OSError as e:
            out.write("EIO\n" if e.errno == errno.EIO else "err %d\n" % e.errno)
        i += 1
        time.sleep(0.02)
EOF

step "node 3 writes a file and is cut off: it fences itself, node 1 takes over"
run 3 -- dd if=/dev/zero of="$(mnt 3)/p" bs=64k count=1 status=none
run 3 -- python3 "$T/writer.py" "$(mnt 3)/p" "$T/w.log" "$T/w.stop" &
wpid=$!
on_exit kill "$wpid" 2>/dev/null
wait_for 100 grep -qs ok "$T/w.log" || fail "the writer on node 3 did not start"
"$CL" cut 3
t0=$(date +%s.%N)
wait_for 200 eval 'tail -1 "$T/w.log" | grep -q EIO' || fail "node 3 kept writing without quorum"
info "node 3 fenced after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
wait_for 300 eval '[ "$(opens 1 p)" = ok ]' || fail "node 1 never got the file of cut-off node 3"
info "node 1 took the file over after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
assert_match 'node 3 left the cluster and its heartbeat stopped' "$(cat "$(nlog 1)")" "coordinator log"
run 1 -- python3 -c "
import os
fd = os.open('$(mnt 1)/p', os.O_WRONLY)
os.pwrite(fd, b'node1'.ljust(65536, b'1'), 0)
os.fsync(fd)
"
want=$(run 1 -- sha256sum "$(mnt 1)/p" | cut -d' ' -f1)

step "the network heals: node 3's old handle stays refused"
"$CL" heal 3
wait_for 300 eval '[ "$(run 3 -- "$B/csvfsctl" status --json "$(mnt 3)" 2>/dev/null |
	python3 -c "import json,sys; print(json.load(sys.stdin)[\"quorate\"])" 2>/dev/null)" = True ]' ||
	fail "node 3 did not rejoin"
n=$(wc -l <"$T/w.log")
wait_for 100 eval '[ $(wc -l <"$T/w.log") -gt $((n + 20)) ]' || fail "the writer stopped"
assert_eq "" "$(tail -n 10 "$T/w.log" | grep -v EIO || true)" "node 3 writes after the heal"
touch "$T/w.stop"
wait "$wpid" || true
assert_eq "$want" "$(run 1 -- sha256sum "$(mnt 1)/p" | cut -d' ' -f1)" "node 1's bytes"
assert_eq "$want" "$(run 3 -- sha256sum "$(mnt 3)/p" | cut -d' ' -f1)" "node 1's bytes read on node 3"

step "node 2 owns two files and dies: node 3 gets one once node 2 is known dead"
run 2 -- sh -c "echo from-node-2 > $(mnt 2)/d; echo h > $(mnt 2)/h"
hold 2 d
hold 2 h
assert_match 'Device or resource busy' "$(opens 3 d)" "open while node 2 lives"
t0=$(date +%s.%N)
"$CL" kill 2 >/dev/null
# The hold may be broken only once node 2's heartbeat has stood still for
# CSVFS_HB_DEAD_MS (5 s; its last stamp may be 1 s older than the kill):
# an open granted less than 4 s after the kill is a bug.
# (On a loaded machine the first try may itself come later than that.)
first=$(opens 3 d)
since=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [[ $first == ok ]]; then
	awk -v s="$since" 'BEGIN { exit !(s >= 4.0) }' ||
		fail "node 3 got dead node 2's file ${since} s after the kill, before its heartbeat timeout"
else
	assert_match 'Device or resource busy' "$first" "open right after the kill (${since} s)"
fi
wait_for 300 eval '[ "$(opens 3 d)" = ok ]' || fail "node 3 never got the file of dead node 2"
info "ownership of the dead node broken after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
assert_match 'node 2 left the cluster and its heartbeat stopped' "$(cat "$(nlog 1)")" "coordinator log"
assert_eq from-node-2 "$(run 3 -- cat "$(mnt 3)/d")" "the dead node's data"

step "a handoff from the dead owner needs no recall"
run 1 -- "$B/csvfsctl" handoff "$(mnt 1)/h" 1 >/dev/null || fail "handoff from dead node 2 failed"
assert_match 'handing off without a recall' "$(cat "$(nlog 1)")" "coordinator log"
assert_eq ok "$(opens 1 h)" "node 1 writes the handed-off file"
kill_holders

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

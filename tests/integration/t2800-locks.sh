#!/bin/bash
# t2800 — cluster-wide application locks (meta/mds/mds_lock.c, fs/lkc.c) on 3
# nodes: node 2 is refused fcntl, OFD and flock locks node 1 holds; F_GETLK
# on node 2 reports the lock (pid 0: not a process of node 2) and the
# trusted.csvfs.locks xattr names node 1 and its pid; a blocked F_SETLKW on
# node 2 is granted when node 1's holder goes; two nodes increment a
# counter under fcntl locks 10,000 times without losing one; a lock
# survives `csvfsctl coordinator move` (nodes reclaim it in the new
# coordinator's grace period); a lock holder's node killed: its locks go
# once it is known dead and a waiter on another node is granted; node 3 is
# restarted, it holds a lock, and node 2 (the coordinator) is killed: the
# locks of nodes 1 and 3 hold on the new coordinator (they reclaim them);
# sqlite3 (journal_mode=DELETE) used from two nodes at once stays
# consistent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" \
	"$TOOLS/locktool" corosync python3 sqlite3 getfattr

cluster_env
img=$T/vol.img
LT=$TOOLS/locktool
on_exit "$CL" down '>/dev/null 2>&1'

coord_of() {
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}
HOLDERS=()
kill_holders() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null || true; done
	HOLDERS=()
}
on_exit kill_holders
# hold NODE KIND TYPE START LEN [-w]: a process on NODE holding that lock
# on file f; sets HPID (its pid) and HOUT (its output).
hold() {
	local pf=$T/hold.$RANDOM
	HOUT=$pf.out
	run "$1" -- sh -c "echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec $LT lock $2 $(mnt "$1")/f $3 $4 $5 -h ${6:-}" \
		</dev/null >"$HOUT" 2>&1 &
	wait_for 100 test -s "$pf" || fail "holder on node $1 did not start"
	HPID=$(cat "$pf")
	HOLDERS+=("$HPID")
	[ -n "${6:-}" ] && return 0
	wait_for 200 grep -q granted "$HOUT" || fail "node $1: no $2 $3 lock at $4+$5: $(cat "$HOUT")"
}
try() { local n=$1; shift; run "$n" -- "$LT" lock "$1" "$(mnt "$n")/f" "${@:2}" 2>&1 || true; }

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
run 1 -- sh -c "head -c 65536 /dev/zero > $(mnt 1)/f"
run 1 -- "$B/csvfsctl" multiwriter on "$(mnt 1)/f" >/dev/null

step "node 2 is refused what node 1 holds: fcntl, OFD, flock"
hold 1 posix w 0 100
h1=$HPID
wait_for 200 eval '[ "$(try 2 posix w 50 10)" = busy ]' || fail "node 2 got node 1's fcntl lock"
assert_eq busy "$(try 2 ofd r 99 1)" "node 2 OFD vs node 1 fcntl"
assert_eq granted "$(try 2 posix w 100 10)" "node 2 adjacent range"
assert_eq "write 0 100 0" "$(run 2 -- "$LT" getlk posix "$(mnt 2)/f" w 10 1)" "F_GETLK on node 2"
assert_match "node=1 pid=$h1 posix write start=0 end=99" \
	"$(run 2 -- getfattr --only-values -n trusted.csvfs.locks "$(mnt 2)/f")" "holder named"
hold 1 ofd w 200 10
assert_eq busy "$(try 2 ofd w 205 1)" "node 2 OFD vs node 1 OFD"
hold 1 flock w 0 0
assert_eq busy "$(try 2 flock w 0 0)" "node 2 flock vs node 1 flock"
assert_eq busy "$(try 3 flock r 0 0)" "node 3 shared flock vs node 1 exclusive"

step "a blocked F_SETLKW on node 2 is granted when node 1's holder goes"
hold 2 posix w 50 1 -w
w2=$HOUT
sleep 1
assert_eq "" "$(cat "$w2")" "node 2 waiter granted while node 1 holds"
kill "$h1"
wait_for 300 grep -q granted "$w2" || fail "node 2's waiter was not woken"
assert_eq busy "$(try 1 posix w 50 1)" "node 1 vs node 2's granted waiter"
kill_holders

step "nodes 1 and 2 increment a counter under fcntl locks, 10,000 times"
run 1 -- sh -c "printf '%019d\n' 0 > $(mnt 1)/counter"
run 1 -- "$B/csvfsctl" multiwriter on "$(mnt 1)/counter" >/dev/null
t0=$(date +%s.%N)
run 1 -- "$LT" counter "$(mnt 1)/counter" 5000 1 >"$T/c1" 2>&1 &
c1=$!
run 2 -- "$LT" counter "$(mnt 2)/counter" 5000 2 >"$T/c2" 2>&1 &
c2=$!
wait "$c1" || fail "counter on node 1: $(cat "$T/c1")"
wait "$c2" || fail "counter on node 2: $(cat "$T/c2")"
info "10,000 lock/unlock cycles in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
assert_eq 10000 "$((10#$(run 3 -- head -c 19 "$(mnt 3)/counter")))" "counter"

step "a lock survives csvfsctl coordinator move"
hold 1 posix w 0 100
h1=$HPID
run 2 -- "$B/csvfsctl" coordinator move 2 "$(mnt 2)" >/dev/null
wait_for 200 eval '[ "$(coord_of 3)" = 2 ]' || fail "the role did not move to node 2"
assert_eq busy "$(try 3 posix w 0 1)" "node 3 after the move"
assert_match "node=1 pid=$h1 posix write" \
	"$(run 3 -- getfattr --only-values -n trusted.csvfs.locks "$(mnt 3)/f")" "lock after the move"
kill "$h1"
wait_for 200 eval '[ "$(try 3 posix w 0 1)" = granted ]' || fail "unlock after the move"

step "a lock holder's node is killed: its locks go once it is known dead"
hold 3 posix w 0 100
hold 1 posix w 0 1 -w
w1=$HOUT
sleep 1
assert_eq "" "$(cat "$w1")" "node 1 waiter granted while node 3 holds"
"$CL" kill 3 >/dev/null
wait_for 600 grep -q granted "$w1" || fail "node 1's waiter not granted after node 3 died"
assert_match 'node 3: .*(dead|heartbeat stopped)' "$(cat "$CSVFS_CLUSTER_STATE/node2/csvfs.log")" "coordinator log"
kill_holders

step "locks survive the coordinator's death (failover, reclaim)"
"$CL" start 3 >"$T/start3.log" 2>&1 || { cat "$T/start3.log"; fail "node 3 did not start again"; }
hold 3 posix w 0 100
h3=$HPID
hold 1 ofd w 200 10
assert_eq 2 "$(coord_of 1)" "coordinator before the kill"
"$CL" kill 2 >/dev/null
wait_for 600 eval '[ "$(coord_of 1 2>/dev/null)" = 1 ]' || fail "node 1 did not take over"
assert_eq busy "$(try 1 posix w 0 1)" "node 3's lock after the failover"
assert_eq busy "$(try 3 ofd r 205 1)" "node 1's OFD lock after the failover"
kill "$h3"
wait_for 200 eval '[ "$(try 1 posix w 0 1)" = granted ]' || fail "unlock after the failover"
kill_holders

step "sqlite3 (journal_mode=DELETE) from nodes 1 and 3 at once"
db1=$(mnt 1)/db
run 1 -- sqlite3 "$db1" 'PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INT);' >/dev/null
run 1 -- "$B/csvfsctl" multiwriter on "$db1" >/dev/null
sq() { # NODE
	local i
	for i in $(seq 1 500); do
		echo "INSERT INTO t(who, n) VALUES('n$1', $i);"
	done | sed 's/^/.timeout 120000\n/' | run "$1" -- sqlite3 "$(mnt "$1")/db" >"$T/sq.$1" 2>&1
}
sq 1 &
s1=$!
sq 3 &
s2=$!
wait "$s1" || fail "sqlite on node 1: $(cat "$T/sq.1")"
wait "$s2" || fail "sqlite on node 3: $(cat "$T/sq.3")"
assert_eq 1000 "$(run 3 -- sqlite3 "$(mnt 3)/db" 'SELECT count(*) FROM t;')" "rows"
assert_eq ok "$(run 1 -- sqlite3 "$db1" 'PRAGMA integrity_check;')" "integrity"

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

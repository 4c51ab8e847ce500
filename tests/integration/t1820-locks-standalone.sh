#!/bin/bash
# t1820 — application locks on a standalone mount (fs/fsops_lock.c through
# the in-process coordinator, meta/mds/mds_lock.c): fcntl, OFD and flock locks
# conflict as on Linux (OFD with fcntl, flock only with flock), F_GETLK
# names the holder, the trusted.csvfs.locks xattr lists it, a blocked
# F_SETLKW is granted when the holder goes and ends at once when killed,
# closes release, and two processes incrementing a counter under fcntl
# locks never lose an increment; sqlite3 (rollback journal) from two
# processes at once stays consistent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$TOOLS/locktool" \
	getfattr sqlite3

img=$T/vol.img
M=$T/mnt
LT=$TOOLS/locktool
mkimg "$img" 1G
mkfs_vol "$img"
mount_vol "$img" "$M"
f=$M/f
head -c 65536 /dev/zero >"$f"

HOLDERS=()
kill_holders() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${HOLDERS[@]}"; do wait "$p" 2>/dev/null || true; done
	HOLDERS=()
}
on_exit kill_holders
# hold KIND TYPE START LEN: a process holding that lock on $f; sets HPID
hold() {
	local out=$T/hold.$RANDOM
	"$LT" lock "$1" "$f" "$2" "$3" "$4" -h >"$out" 2>&1 &
	HPID=$!
	HOLDERS+=("$HPID")
	wait_for 100 grep -q granted "$out" || fail "no $1 $2 lock at $3+$4: $(cat "$out")"
}
try() { "$LT" lock "$@" 2>&1 || true; }

step "fcntl: a write lock refuses overlapping locks of others, F_GETLK names it"
hold posix w 0 100
h1=$HPID
assert_eq busy "$(try posix "$f" w 50 10)" "overlapping write lock"
assert_eq busy "$(try posix "$f" r 99 1)" "overlapping read lock"
assert_eq granted "$(try posix "$f" w 100 10)" "adjacent lock"
assert_eq "write 0 100 $h1" "$("$LT" getlk posix "$f" w 10 1)" "F_GETLK"
assert_eq unlocked "$("$LT" getlk posix "$f" w 100 50)" "F_GETLK beyond the lock"
assert_match "node=1 pid=$h1 posix write start=0 end=99" \
	"$(getfattr --only-values -n trusted.csvfs.locks "$f")" "lock list xattr"

step "OFD locks conflict with fcntl locks; flock is apart"
hold ofd w 200 100
assert_eq busy "$(try ofd "$f" w 250 1)" "OFD vs OFD"
assert_eq busy "$(try posix "$f" r 299 1)" "fcntl vs OFD"
assert_eq busy "$(try ofd "$f" r 0 1)" "OFD vs fcntl"
assert_match '^write 200 100 ' "$("$LT" getlk ofd "$f" r 250 1)" "F_OFD_GETLK"
assert_eq granted "$(try flock "$f" w 0 0)" "flock beside fcntl and OFD locks"

step "flock: exclusive refuses, shared shares"
hold flock w 0 0
assert_eq busy "$(try flock "$f" w 0 0)" "second exclusive flock"
assert_eq busy "$(try flock "$f" r 0 0)" "shared under exclusive"
assert_eq granted "$(try posix "$f" w 5000 1)" "fcntl beside flock"
kill_holders
hold flock r 0 0
hold flock r 0 0
assert_eq busy "$(try flock "$f" w 0 0)" "exclusive under two shared"
kill_holders

step "a blocked F_SETLKW is granted when the holder goes"
hold posix w 0 100
h1=$HPID
"$LT" lock posix "$f" w 50 1 -w -h >"$T/waiter" 2>&1 &
wpid=$!
HOLDERS+=("$wpid")
sleep 1
assert_eq "" "$(cat "$T/waiter")" "waiter granted while the lock is held"
kill "$h1"
wait_for 200 grep -q granted "$T/waiter" || fail "the waiter was not woken"
assert_eq busy "$(try posix "$f" w 50 1)" "the woken waiter holds the lock"
kill_holders

step "a blocked waiter killed by a signal ends at once"
hold posix w 0 100
"$LT" lock posix "$f" w 0 1 -w >"$T/waiter2" 2>&1 &
wpid=$!
sleep 1
kill -KILL "$wpid"
wait_for 100 eval '! kill -0 '"$wpid"' 2>/dev/null' || fail "the killed waiter did not end"
wait "$wpid" 2>/dev/null || true
"$LT" lock posix "$f" w 0 1 -w -h >"$T/waiter3" 2>&1 &
HOLDERS+=("$!")
sleep 0.5
kill "$HPID"
wait_for 200 grep -q granted "$T/waiter3" || fail "the next waiter was not woken"
kill_holders

step "closing releases: fcntl, OFD and flock locks of an exited process"
for k in posix ofd flock; do
	"$LT" lock $k "$f" w 0 10 >/dev/null
	assert_eq granted "$(try $k "$f" w 0 10)" "$k lock after its holder exited"
done
assert_eq "" "$(getfattr --only-values -n trusted.csvfs.locks "$f")" "no lock left"

step "two processes increment a counter under fcntl locks"
printf '%019d\n' 0 >"$M/counter"
t0=$(date +%s.%N)
"$LT" counter "$M/counter" 2000 1 >"$T/c1" &
c1=$!
"$LT" counter "$M/counter" 2000 2 >"$T/c2" &
c2=$!
wait "$c1" || fail "counter 1 failed: $(cat "$T/c1")"
wait "$c2" || fail "counter 2 failed: $(cat "$T/c2")"
info "4,000 lock/unlock cycles in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
assert_eq 4000 "$((10#$(head -c 19 "$M/counter")))" "counter after 2 x 2000"

step "sqlite3 (rollback journal) from two processes at once"
sqlite3 "$M/db" 'PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INT);' >/dev/null
sq() {
	local i
	for i in $(seq 1 200); do
		echo "INSERT INTO t(who, n) VALUES('$1', $i);"
	done | sed 's/^/.timeout 60000\n/' | sqlite3 "$M/db" >"$T/sq.$1" 2>&1
}
sq a &
s1=$!
sq b &
s2=$!
wait "$s1" || fail "sqlite a: $(cat "$T/sq.a")"
wait "$s2" || fail "sqlite b: $(cat "$T/sq.b")"
assert_eq 400 "$(sqlite3 "$M/db" 'SELECT count(*) FROM t;')" "rows"
assert_eq ok "$(sqlite3 "$M/db" 'PRAGMA integrity_check;')" "integrity"

step "unmount, fsck clean"
umount_vol "$M"
fsck_clean "$img"

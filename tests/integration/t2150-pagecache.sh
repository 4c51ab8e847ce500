#!/bin/bash
# t2150 — page cache and shared mmap on cluster nodes (issue 14): the node
# that writes a file uses the page cache like a standalone mount; readers
# elsewhere use direct I/O and still see every write.
#
# Checks: a shared writable mmap on the writing node works, and what it
# wrote is read on another node after close; a reader node's MAP_SHARED
# mmap is refused with ENODEV (direct I/O there) while MAP_PRIVATE works;
# buffered writes on the writer node are read at once by a reader on
# another node (write-through); a page-cached read-only handle on the
# writer node keeps its write right (another node's write open is EBUSY
# until it closes), so no cached page can go stale; SQLite in WAL mode
# (shared mmap of its -shm file) used from node 1, closed, then from node
# 2, then node 1 again: every row there, integrity_check ok; the kernel
# page cache of node 2 holds nothing stale after node 1 rewrote the file;
# fsck clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3 sqlite3

cluster_env
img=$T/vol.img
HOLDERS=()
kill_holders() {
	local p
	for p in "${HOLDERS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	HOLDERS=()
}
on_exit kill_holders
on_exit "$CL" down '>/dev/null 2>&1'

hold() { # NODE MODE FILE: keeps FILE open on NODE (">>" write, "<" read)
	local pf=$T/hold.$RANDOM
	run "$1" -- sh -c "exec 3$2$(mnt "$1")/$3 && echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec sleep 600" \
		</dev/null >/dev/null 2>&1 &
	wait_for 100 test -s "$pf" || fail "holder on node $1 could not open $3"
	HOLDERS+=("$(cat "$pf")")
}
opens() { run "$1" -- sh -c "exec 3$2$(mnt "$1")/$3 && echo ok" 2>&1 || true; }

# mmap_write FILE OFFSET TEXT: MAP_SHARED write, munmap, close
mmap_py='
import mmap, os, sys
path, off, text, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
ro = flag.endswith("-ro")
fd = os.open(path, os.O_RDONLY if ro else os.O_RDWR)
try:
    m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED if flag.startswith("shared") else mmap.MAP_PRIVATE,
                  prot=mmap.PROT_READ if ro else mmap.PROT_READ | mmap.PROT_WRITE)
except OSError as e:
    print("mmap error: errno", e.errno); sys.exit(3)
if ro:
    print(m[off:off + len(text)].decode()); sys.exit(0)
m[off:off + len(text)] = text
if flag == "shared":
    m.flush()
m.close(); os.close(fd); print("ok")
'
mmap_write() { run "$1" -- python3 -c "$mmap_py" "$(mnt "$1")/$2" "$3" "$4" "${5:-shared}"; }

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

step "shared writable mmap on the writer node, read on another node after close"
run 1 -- dd if=/dev/zero of="$(mnt 1)/m" bs=64k count=4 status=none
assert_eq ok "$(mmap_write 1 m 70000 hello-from-node-1)" "MAP_SHARED write on node 1"
assert_eq hello-from-node-1 "$(run 2 -- dd if="$(mnt 2)/m" bs=1 skip=70000 count=17 status=none)" \
	"node 2 reads node 1's mmap write"

step "a reader node: MAP_SHARED refused (direct I/O), MAP_PRIVATE works"
hold 1 '>>' m
run_capture mmap_write 2 m 70000 hello-from-node-1 shared-ro
assert_match 'mmap error: errno 19' "$OUT" "MAP_SHARED on reader node 2 (ENODEV)"
assert_eq hello-from-node-1 "$(mmap_write 2 m 70000 hello-from-node-1 private-ro)" \
	"MAP_PRIVATE read on node 2"

step "buffered writes on the writer node are read at once elsewhere"
hold 2 '<' m
for i in 1 2 3 4 5 6; do
	run 1 -- sh -c "printf 'rec%04d' $i | dd of=$(mnt 1)/m bs=1 seek=$((i * 4096)) conv=notrunc status=none"
	assert_eq "$(printf 'rec%04d' $i)" \
		"$(run 2 -- dd if="$(mnt 2)/m" bs=1 skip=$((i * 4096)) count=7 status=none)" \
		"buffered write $i seen on node 2"
done
kill_holders

step "a page-cached handle on the writer node keeps the write right"
hold 1 '>>' m
hold 1 '<' m
kill "${HOLDERS[0]}"
sleep 0.5
assert_match 'Device or resource busy' "$(opens 2 '>>' m)" "write open on node 2 beside node 1's cached handle"
kill_holders
wait_for 50 eval '[ "$(opens 2 ">>" m)" = ok ]' || fail "node 1's cached handle did not release m"

step "no stale page cache: node 2 cached the file, node 1 rewrote it"
run 2 -- cat "$(mnt 2)/m" >/dev/null
run 1 -- sh -c "head -c 262144 /dev/urandom > $(mnt 1)/m"
assert_eq "$(run 1 -- sha256sum "$(mnt 1)/m" | cut -d' ' -f1)" \
	"$(run 2 -- sha256sum "$(mnt 2)/m" | cut -d' ' -f1)" "node 2 reads node 1's rewrite"

step "SQLite in WAL mode from node 1, then node 2, then node 1"
db=$(mnt 1)/app.db
run 1 -- sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, node INT, v TEXT);" >/dev/null
for n in 1 2 1; do
	run $n -- sqlite3 "$(mnt $n)/app.db" "PRAGMA journal_mode=WAL; BEGIN;
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200)
		INSERT INTO t(node, v) SELECT $n, hex(randomblob(100)) FROM c; COMMIT;" >/dev/null ||
		fail "sqlite inserts on node $n"
done
assert_eq wal "$(run 2 -- sqlite3 "$(mnt 2)/app.db" 'PRAGMA journal_mode;')" "journal mode"
assert_eq 600 "$(run 3 -- sqlite3 "$(mnt 3)/app.db" 'SELECT count(*) FROM t;')" "rows seen on node 3"
assert_eq ok "$(run 2 -- sqlite3 "$(mnt 2)/app.db" 'PRAGMA integrity_check;')" "integrity_check"

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

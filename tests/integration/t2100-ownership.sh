#!/bin/bash
# t2100 — file ownership on three nodes (lockd rules through the
# coordinator, DESIGN.md "File ownership").
#
# Checks (the single-writer rules of issue 11): a file open for writing on
# node 1 refuses an open for write on node 2 with EBUSY, and node 2's log
# names the file and the writer node; a read-only open on node 3 works at
# the same time and reads every write that returned on node 1; a truncate
# or punch from another node is refused; when node 1's last read-write
# handle closes (a read-only one stays, as when QEMU inactivates an image)
# node 2's read-write open is granted at once; readers on nodes 2 and 3
# do not stop a writer; a strict file keeps readers out; a multi-writer
# file accepts writers on all three nodes, sees at once the blocks another
# writer allocates, and refuses a punch or shrink while another node
# writes it; `csvfsctl locks` and the trusted.csvfs.owner xattr show
# writer, mode, readers and since; handoff to a non-member, or from a node
# that is not the writer, fails and changes nothing; after a handoff the
# target's read-only probe open and close keep its reservation; a "VM"
# (tests/tools/vmwriter: numbered, checksummed 4 KiB O_DIRECT records) runs
# on node 1, is paused, its disk handed to node 2 where it continues, 20
# times back and forth, then every record is verified; the old owner's
# still-open handle gets EIO after the handoff; ownership survives
# `csvfsctl coordinator move`; fsck clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" "$B/tests/vmwriter" corosync python3

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

nlog() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
owner_of() { # NODE FILE: "node=N mode=M ..." as NODE sees it
	run "$1" -- getfattr --only-values -n trusted.csvfs.owner "$(mnt "$1")/$2" 2>/dev/null
}
coord_of() {
	run "$1" -- "$B/csvfsctl" status --json "$(mnt "$1")" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"]["node"])'
}

# hold NODE MODE FILE: keeps FILE open on NODE in the background (MODE:
# ">>" write, "<" read); the holder's pid is pushed on HOLDERS.
hold() {
	local pf=$T/hold.$RANDOM
	run "$1" -- sh -c "exec 3$2$(mnt "$1")/$3 && echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec sleep 600" \
		</dev/null >/dev/null 2>&1 &
	wait_for 100 test -s "$pf" || fail "holder on node $1 could not open $3"
	HOLDERS+=("$(cat "$pf")")
}

# opens NODE MODE FILE: tries one open; prints "ok" or the error
opens() {
	run "$1" -- sh -c "exec 3$2$(mnt "$1")/$3 && echo ok" 2>&1 || true
}

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

step "single-writer: node 1 writes, node 2's write open is EBUSY, node 3 reads"
run 1 -- sh -c "echo data > $(mnt 1)/ex"
hold 1 '>>' ex
assert_match 'node=1 mode=single-writer' "$(owner_of 2 ex)" "writer seen from node 2"
assert_match 'Device or resource busy' "$(opens 2 '>>' ex)" "write open on node 2"
assert_match 'Device or resource busy' "$(opens 2 '<>' ex)" "read-write open on node 2"
assert_eq ok "$(opens 3 '<' ex)" "read open on node 3 beside the writer"
assert_eq ok "$(opens 1 '<' ex)" "read open on the writing node"
assert_eq ok "$(opens 1 '>>' ex)" "second writer on the writing node"
run_capture run 2 -- truncate -s 0 "$(mnt 2)/ex"
((RC != 0)) || fail "node 2 truncated a file node 1 writes"
assert_match 'Device or resource busy' "$OUT" "truncate on node 2"
run_capture run 3 -- fallocate -p -o 0 -l 4096 "$(mnt 3)/ex"
((RC != 0)) || fail "node 3 punched a hole in a file node 1 writes"
assert_eq data "$(run 1 -- cat "$(mnt 1)/ex")" "content after the refused truncate and punch"
ino=$(run 1 -- stat -c %i "$(mnt 1)/ex")
wait_for 50 grep -q "ino $ino: open for write refused: node 1 has it open for writing" "$(nlog 2)" ||
	fail "node 2's log does not name ino $ino and its writer: $(tail -5 "$(nlog 2)")"
# A reader on node 3 sees every write that returned on node 1.
hold 3 '<' ex
for i in 1 2 3 4 5; do
	run 1 -- dd if=/dev/urandom of="$(mnt 1)/ex" bs=4096 seek=$i count=1 \
		conv=notrunc oflag=direct status=none
	assert_eq "$(run 1 -- dd if="$(mnt 1)/ex" bs=4096 skip=$i count=1 iflag=direct status=none | sha256sum)" \
		"$(run 3 -- dd if="$(mnt 3)/ex" bs=4096 skip=$i count=1 iflag=direct status=none | sha256sum)" \
		"block $i read on node 3 right after node 1 wrote it"
done
assert_match 'readers=1' "$(owner_of 2 ex)" "node 3 counted as a reader"
locks=$(run 3 -- "$B/csvfsctl" locks "$(mnt 3)")
assert_match "ex +1 single-writer +1" "$locks" "csvfsctl locks"
kill_holders
wait_for 50 eval '[ "$(opens 2 ">>" ex)" = ok ]' || fail "node 1's last close did not release ex"
assert_match 'node=0 mode=none' "$(owner_of 3 ex)" "no owner after the last close"

step "switch-over: node 1 keeps a read-only handle, closes read-write; node 2 writes at once"
run 1 -- sh -c "echo sw > $(mnt 1)/sw"
hold 1 '<' sw
pf=$T/sw.pid
# node 1: a read-write handle that closes on a signal (QEMU inactivating)
run 1 -- sh -c "exec 3>>$(mnt 1)/sw && echo \$\$ > $pf.tmp && mv $pf.tmp $pf && exec sleep 600" \
	</dev/null >/dev/null 2>&1 &
wait_for 100 test -s "$pf" || fail "read-write holder on node 1"
rwpid=$(cat "$pf")
hold 2 '<' sw
assert_match 'Device or resource busy' "$(opens 2 '>>' sw)" "node 2 before the switch-over"
kill "$rwpid"
wait_for 50 eval '[ "$(opens 2 ">>" sw)" = ok ]' ||
	fail "node 2's write open after node 1 closed its last read-write handle"
hold 2 '>>' sw
assert_match 'node=2 mode=single-writer' "$(owner_of 1 sw)" "node 2 writes"
assert_match 'Device or resource busy' "$(opens 1 '>>' sw)" "node 1 cannot write again"
assert_match 'Device or resource busy' "$(opens 3 '>>' sw)" "node 3 cannot write"
kill_holders

step "readers on nodes 2 and 3 do not stop a writer on node 1"
run 1 -- sh -c "echo shared > $(mnt 1)/sr"
hold 2 '<' sr
hold 3 '<' sr
assert_match 'mode=readers' "$(owner_of 1 sr)" "mode"
assert_eq shared "$(run 3 -- cat "$(mnt 3)/sr")" "read on node 3"
hold 1 '>>' sr
assert_match 'node=1 mode=single-writer.*readers=2' "$(owner_of 3 sr)" "writer beside two readers"
kill_holders

step "strict: no reader beside the writer"
run 1 -- sh -c "echo strict > $(mnt 1)/st"
assert_match 'strict on' "$(run 1 -- "$B/csvfsctl" strict on "$(mnt 1)/st")" "flag set"
hold 1 '>>' st
assert_match 'Device or resource busy' "$(opens 3 '<' st)" "reader on node 3 refused"
kill_holders
# the killed writer's release reaches the coordinator after its process
# is gone (FUSE sends it in the background; seconds on a loaded machine),
# and a read open never waits: ask until the release has landed
wait_for 300 eval '[[ $(opens 3 "<" st) == ok ]]' || fail "node 3 still refused after node 1's writer ended"
hold 3 '<' st
assert_match 'Device or resource busy' "$(opens 1 '>>' st)" "writer refused beside a reader"
kill_holders

step "multi-writer: writers on all nodes"
run 1 -- "$B/tests/vmwriter" write "$(mnt 1)/mw" --max 4 --usleep 0 >/dev/null
assert_match 'multi-writer on' "$(run 1 -- "$B/csvfsctl" multiwriter on "$(mnt 1)/mw")" "flag set"
assert_eq 1 "$(run 2 -- getfattr --only-values -n trusted.csvfs.multiwriter "$(mnt 2)/mw" 2>/dev/null)" "flag seen"
hold 1 '>>' mw
hold 2 '>>' mw
assert_eq ok "$(opens 3 '>>' mw)" "third writer on node 3"
for n in 1 2 3; do
	run "$n" -- dd if=/dev/zero of="$(mnt $n)/mw" bs=4096 seek=$((10 + n)) count=1 \
		conv=notrunc oflag=direct status=none || fail "write on node $n"
done
assert_match 'mode=multi-writer' "$(owner_of 3 mw)" "mode"
# A block node 2 allocates is read at once on node 1, which has the map.
run 2 -- dd if=/dev/urandom of="$(mnt 2)/mw" bs=1M seek=40 count=1 \
	conv=notrunc oflag=direct status=none || fail "far write on node 2"
assert_eq "$(run 2 -- dd if="$(mnt 2)/mw" bs=1M skip=40 count=1 iflag=direct status=none | sha256sum)" \
	"$(run 1 -- dd if="$(mnt 1)/mw" bs=1M skip=40 count=1 iflag=direct status=none | sha256sum)" \
	"far block read on node 1"
# Freeing blocks under another writer's extent map is refused.
run_capture run 1 -- fallocate -p -o 0 -l 1048576 "$(mnt 1)/mw"
((RC != 0)) || fail "node 1 punched a hole while node 2 writes the file"
assert_match 'Device or resource busy' "$OUT" "punch with two writers"
run_capture run 1 -- truncate -s 1M "$(mnt 1)/mw"
assert_match 'Device or resource busy' "$OUT" "shrink with two writers"
kill_holders
run 1 -- "$B/csvfsctl" multiwriter off "$(mnt 1)/mw" >/dev/null

step "handoff refusals change nothing"
hold 1 '>>' ex
assert_fails run 1 -- "$B/csvfsctl" handoff "$(mnt 1)/ex" 9
assert_match 'not a member' "$OUT" "handoff to a non-member"
assert_fails run 1 -- "$B/csvfsctl" handoff "$(mnt 1)/ex" 2 --from 3
assert_match "source node is not the file's writer" "$OUT" "handoff from a non-writer"
assert_match 'node=1 mode=single-writer' "$(owner_of 2 ex)" "writer unchanged"

step "handoff: the target writes at once, the old writer is refused, the reservation holds"
assert_ok run 1 -- "$B/csvfsctl" handoff "$(mnt 1)/ex" 2
assert_match 'node=2 mode=single-writer' "$(owner_of 3 ex)" "new writer"
assert_match 'Device or resource busy' "$(opens 1 '>>' ex)" "node 1 refused after the handoff"
assert_eq ok "$(opens 3 '<' ex)" "node 3 may read"
# the target's read-only probe open and close (QEMU's) keep its reservation
assert_eq ok "$(opens 2 '<' ex)" "probe open on node 2"
assert_match 'Device or resource busy' "$(opens 3 '>>' ex)" "node 3 cannot take the reserved file"
kill_holders
sleep 0.3
assert_match 'node=2 mode=single-writer' "$(owner_of 3 ex)" "old writer's late close keeps node 2"
assert_eq ok "$(opens 2 '>>' ex)" "node 2 opens for write"
wait_for 50 eval '[ "$(opens 3 ">>" ex)" = ok ]' || fail "node 2's close after its write open did not release ex"

step "VM disk: 20 handoffs between nodes 1 and 2 while it writes"
vm=vm.img
src=1
hist=$T/handoff-ms
: >"$hist"
for i in $(seq 0 20); do
	out=$T/vm.$i.out
	pf=$T/vm.$i.pid
	run "$src" -- sh -c "echo \$\$ > $pf; exec $B/tests/vmwriter write $(mnt $src)/$vm --usleep 500" \
		</dev/null >"$out" 2>"$out.err" &
	wait_for 100 test -s "$pf" || fail "writer $i did not start"
	pid=$(cat "$pf")
	HOLDERS+=("$pid")
	wait_for 100 grep -q resumed "$out" || fail "writer $i: $(cat "$out" "$out.err")"
	sleep 0.3
	((i == 20)) && break
	kill -USR1 "$pid"
	wait_for 100 grep -q paused "$out" || fail "writer $i did not pause: $(cat "$out" "$out.err")"
	dst=$((3 - src))
	t0=$(date +%s%N)
	assert_ok run "$src" -- "$B/csvfsctl" handoff "$(mnt $src)/$vm" "$dst"
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$hist"
	# the paused VM's handle on the old node is revoked: its writes fail
	kill -TERM "$pid"
	wait_for 100 grep -q stopped "$out" || fail "writer $i did not stop"
	src=$dst
done
kill -TERM "$pid"
wait_for 100 grep -q stopped "$out" || fail "last writer did not stop"
HOLDERS=()
total=$(sed -n 's/^stopped //p' "$out")
info "records written: $total; handoff ms (with csvfsctl startup): $(sort -n "$hist" | tr '\n' ' ')"
((total > 100)) || fail "the VM wrote only $total records"
for i in $(seq 1 20); do
	prev=$(sed -n 's/^paused //p' "$T/vm.$((i - 1)).out")
	assert_eq "$prev" "$(sed -n 's/^resumed //p' "$T/vm.$i.out")" "writer $i resumed where writer $((i - 1)) paused"
done
assert_eq "verified $total" "$(run 3 -- "$B/tests/vmwriter" verify "$(mnt 3)/$vm" --count "$total")" \
	"every record present exactly as written"

step "a revoked handle gets EIO and writes nothing"
mkfifo "$T/go"
run 1 -- sh -c "exec 3>>$(mnt 1)/ex; echo \$\$ > $T/rv.pid; read x < $T/go; if echo late >&3; then echo wrote; else echo refused; fi > $T/rv.out 2>&1" \
	</dev/null >/dev/null 2>&1 &
wait_for 100 test -s "$T/rv.pid" || fail "revoke holder did not start"
HOLDERS+=("$(cat "$T/rv.pid")")
assert_ok run 1 -- "$B/csvfsctl" handoff "$(mnt 1)/ex" 3
size=$(run 3 -- stat -c %s "$(mnt 3)/ex")
echo go >"$T/go"
wait_for 100 test -s "$T/rv.out" || fail "revoke holder did not write"
assert_match refused "$(cat "$T/rv.out")" "write through the revoked handle"
assert_match 'I/O error|Input/output error' "$(cat "$T/rv.out")" "error of the revoked write"
assert_eq "$size" "$(run 3 -- stat -c %s "$(mnt 3)/ex")" "size unchanged by the revoked writer"
HOLDERS=()

step "ownership survives csvfsctl coordinator move"
hold 2 '>>' owned
assert_eq 1 "$(coord_of 2)" "coordinator before"
run 2 -- "$B/csvfsctl" coordinator move 3 "$(mnt 2)" >/dev/null
wait_for 100 eval '[ "$(coord_of 1)" = 3 ]' || fail "the role did not move to node 3"
assert_match 'node=2 mode=single-writer' "$(owner_of 1 owned)" "owner after the move"
assert_match 'Device or resource busy' "$(opens 1 '>>' owned)" "writer on node 1 after the move"
kill_holders
wait_for 50 eval '[ "$(opens 1 ">>" owned)" = ok ]' || fail "node 2's last close after the move did not release"

step "unmount everywhere, fsck clean"
"$CL" down >/dev/null 2>&1
run_capture "$B/fsck.csvfs" -n "$img"
if ((RC)); then
	for n in 1 2 3; do info "node $n log:"; tail -12 "$(nlog $n)" | sed 's/^/#      /'; done
fi
fsck_clean "$img"

#!/bin/bash
# t3300 — a frozen coordinator is replaced and, woken, writes nothing
# (issue 13).
#
# 3 nodes. SIGSTOP of the coordinator's daemon (node 1): its node and
# corosync stay up, so CPG still lists the process. Checked:
# - node 3's status answers at once, and a mkdir on node 3 succeeds:
#   nodes 2 and 3 see node 1's heartbeat stand still, depose it through
#   the CPG order (ELECT_DEPOSE) and node 2 takes over with a higher
#   epoch and serves changes;
# - a mkdir issued on node 1 while its daemon is stopped waits in the
#   kernel; after SIGCONT it is done once, by the new coordinator;
# - the woken daemon commits nothing: strace, attached while it is still
#   stopped, sees no write of it on the volume image other than its own
#   heartbeat slot; its log says it dropped the role writing nothing;
# - node 1 then follows node 2 (its status names node 2 and the new
#   epoch) and its later changes reach the others;
# - every node lists the same tree, and fsck is clean.
# Without the depose the mkdir on node 3 hangs and the test fails.
# timeout: 900
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/mount.csvfs" \
	"$B/csvfsctl" corosync python3 strace timeout

cluster_env
img=$T/vol.img
frozen=""
st_pid=""
# A stopped daemon would keep the unmount waiting: wake it first.
on_exit '[[ -n $frozen ]] && kill -CONT $frozen 2>/dev/null'
on_exit '[[ -n $st_pid ]] && kill $st_pid 2>/dev/null'
on_exit "$CL" down '>/dev/null 2>&1'

log_of() { echo "$CSVFS_CLUSTER_STATE/node$1/csvfs.log"; }
status_of() { # NODE FIELD...: python expression on the status JSON
	local node=$1
	shift
	run "$node" -- timeout 20 "$B/csvfsctl" status --json "$(mnt "$node")" |
		python3 -c 'import json,sys
s = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$*"
}
coord_of() { status_of "$1" '"%d %d" % (s["coordinator"]["node"], s["coordinator"]["epoch"])'; }
fail_log() { # NODE MESSAGE
	tail -30 "$(log_of "$1")" 2>/dev/null | sed 's/^/#    /' || true
	fail "$2"
}
tree_of() { run "$1" -- sh -c "cd '$(mnt "$1")' && find . | sort"; }

mkimg "$img" 2G
mkfs_vol "$img"
step "3 nodes up, the volume mounted on each"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }
read -r c1 e1 <<<"$(coord_of 3)"
assert_eq 1 "$c1" "first coordinator"
run 3 -- mkdir "$(mnt 3)/before"
# The heartbeat slot of node 1: the one place its daemon may still write.
hb_off=$(python3 -c 'import struct,sys
with open(sys.argv[1], "rb") as f:
    f.seek(0x60)
    print(struct.unpack("<Q", f.read(8))[0] * 4096)' "$img")
info "node 1's heartbeat slot at byte $hb_off"

step "SIGSTOP of the coordinator's daemon (node 1 and its corosync stay up)"
frozen=$("$CL" pid 1 csvfs)
kill -STOP "$frozen"
# A change from node 1 itself: queued in its kernel until the daemon wakes.
run 1 -- mkdir "$(mnt 1)/from-frozen-node" 2>"$T/frozen-mkdir.err" &
frozen_mkdir=$!
t0=$SECONDS
out=$(status_of 3 's["election"]["state"]') ||
	fail_log 3 "csvfsctl status on node 3 did not answer while node 1 is stopped"
info "node 3's election state right after the stop: $out"
timeout 300 "$CL" run 3 -- mkdir "$(mnt 3)/during-freeze" ||
	fail_log 2 "mkdir on node 3 failed or hung while node 1's daemon is stopped"
info "first change answered $((SECONDS - t0)) s after the stop"
read -r c2 e2 <<<"$(coord_of 3)"
assert_eq 2 "$c2" "coordinator after the freeze"
((e2 > e1)) || fail "epoch did not grow ($e1 -> $e2)"
assert_eq "2 $e2" "$(coord_of 2)" "node 2's view"
grep -q "member node 1 (pid $frozen) deposed" "$(log_of 2)" ||
	fail_log 2 "node 2 did not log the depose of node 1"
grep -q "waiting [0-9]* ms for the replaced coordinator" "$(log_of 2)" ||
	fail_log 2 "node 2 did not wait for the deposed coordinator's last writes"
run 2 -- mkdir "$(mnt 2)/during-freeze-2"
assert_ok run 3 -- test -d "$(mnt 3)/during-freeze-2"
assert_ok kill -0 "$frozen"

step "SIGCONT: the woken daemon writes nothing but its heartbeat"
strace -f -qq -yy -e trace=pwrite64,pwritev,pwritev2,fallocate,ioctl,write \
	-o "$T/strace.out" -p "$frozen" 2>"$T/strace.err" &
st_pid=$!
sleep 2
kill -CONT "$frozen"
frozen=""
wait "$frozen_mkdir" || { cat "$T/frozen-mkdir.err"; fail "the mkdir queued on node 1 failed after SIGCONT"; }
wait_for 600 grep -q "coordinator dropped, nothing written" "$(log_of 1)" ||
	fail_log 1 "node 1 did not drop the role after it woke"
agree1() { [[ $(coord_of 1 2>/dev/null) == "2 $e2" ]]; }
wait_for 1200 agree1 || fail_log 1 "node 1 does not follow node 2 (it says: $(coord_of 1 2>&1))"
assert_eq False "$(status_of 1 's["coordinator"]["self"]')" "node 1 serves no more"
run 1 -- mkdir "$(mnt 1)/after-wake"
assert_ok run 3 -- test -d "$(mnt 3)/after-wake"
assert_ok run 3 -- test -d "$(mnt 3)/from-frozen-node"
sleep 2
kill "$st_pid" 2>/dev/null || true
wait "$st_pid" 2>/dev/null || true
st_pid=""
# Every write call of the woken daemon on the volume image: only at its slot.
python3 - "$T/strace.out" "$img" "$hb_off" >"$T/writes.txt" <<'EOF' || { cat "$T/writes.txt"; fail "the woken coordinator wrote to the volume"; }
import re, sys
path, img, hb = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = r"\(\d+<" + re.escape(img) + ">"
bad = slot = 0
for line in open(path, errors="replace"):
    if "resumed>" in line or not re.search(r"\w+" + fd, line):
        continue
    call = re.search(r"(\w+)" + fd, line).group(1)
    if call in ("pread64", "preadv", "fdatasync", "fsync", "fstat", "newfstatat"):
        continue
    m = re.search(r", (\d+)(?:\)\s+=| <unfinished)", line)
    if call == "pwrite64" and m and int(m.group(1)) == hb:
        slot += 1
        continue
    bad += 1
    print("write outside the heartbeat slot:", line.strip()[:200])
print(f"{slot} heartbeat stamps, {bad} other writes")
sys.exit(1 if bad or slot == 0 else 0)
EOF
info "$(tail -1 "$T/writes.txt")"

step "all nodes list the same tree"
t1=$(tree_of 1)
for n in 2 3; do
	[[ $(tree_of "$n") == "$t1" ]] || { diff <(echo "$t1") <(tree_of "$n") | sed 's/^/#    /'; fail "node $n lists another tree than node 1"; }
done
for d in before during-freeze during-freeze-2 from-frozen-node after-wake; do
	grep -qx "./$d" <<<"$t1" || fail "$d missing from the tree"
done

step "fsck clean"
"$CL" down >/dev/null 2>&1
fsck_clean "$img"

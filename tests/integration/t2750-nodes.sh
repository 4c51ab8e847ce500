#!/bin/bash
# t2750 — `csvfsctl nodes` on a 3-node cluster: every node slot in use,
# its host, heartbeat and age, membership, fenced, dead, coordinator and
# the files it owns, as JSON and as a table; then node 3 (owning two
# files) is killed (csvfs and corosync, kill -9): the others first see it
# out of the membership and then dead, still owning its files, while the
# survivors stay members, unfenced, with fresh heartbeats.
# timeout: 900
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$B/csvfsctl" corosync \
	python3

cluster_env
img=$T/vol.img
on_exit "$CL" down '>/dev/null 2>&1'

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

# snap NODE: saves the JSON of `csvfsctl --json nodes` run on NODE;
# q NODE EXPR: evaluates the python expression EXPR over the last snap of
# NODE (v: the object, n: node id -> row); view NODE EXPR: both.
snap() {
	run "$1" -- "$B/csvfsctl" --json nodes "$(mnt "$1")" >"$T/view.$1.json" 2>"$T/view.err" ||
		{ cat "$T/view.err" >&2; return 1; }
}
q() {
	python3 - "$T/view.$1.json" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
n = {r["node"]: r for r in v["nodes"]}
print(eval(sys.argv[2]))
EOF
}
view() { snap "$1" && q "$@"; }

mkimg "$img" 2G
mkfs_vol "$img" -n 8
step "3 nodes up"
"$CL" up -n 3 "$img" >"$T/up.log" 2>&1 || { cat "$T/up.log"; fail "cluster up failed"; }

step "node 2 owns one file, node 3 two; node 1 only reads"
run 2 -- sh -c "echo two > $(mnt 2)/a"
run 3 -- sh -c "echo three > $(mnt 3)/b; echo three > $(mnt 3)/c"
hold 2 a
hold 3 b
hold 3 c
run 1 -- cat "$(mnt 1)/a" >/dev/null

step "every node sees the three slots, members, no one fenced or dead"
for me in 1 2 3; do
	wait_for 100 eval '[ "$(view '"$me"' "sorted(n) == [1, 2, 3]")" = True ]' ||
		fail "node $me does not list nodes 1, 2, 3: $(cat "$T/view.$me.json")"
	info "node $me: $(tr -d '\n' <"$T/view.$me.json")"
	assert_eq "cluster True $me 1" "$(q "$me" 'v["mode"], v["quorate"], v["node"], v["coordinator"]' | tr -d "(),'")" \
		"mode, quorum, self and coordinator on node $me"
	for k in 1 2 3; do
		assert_eq "node$k cluster True False False" \
			"$(q "$me" "n[$k]['host'], n[$k]['slot'], n[$k]['member'], n[$k]['fenced'], n[$k]['dead']" | tr -d "(),'")" \
			"node $me's view of node $k"
		assert_eq True "$(q "$me" "0 <= n[$k]['heartbeat_age_ms'] < 3000 and n[$k]['heartbeat'] > 0")" \
			"node $k's heartbeat is fresh in node $me's view"
		assert_eq "$([[ $k == "$me" ]] && echo True || echo False)" "$(q "$me" "n[$k]['self']")" "self flag"
		assert_eq "$([[ $k == 1 ]] && echo True || echo False)" "$(q "$me" "n[$k]['coordinator']")" "coordinator flag"
	done
	assert_eq "0 1 2" "$(q "$me" 'n[1]["owned_files"], n[2]["owned_files"], n[3]["owned_files"]' | tr -d '(),')" \
		"files owned per node, seen on node $me"
done
step "the table"
table=$(run 2 -- "$B/csvfsctl" nodes "$(mnt 2)")
info "$table"
assert_match '^NODE +HOST +SLOT +HB AGE +MEMBER +FENCED +DEAD +COORD +OWNS' "$table" "table header"
assert_match '^1 +node1 +cluster +[0-9.]+ s +yes +no +no +yes +0$' "$table" "node 1 row"
assert_match '^2 +node2 +cluster +[0-9.]+ s +yes +no +no +no +1  \(this node\)$' "$table" "node 2 row"
assert_match '^3 +node3 +cluster +[0-9.]+ s +yes +no +no +no +2$' "$table" "node 3 row"

step "node 3 is killed: out of the membership, then dead, still owning its files"
"$CL" kill 3 >/dev/null
wait_for 300 eval '[ "$(view 1 "not n[3][\"member\"]")" = True ]' ||
	fail "node 1 still lists node 3 as a member: $(cat "$T/view.1.json")"
wait_for 300 eval '[ "$(view 1 "n[3][\"dead\"]")" = True ]' ||
	fail "node 1 never shows node 3 dead: $(cat "$T/view.1.json")"
info "node 1: $(tr -d '\n' <"$T/view.1.json")"
assert_eq True "$(q 1 'n[3]["heartbeat_age_ms"] >= 5000')" "dead node's heartbeat age"
assert_eq "False False 2" "$(q 1 'n[3]["member"], n[3]["fenced"], n[3]["owned_files"]' | tr -d '(),')" \
	"dead node 3: not a member, not fenced but dead, owns its 2 files"
for me in 1 2; do
	assert_eq "True 2" "$(view "$me" 'v["quorate"], len([k for k in (1, 2) if n[k]["member"] and not n[k]["fenced"] and not n[k]["dead"] and n[k]["heartbeat_age_ms"] < 3000])' | tr -d '(),')" \
		"survivors on node $me: quorate, members, alive"
	assert_eq True "$(q "$me" 'n[3]["dead"]')" "node $me sees node 3 dead"
done
table=$(run 1 -- "$B/csvfsctl" nodes "$(mnt 1)")
info "$table"
assert_match '^3 +node3 +cluster +[0-9.]+ s +no +no +yes +no +2$' "$table" "dead node 3's row"

step "unmount, fsck clean"
kill_holders
"$CL" down >/dev/null 2>&1
fsck_clean "$img"
step "done"

#!/bin/bash
# pacemaker.sh — Pacemaker-driven VM times (not a timed test): runs t2550
# (3 nodes, a csvfs mount clone, the test guest as a VirtualDomain resource
# with libvirt) with PCMK_MOVES live moves (default 4), and prints
#   live move    crm_resource --move until Pacemaker reports the VM on the
#                target, against libvirt's migration inside it (migrate_to's
#                exec-time, same move): the ratio is what Pacemaker adds
#   recovery     from `scripts/cluster kill` of the VM's node to the VM
#                running on another node (Corosync's loss detection,
#                fencing, csvfs breaking the dead node's hold, VM start)
#
#   tests/bench/pacemaker.sh [BUILD_DIR]
set -uo pipefail

B=$(cd "${1:-build}" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T2550_MOVES=${PCMK_MOVES:-4} "$REPO/tests/run-integration.sh" "$B" all t2550 >/dev/null 2>&1
rc=$?
log=$B/test-logs/t2550-pacemaker-vm.log
line=$(grep -h "live moves (ms):" "$log" | tail -n 1)
if ((rc != 0)) || [[ -z $line ]]; then
	echo "pacemaker: t2550 failed, no figures (see $log)"
	exit 1
fi
python3 - "$line" <<'PY'
import re, statistics, sys
line = sys.argv[1]
moves = [int(x) for x in re.search(r"live moves \(ms\): ([\d ]+);", line).group(1).split()]
migs = [int(x) for x in re.search(r"migrations in them \(ms\): ([\d ?]+);", line).group(1).split() if x != "?"]
rec = int(re.search(r"node kill: (\d+) s", line).group(1))
mm = statistics.median(moves)
print(f"pacemaker live move: median {mm:.0f} ms over {len(moves)} moves (min {min(moves)}, max {max(moves)})")
if migs:
    mg = statistics.median(migs)
    print(f"  libvirt migration inside it: median {mg:.0f} ms; move / migration = {mm / mg:.2f}x")
print(f"pacemaker recovery after a node kill: {rec} s from the kill to the VM running on another node")
PY

#!/bin/bash
# failover.sh — failover times and the cost of the epoch check (not timed
# tests): runs t3200-failover (a 3-node cluster: kill -9 of the
# coordinator's daemon, then its successor's node cut off) and prints the
# time from each fault to the first change answered on another node; then
# tests/epochbench (single-change commits with the superblock epoch check
# off and on, same run).
#
#   tests/bench/failover.sh [BUILD_DIR]
set -uo pipefail

B=$(cd "${1:-build}" && pwd)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
"$REPO/tests/run-integration.sh" "$B" all t3200 >/dev/null 2>&1
rc=$?
grep -h "first change answered" "$B/test-logs/t3200-failover.log" | sed 's/^#  *//'
((rc == 0)) || echo "failover: t3200 failed (see $B/test-logs/t3200-failover.log)"
img=$(mktemp /var/tmp/csvfs-epochbench.XXXXXX)
"$B/tests/epochbench" "$img" 2000
rm -f "$img"

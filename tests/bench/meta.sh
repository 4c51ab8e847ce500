#!/bin/bash
# Metadata benchmark (not a test): create/stat/unlink of empty files per
# second on a 3-node cluster, from the coordinator node (1) and from a
# non-coordinator node (2, over TLS), against the same on a local tmpfs
# directory as the reference measured in the same run; and the stat round
# trip (FUSE + metadata RPC) p50/p99, and a second stat pass answered by
# the node's coherent cache. Target: a non-coordinator node
# creates at least 1,000 empty files per second.
#
#   tests/bench/meta.sh BUILD_DIR [N]
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
N=${2:-3000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CL=$REPO/scripts/cluster
WORK=$(mktemp -d /var/tmp/csvfs-metabench.XXXXXX)
export CSVFS_BIN=$B CSVFS_CLUSTER_STATE=$WORK/cluster
trap '"$CL" down >/dev/null 2>&1; umount "$WORK/tmpfs" 2>/dev/null; rm -rf --one-file-system "$WORK"' EXIT

mkdir "$WORK/tmpfs"
mount -t tmpfs none "$WORK/tmpfs"
echo "reference: tmpfs"
"$B/tests/metabench" -n "$N" "$WORK/tmpfs" | tee "$WORK/ref.txt"
truncate -s 2G "$WORK/vol.img"
"$B/mkfs.csvfs" -q "$WORK/vol.img"
"$CL" up -n 3 "$WORK/vol.img" >/dev/null 2>&1
for n in 1 2; do
	d=$CSVFS_CLUSTER_STATE/node$n/mnt/bench$n
	"$CL" run "$n" -- mkdir "$d"
	echo "node $n ($([ $n = 1 ] && echo coordinator || echo 'non-coordinator, TLS'))"
	"$CL" run "$n" -- "$B/tests/metabench" -n "$N" "$d" | tee "$WORK/node$n.txt"
done
rate() { awk -v k="$1" '$1 == k && $3 == "ops/s" { print $2 }' "$2"; }
c2=$(rate create "$WORK/node2.txt")
echo
printf 'non-coordinator creates: %s/s (target >= 1000): %s; ratio to tmpfs %.4f\n' \
	"$c2" "$( (( c2 >= 1000 )) && echo PASS || echo MISS)" \
	"$(awk -v a="$c2" -v b="$(rate create "$WORK/ref.txt")" 'BEGIN { print a / b }')"
s2=$(rate stat "$WORK/node2.txt")
r2=$(rate restat "$WORK/node2.txt")
printf 'non-coordinator stats: first %s/s (RPC), again %s/s (node cache): %.1fx\n' \
	"$s2" "$r2" "$(awk -v a="$r2" -v b="$s2" 'BEGIN { print a / b }')"

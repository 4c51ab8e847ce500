#!/bin/bash
# t1300 — fsx data integrity on csvfs: random writes (aligned, unaligned,
# across 1 MiB blocks, past EOF), reads, truncates, punched holes,
# fallocate, fsync, reopen and O_DIRECT on 4 files of up to 8 MiB, checked
# against an in-memory model; then unmount, fsck clean, remount and every
# byte checked again against the saved model.
#
# FSX_SEED and FSX_OPS override the fixed seed and the op count.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsd" "$TOOLS/fsx"

seed=${FSX_SEED:-20240611}
ops=${FSX_OPS:-5000}
img=$T/vol.img
M=$T/mnt

step "fsx self-check on the local disk: a corrupted model must be caught"
mkdir "$T/local"
run_capture "$TOOLS/fsx" -s 1 -N 500 -X "$T/local"
((RC == 1)) || fail "fsx -X exited $RC: the checker does not fire"
assert_match 'DATA MISMATCH' "$OUT" "fsx -X output"
rm -rf "$T/local"

mkimg "$img" 512M
mkfs_vol "$img"
mount_vol "$img" "$M"
mkdir "$M/fsx"

step "fsx -s $seed -N $ops -f 4 -m 8M on the mount"
run_capture "$TOOLS/fsx" -s "$seed" -N "$ops" -f 4 -m 8M -S "$T/fsx.state" "$M/fsx"
if ((RC != 0)); then
	_show "$OUT"
	fail "fsx failed (exit $RC); rerun: $TOOLS/fsx -s $seed -N $ops -f 4 -m 8M -d DIR"
fi
while read -r line; do info "$line"; done < <(grep -E 'seed|ops:|verified' <<<"$OUT")

step "a second run on 8 small files, 2 MiB max, with another seed"
mkdir "$M/fsx2"
run_capture "$TOOLS/fsx" -s $((seed + 1)) -N 3000 -f 8 -m 2M -S "$T/fsx2.state" "$M/fsx2"
((RC == 0)) || { _show "$OUT"; fail "fsx -s $((seed + 1)) -f 8 -m 2M failed (exit $RC)"; }

step "unmount, fsck clean, remount, verify every byte against the model"
umount_vol "$M"
fsck_clean "$img"
mount_vol "$img" "$M"
for s in fsx fsx2; do
	run_capture "$TOOLS/fsx" --verify-only -S "$T/$s.state" "$M/$s"
	((RC == 0)) || { _show "$OUT"; fail "fsx --verify-only of $s after remount failed (exit $RC)"; }
	info "$(tail -n 1 <<<"$OUT")"
done
umount_vol "$M"
fsck_clean "$img"
step "done"

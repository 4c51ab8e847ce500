#!/bin/bash
# t1000 — mkfs.csvfs and fsck.csvfs on image files and a loop device:
# every block size formats and checks clean, bad arguments and small or
# already formatted devices are refused, fsck -n writes nothing, a 1 TiB
# sparse image formats in under 2 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need "$B/mkfs.csvfs" "$B/fsck.csvfs" losetup sha256sum

img=$T/vol.img

step "mkfs with defaults on a 256 MiB image, fsck -n clean"
mkimg "$img" 256M
mkfs_vol "$img"
fsck_clean "$img"

step "fsck -n does not write to the volume"
sum_before=$(sha256sum <"$img")
"$B/fsck.csvfs" -n "$img" >/dev/null 2>&1 || true
assert_eq "$sum_before" "$(sha256sum <"$img")" "image changed by fsck -n"

step "fsck -y of a clean volume exits 0"
assert_ok "$B/fsck.csvfs" -y "$img"

for bs in 1M 2M 4M 8M; do
	step "mkfs -b $bs -n 16 -j 16M -L vol$bs, fsck clean"
	mkimg "$img" 512M
	mkfs_vol "$img" -b "$bs" -n 16 -j 16M -L "vol$bs"
	fsck_clean "$img"
done

step "mkfs -b 3M is refused and names the block size"
mkimg "$img" 256M
run_capture "$B/mkfs.csvfs" -f -b 3M "$img"
((RC != 0)) || fail "mkfs -b 3M succeeded"
assert_match 'block ?size|3M|3145728' "$OUT" "mkfs -b 3M message"

step "mkfs of a 1 MiB image is refused: too small"
mkimg "$T/tiny.img" 1M
run_capture "$B/mkfs.csvfs" "$T/tiny.img"
((RC != 0)) || fail "mkfs of a 1 MiB image succeeded"
assert_match 'too small' "$OUT" "mkfs of a 1 MiB image"

step "formatting an existing volume needs -f"
mkimg "$img" 256M
mkfs_vol "$img" -L first
sum_before=$(sha256sum <"$img")
run_capture "$B/mkfs.csvfs" "$img"
((RC != 0)) || fail "mkfs over an existing volume succeeded without -f"
[[ -n "$OUT" ]] || fail "mkfs refused an existing volume without a message"
info "refused: $(head -n 1 <<<"$OUT")"
assert_eq "$sum_before" "$(sha256sum <"$img")" "refused mkfs changed the image"
fsck_clean "$img"
mkfs_vol "$img" -f -L second
fsck_clean "$img"

step "fsck of an image that holds no volume fails (exit 4 or 8)"
mkimg "$T/zero.img" 256M
run_capture "$B/fsck.csvfs" -n "$T/zero.img"
[[ $RC == 4 || $RC == 8 ]] || {
	printf '%s\n' "$OUT" >&2
	fail "fsck -n of a zeroed image: exit $RC, expected 4 or 8"
}
[[ -n "$OUT" ]] || fail "fsck of a zeroed image said nothing"

step "mkfs of a 1 TiB sparse image takes less than 2 s"
rm -f "$img" "$T/tiny.img" "$T/zero.img"
mkimg "$T/big.img" 1T
t0=$(date +%s%N)
mkfs_vol "$T/big.img"
ms=$((($(date +%s%N) - t0) / 1000000))
info "mkfs of 1 TiB: $ms ms, $(du -h "$T/big.img" | cut -f1) allocated in the image"
((ms < 2000)) || fail "mkfs of a 1 TiB image took $ms ms (limit 2000)"
fsck_clean "$T/big.img"
rm -f "$T/big.img"

step "mkfs and fsck on a loop device (O_DIRECT)"
mkimg "$img" 512M
loop_attach "$img"
mkfs_vol "$LOOP" -f
fsck_clean "$LOOP"
run_capture "$B/mkfs.csvfs" "$LOOP"
((RC != 0)) || fail "mkfs over the existing volume on $LOOP succeeded without -f"

step "done"

#!/bin/bash
# t1720 — progress on a terminal, silence without one: mkfs.csvfs (the
# zeroing), fsck.csvfs (its passes and the inode/bitmap scans) and
# `csvfsctl grow` print progress on stderr when it is a terminal (a pty
# from script(1)), and none when it is a file or a pipe.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp_setup
need script "$B/mkfs.csvfs" "$B/fsck.csvfs" "$B/csvfsctl" truncate

img=$T/vol.img
M=$T/mnt

# Runs CMD... on a pty; sets $RC and $OUT (what the terminal showed).
on_tty() {
	local cmd
	printf -v cmd '%q ' "$@"
	RC=0
	OUT=$(script -qec "$cmd" /dev/null </dev/null) || RC=$?
}

# Runs CMD... with stdout and stderr in files; sets $RC, $STDOUT, $STDERR.
no_tty() {
	RC=0
	"$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
	STDOUT=$(cat "$T/out")
	STDERR=$(cat "$T/err")
}

step "mkfs.csvfs on a terminal shows the zeroing"
mkimg "$img" 512M
on_tty "$B/mkfs.csvfs" "$img"
assert_eq 0 "$RC" "mkfs.csvfs exit status on a pty"
assert_match 'zeroing the device: +0%' "$OUT" "mkfs progress starts"
assert_match 'zeroing the device: 100%, done' "$OUT" "mkfs progress ends"
assert_match 'csvfs volume created' "$OUT" "mkfs summary"

step "mkfs.csvfs without a terminal prints no progress"
no_tty "$B/mkfs.csvfs" -f "$img"
assert_eq 0 "$RC" "mkfs.csvfs exit status"
assert_eq "" "$STDERR" "mkfs.csvfs stderr without a terminal"
assert_match 'csvfs volume created' "$STDOUT" "mkfs summary"
[[ "$STDOUT" != *zeroing* ]] || fail "mkfs.csvfs printed progress to a file"

step "fsck.csvfs on a terminal shows its passes and scans"
on_tty "$B/fsck.csvfs" -n "$img"
assert_eq 0 "$RC" "fsck.csvfs -n exit status on a pty"
for p in 0 1 2 3 4 5 6; do
	assert_match "Pass $p: checking" "$OUT" "fsck pass $p shown"
done
assert_match 'fsck\.csvfs: checking inodes +[0-9]+%' "$OUT" "fsck inode scan progress"
assert_match 'fsck\.csvfs: checking the bitmap +[0-9]+%' "$OUT" "fsck bitmap scan progress"

step "fsck.csvfs without a terminal prints no progress"
no_tty "$B/fsck.csvfs" -n "$img"
assert_eq 0 "$RC" "fsck.csvfs -n exit status"
assert_eq "" "$STDERR" "fsck.csvfs stderr without a terminal"
[[ "$STDOUT" != *Pass* && "$STDOUT" != *%* ]] ||
	fail "fsck.csvfs printed progress without a terminal: $STDOUT"
assert_match 'clean' "$STDOUT" "fsck summary"

step "csvfsctl grow on a terminal shows progress"
mount_vol "$img" "$M"
echo data >"$M/f"
truncate -s 2G "$img"
on_tty "$B/csvfsctl" grow "$M"
assert_eq 0 "$RC" "csvfsctl grow exit status on a pty"
assert_match "grow $M: +[0-9]+%" "$OUT" "grow progress line"
assert_match "grow $M: 100%, done" "$OUT" "grow progress ends"
assert_match "grown from [0-9.]+ MiB to 2\.0 GiB" "$OUT" "grow result"

step "csvfsctl grow without a terminal prints no progress"
truncate -s 3G "$img"
no_tty "$B/csvfsctl" grow "$M"
assert_eq 0 "$RC" "csvfsctl grow exit status"
assert_eq "" "$STDERR" "csvfsctl grow stderr without a terminal"
assert_match "grown from 2\.0 GiB to 3\.0 GiB" "$STDOUT" "grow result"
assert_file_content "$M/f" $'data\n'
umount_vol "$M"
fsck_clean "$img"
step "done"

# lib.sh — helpers for the csvfs integration tests; source it, then call
# tmp_setup. Needs CSVFS_BIN (the build dir, set by tests/run-integration.sh).
#
#   tmp_setup                   private temp dir $T, cleanup on any exit
#   mkimg PATH SIZE             sparse image file
#   mkfs_vol IMG [ARGS...]      mkfs.csvfs ARGS IMG, must succeed
#   fsck_clean DEV              fsck.csvfs -n DEV must exit 0
#   mount_vol IMG DIR [OPTS]    csvfsd IMG DIR -o pidfile=...,OPTS; waits for it
#   umount_vol DIR              umount DIR and wait for the daemon to exit
#   track_dir DIR               unmount DIR at exit if mounted (mount -t ...)
#   track_mount DIR PIDFILE     register a mount made by other means
#   loop_attach IMG             sets LOOP to a new loop device (O_DIRECT), detached on exit
#   on_exit CMD...              run CMD at cleanup (last registered runs first)
#   cluster_env                 for scripts/cluster tests (after tmp_setup):
#                               REPO, CL (the script), CSVFS_BIN and
#                               CSVFS_CLUSTER_STATE ($T/cluster) exported;
#                               then run NODE -- CMD and mnt NODE (its mount)
#   keep_logs FILE...           copy FILEs (logs of a failing run) to
#                               $CSVFS_BIN/test-logs/NAME.kept/, paths kept
#   as_user UID CMD...          run CMD as UID:UID with no supplementary groups
#   run_capture CMD...          run CMD; sets $RC and $OUT (stdout+stderr)
#   wait_for TENTHS CMD...      retry CMD every 0.1 s until it succeeds
#   need PROG...                fail (never skip) when a program is missing
#   strerror ERRNO_NAME         the C library's text for it (EEXIST -> File exists)
#   step MSG / info MSG / fail MSG
#   assert_eq EXPECTED ACTUAL MSG
#   assert_match REGEX TEXT MSG           (grep -E -i)
#   assert_ok CMD...
#   assert_fails CMD...                   any non-zero exit
#   assert_fails_with ERRNO CMD...        non-zero exit, output has strerror(ERRNO)
#   assert_file_content FILE EXPECTED     byte-exact (no trailing newline added)
#   assert_mount_refused IMG DIR REGEX    csvfsd must refuse IMG saying REGEX
#
# $B is the build dir, $TOOLS its tests/ (fsx, seekdata, renameat2), $T the
# temp dir. Daemons are started with -o pidfile= in $T, so cleanup (and the
# runner, after a SIGKILL) end only the pids this test started.
#
# Tests are `set -euo pipefail` scripts; an unexpected failing command is
# reported with its line by the ERR trap below.

: "${CSVFS_BIN:?CSVFS_BIN must name the build directory (see tests/run-integration.sh)}"
B=$CSVFS_BIN
TOOLS=$B/tests
TEST_NAME=$(basename "$0" .sh)
export TZ=UTC LC_ALL=C

T=""			# the test's private temp dir
_MOUNTS=()		# mount points this test mounted
declare -A _MOUNT_PID=()	# mount point -> daemon pid
_PIDS=()		# pids this test started
_LOOPS=()		# loop devices this test attached
_ON_EXIT=()		# extra cleanup commands
_CLEANED=0

set -E
trap '_on_err $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" "$LINENO"' ERR

_on_err() {
	printf 'ERROR: %s:%s: command failed (exit %s): %s\n' \
		"$(basename "$3")" "$4" "$1" "$2" >&2
}

_where() {
	# first caller outside lib.sh
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ "${BASH_SOURCE[$i]}" != */lib.sh ]]; then
			printf '%s:%s' "$(basename "${BASH_SOURCE[$i]}")" "${BASH_LINENO[$((i - 1))]}"
			return
		fi
	done
	printf '?'
}

step() { printf '# -- %s\n' "$*"; }
info() { printf '#    %s\n' "$*"; }

fail() {
	printf 'FAIL: %s: %s\n' "$(_where)" "$*" >&2
	exit 1
}

# Prints at most 40 lines of $1, indented, for failure context.
_show() {
	local text=$1 n
	n=$(printf '%s\n' "$text" | wc -l)
	printf '%s\n' "$text" | head -n 40 | sed 's/^/  | /' >&2
	((n <= 40)) || printf '  | ... (%d more lines)\n' $((n - 40)) >&2
}

# ---------------------------------------------------------------- assertions

assert_eq() {
	local exp=$1 act=$2 msg=${3:-values differ}
	[[ "$exp" == "$act" ]] && return 0
	printf 'FAIL: %s: %s\n  expected: %q\n  actual:   %q\n' "$(_where)" "$msg" "$exp" "$act" >&2
	exit 1
}

assert_match() {
	local re=$1 text=$2 msg=${3:-no match}
	grep -qiE -- "$re" <<<"$text" && return 0
	printf 'FAIL: %s: %s: /%s/ not found in:\n' "$(_where)" "$msg" "$re" >&2
	_show "$text"
	exit 1
}

# Output goes through a file, not a pipe: a daemon that the command starts
# and that keeps the inherited stdout open must not make us wait for it.
run_capture() {
	local f=${T:-/tmp}/.run_capture.$$
	RC=0
	"$@" >"$f" 2>&1 </dev/null || RC=$?
	OUT=$(cat "$f")
	rm -f "$f"
}

assert_ok() {
	run_capture "$@"
	((RC == 0)) && return 0
	printf 'FAIL: %s: command failed (exit %s): %s\n' "$(_where)" "$RC" "$*" >&2
	_show "$OUT"
	exit 1
}

assert_fails() {
	run_capture "$@"
	((RC != 0)) && return 0
	printf 'FAIL: %s: command succeeded but should have failed: %s\n' "$(_where)" "$*" >&2
	_show "$OUT"
	exit 1
}

strerror() {
	case $1 in
	EPERM) echo "Operation not permitted" ;;
	E2BIG) echo "Argument list too long" ;;
	ENOENT) echo "No such file or directory" ;;
	EIO) echo "Input/output error" ;;
	ENXIO) echo "No such device or address" ;;
	EBADF) echo "Bad file descriptor" ;;
	EACCES) echo "Permission denied" ;;
	EBUSY) echo "Device or resource busy" ;;
	EEXIST) echo "File exists" ;;
	EXDEV) echo "Invalid cross-device link" ;;
	ENOTDIR) echo "Not a directory" ;;
	EISDIR) echo "Is a directory" ;;
	EINVAL) echo "Invalid argument" ;;
	EFBIG) echo "File too large" ;;
	ENOSPC) echo "No space left on device" ;;
	EROFS) echo "Read-only file system" ;;
	EMLINK) echo "Too many links" ;;
	ENAMETOOLONG) echo "File name too long" ;;
	ENOTEMPTY) echo "Directory not empty" ;;
	ELOOP) echo "Too many levels of symbolic links" ;;
	ENODATA) echo "No data available" ;;
	EOPNOTSUPP | ENOTSUP) echo "Operation not supported" ;;
	ESTALE) echo "Stale file handle" ;;
	*) python3 -c 'import errno, os, sys; print(os.strerror(getattr(errno, sys.argv[1])))' "$1" ;;
	esac
}

assert_fails_with() {
	local name=$1 text
	shift
	text=$(strerror "$name")
	run_capture "$@"
	if ((RC == 0)); then
		printf 'FAIL: %s: expected %s (%s) but the command succeeded: %s\n' \
			"$(_where)" "$name" "$text" "$*" >&2
		_show "$OUT"
		exit 1
	fi
	grep -qF -- "$text" <<<"$OUT" && return 0
	printf 'FAIL: %s: expected %s ("%s"), got exit %s: %s\n' \
		"$(_where)" "$name" "$text" "$RC" "$*" >&2
	_show "$OUT"
	exit 1
}

assert_file_content() {
	local file=$1 exp=$2
	[[ -f "$file" ]] || fail "$file: not a regular file"
	printf '%s' "$exp" | cmp -s - "$file" && return 0
	printf 'FAIL: %s: %s: content differs\n  expected: %q\n  actual:   %q\n' \
		"$(_where)" "$file" "$exp" "$(head -c 200 "$file")" >&2
	exit 1
}

# ---------------------------------------------------------------- setup

keep_logs() {
	local dst=$B/test-logs/$TEST_NAME.kept f
	_KEPT=1
	rm -rf "$dst"
	mkdir -p "$dst"
	for f in "$@"; do
		[[ -f $f ]] && cp --parents "$f" "$dst/" 2>/dev/null
	done
	info "logs kept in $dst"
}

cluster_env() {
	REPO=$(cd "$(dirname "$0")/../.." && pwd)
	CL=$REPO/scripts/cluster
	export CSVFS_BIN=$B
	export CSVFS_CLUSTER_STATE=$T/cluster
}
run() { "$CL" run "$@"; }
mnt() { echo "$CSVFS_CLUSTER_STATE/node$1/mnt"; }

tmp_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/csvfs-$TEST_NAME.XXXXXX")
	chmod 0755 "$T"		# other test users (uid 1000...) must get through
	trap _cleanup EXIT
	trap '_signal TERM' TERM
	trap '_signal INT' INT
	trap '_signal HUP' HUP
	info "temp dir $T"
}

_signal() {
	printf 'FAIL: %s: killed by SIG%s (timeout?)\n' "$TEST_NAME" "$1" >&2
	exit 143
}

on_exit() { _ON_EXIT+=("$*"); }

# Waits up to $1 tenths of a second for the command to succeed.
wait_for() {
	local n=$1
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

_pid_alive() { kill -0 "$1" 2>/dev/null; }

_cleanup() {
	local rc=$? i dir pid
	trap '' TERM INT HUP
	trap - ERR
	set +e
	((_CLEANED)) && return
	_CLEANED=1
	# files the test left open in a mount would keep it busy
	for i in {3..19}; do eval "exec $i>&-"; done 2>/dev/null
	# A failed cluster test keeps every node's logs, unless it kept its
	# own choice already; before the on_exit commands, whose `cluster
	# down` removes the state dir.
	if ((rc)) && [[ -n ${CSVFS_CLUSTER_STATE:-} && -d $CSVFS_CLUSTER_STATE &&
		-z ${_KEPT:-} ]]; then
		local -a vmlogs=()
		[[ -n ${VMD:-} ]] && vmlogs=("$VMD"/*/{qemu.out,console.log,qmp.log})
		keep_logs "$CSVFS_CLUSTER_STATE"/node*/{csvfs.log,mount.log,log/corosync.log} \
			"${vmlogs[@]}"
	fi
	for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_ON_EXIT[$i]}"
	done
	for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
		dir=${_MOUNTS[$i]}
		mountpoint -q "$dir" 2>/dev/null || continue
		printf '# cleanup: unmounting %s\n' "$dir" >&2
		timeout 20 umount "$dir" 2>/dev/null ||
			timeout 20 fusermount3 -u "$dir" 2>/dev/null ||
			timeout 20 umount -l "$dir"
	done
	# Daemons first get time to exit on their own after the unmount.
	for pid in "${_PIDS[@]}"; do
		wait_for 100 eval '! _pid_alive '"$pid" || {
			printf '# cleanup: killing pid %s\n' "$pid" >&2
			kill -TERM "$pid" 2>/dev/null
			wait_for 50 eval '! _pid_alive '"$pid" || kill -KILL "$pid" 2>/dev/null
		}
	done
	for ((i = ${#_LOOPS[@]} - 1; i >= 0; i--)); do
		losetup -d "${_LOOPS[$i]}" 2>/dev/null
	done
	if [[ -n "$T" && -d "$T" ]]; then
		# never follow into a mount that is somehow still there
		if findmnt -rn -o TARGET | grep -q "^$T/"; then
			printf '# cleanup: mounts left under %s; not removing it\n' "$T" >&2
			rc=1
		else
			rm -rf --one-file-system "$T"
		fi
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- volumes

mkimg() {
	local path=$1 size=$2
	rm -f "$path"
	truncate -s "$size" "$path" || fail "cannot create image $path ($size)"
}

mkfs_vol() {
	local img=$1
	shift
	run_capture "$B/mkfs.csvfs" "$@" "$img"
	((RC == 0)) || {
		printf 'FAIL: %s: mkfs.csvfs %s %s failed (exit %s)\n' "$(_where)" "$*" "$img" "$RC" >&2
		_show "$OUT"
		exit 1
	}
}

fsck_clean() {
	local dev=$1
	run_capture "$B/fsck.csvfs" -n "$dev"
	((RC == 0)) || {
		printf 'FAIL: %s: fsck.csvfs -n %s: exit %s, expected 0 (clean)\n' "$(_where)" "$dev" "$RC" >&2
		_show "$OUT"
		exit 1
	}
}

_pidfile() { printf '%s/pid%s' "$T" "$(tr / _ <<<"$1")"; }

# Unmount DIR at exit if it is mounted then (call before mounting by other
# means than mount_vol, e.g. mount -t csvfs).
track_dir() { _MOUNTS+=("$1"); }

# Registers a mount done by other means (mount -t csvfs...) for cleanup;
# the daemon pid is read from PIDFILE.
track_mount() {
	local dir=$1 pidfile=$2 pid
	_MOUNTS+=("$dir")
	wait_for 50 test -s "$pidfile" || fail "no daemon pid in $pidfile after mounting $dir"
	pid=$(cat "$pidfile")
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "pidfile $pidfile holds '$pid', not a pid"
	_PIDS+=("$pid")
	_MOUNT_PID[$dir]=$pid
}

mount_vol() {
	local img=$1 dir=$2 opts=${3:-} pidfile
	[[ -n "$T" ]] || fail "mount_vol before tmp_setup"
	mkdir -p "$dir"
	mountpoint -q "$dir" && fail "$dir is already a mount point"
	pidfile=$(_pidfile "$dir")
	rm -f "$pidfile"
	_MOUNTS+=("$dir")	# before the mount: cleanup checks mountpoint -q
	run_capture timeout 60 "$B/csvfsd" "$img" "$dir" -o "pidfile=$pidfile${opts:+,$opts}"
	if ((RC != 0)); then
		printf 'FAIL: %s: csvfsd %s %s failed (exit %s)\n' "$(_where)" "$img" "$dir" "$RC" >&2
		_show "$OUT"
		exit 1
	fi
	wait_for 200 mountpoint -q "$dir" || fail "$dir not mounted 20 s after csvfsd returned"
	track_mount "$dir" "$pidfile"
}

umount_vol() {
	local dir=$1 pid
	pid=${_MOUNT_PID[$dir]:-}
	assert_ok umount "$dir"
	mountpoint -q "$dir" && fail "$dir still mounted after umount"
	if [[ -n "$pid" ]]; then
		wait_for 300 eval '! _pid_alive '"$pid" ||
			fail "daemon pid $pid still running 30 s after unmounting $dir"
	fi
}

# Expects csvfsd to refuse IMG with a message matching REGEX.
assert_mount_refused() {
	local img=$1 dir=$2 re=$3 pidfile
	mkdir -p "$dir"
	pidfile=$(_pidfile "$dir")
	rm -f "$pidfile"
	_MOUNTS+=("$dir")
	run_capture timeout 60 "$B/csvfsd" "$img" "$dir" -o "pidfile=$pidfile"
	if ((RC == 0)) || mountpoint -q "$dir"; then
		[[ -s "$pidfile" ]] && _PIDS+=("$(cat "$pidfile")")
		printf 'FAIL: %s: mounting %s should have been refused (exit %s)\n' "$(_where)" "$img" "$RC" >&2
		_show "$OUT"
		exit 1
	fi
	[[ -n "$OUT" ]] || fail "csvfsd refused $img (exit $RC) without saying why"
	assert_match "$re" "$OUT" "csvfsd's message for $img"
	info "refused (exit $RC): $(head -n 1 <<<"$OUT")"
}

loop_attach() {
	local img=$1
	LOOP=$(losetup --find --show --direct-io=on "$img") || fail "losetup of $img failed"
	_LOOPS+=("$LOOP")
	info "attached $LOOP to $img"
}

as_user() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}

# Checks that a program the tests need exists.
need() {
	local p
	for p; do
		command -v "$p" >/dev/null 2>&1 || [[ -x "$p" ]] ||
			fail "'$p' is missing (run scripts/install-deps.sh / make all)"
	done
}

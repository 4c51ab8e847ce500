#!/bin/bash
# run-integration.sh — runs the csvfs integration tests.
#
#   tests/run-integration.sh BUILD_DIR [single|all] [NAME...]
#
# single: only the t1xxx (single-node) tests; all (default): every
# tests/integration/t*.sh. NAMEs (e.g. t1100 or t1100-posix) pick tests by
# prefix. Each test runs in name order under `timeout -k 10 $TEST_TIMEOUT`
# (default 600 s; a test may ask for more with a line "# timeout: SECONDS")
# with CSVFS_BIN set to the absolute build dir; its output goes
# to BUILD_DIR/test-logs/NAME.log and is shown when it fails. A test that
# cannot run because something is missing fails: there is no skip. A test
# also fails when it leaves a mount, daemon, loop device or temp dir behind,
# or when any process it ran wrote an ASan/UBSan report (log_path is set to
# BUILD_DIR/test-logs/NAME.sanitizer/).
#
# Prints `ok N - name` / `not ok N - name` per test and ends with
# `N passed, N failed`; exits 1 if any failed. Must run as root (mounts, loop
# devices, other uids).
set -uo pipefail

usage() {
	echo "usage: $0 BUILD_DIR [single|all] [NAME...]" >&2
	exit 2
}

(($# >= 1)) || usage
[[ -d "$1" ]] || { echo "$0: build dir '$1' does not exist (run make first)" >&2; exit 2; }
CSVFS_BIN=$(realpath "$1")
export CSVFS_BIN
mode=${2:-all}
shift $(($# >= 2 ? 2 : 1))
here=$(dirname "$(realpath "$0")")
timeout_s=${TEST_TIMEOUT:-600}
# Every run gets its own temp base, so the leftovers it reaps after a test
# can only be that test's (not those of another run going on at the time).
tmpbase=$(mktemp -d "${TMPDIR:-/tmp}/csvfs-run.XXXXXX")
chmod 0755 "$tmpbase"
export TMPDIR=$tmpbase
trap 'rmdir "$tmpbase" 2>/dev/null || true' EXIT

case $mode in
single) glob='t1[0-9][0-9][0-9]-*.sh' ;;
all) glob='t[0-9]*.sh' ;;
*) usage ;;
esac

tests=()
for t in "$here"/integration/$glob; do
	[[ -f "$t" ]] || continue
	name=$(basename "$t" .sh)
	if (($#)); then
		pick=0
		for want; do
			if [[ "$name" == "$want"* ]]; then pick=1; fi
		done
		((pick)) || continue
	fi
	tests+=("$t")
done
# name order (the glob already sorts, but be explicit)
mapfile -t tests < <(printf '%s\n' "${tests[@]}" | sort)
if ((${#tests[@]} == 0)) || [[ -z "${tests[0]}" ]]; then
	echo "$0: no test matches ($mode${*:+ $*})" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

logdir=$CSVFS_BIN/test-logs
mkdir -p "$logdir"
base_asan=${ASAN_OPTIONS:-}
base_ubsan=${UBSAN_OPTIONS:-}
((EUID == 0)) || echo "# warning: not root; the tests need root" >&2

# After a test: anything it left mounted or attached under its temp dirs
# (it was killed before its cleanup ran) is removed here and fails the test.
reap_leftovers() {
	local name=$1 leaked=0 m dir pid f dev
	while read -r m; do
		[[ -n "$m" ]] || continue
		echo "#   leaked mount: $m"
		leaked=1
		timeout 20 umount "$m" 2>/dev/null || timeout 20 umount -l "$m" 2>/dev/null
	done < <(findmnt -rn -o TARGET | grep "^$tmpbase/csvfs-$name\." | sort -r)
	for dir in "$tmpbase"/csvfs-"$name".*; do
		[[ -d "$dir" ]] || continue
		# daemons the test started left their pid files there
		for f in "$dir"/pid*; do
			[[ -f "$f" ]] || continue
			pid=$(cat "$f" 2>/dev/null)
			[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || continue
			# only a csvfs daemon, not whatever reused the pid since
			[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == *csvfs* ]] || continue
			echo "#   leaked daemon: pid $pid ($f)"
			leaked=1
			kill -TERM "$pid" 2>/dev/null
			sleep 1
			kill -KILL "$pid" 2>/dev/null
		done
		while read -r dev; do
			[[ -n "$dev" ]] || continue
			echo "#   leaked loop device: $dev"
			leaked=1
			losetup -d "$dev" 2>/dev/null
		done < <(losetup -n -O NAME,BACK-FILE 2>/dev/null | awk -v d="$dir/" 'index($2, d) == 1 {print $1}')
		echo "#   leaked temp dir: $dir"
		leaked=1
		findmnt -rn -o TARGET | grep -q "^$dir/" || rm -rf --one-file-system "$dir"
	done
	return $leaked
}

echo "1..${#tests[@]}"
n=0 passed=0 failed=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	log=$logdir/$name.log
	# Sanitizer reports of every process the test runs (the daemons have no
	# stderr once detached) land in files here; any report fails the test.
	san=$logdir/$name.sanitizer
	rm -rf "$san"
	mkdir -p "$san"
	export ASAN_OPTIONS="${base_asan:+$base_asan:}log_path=$san/asan"
	export UBSAN_OPTIONS="${base_ubsan:+$base_ubsan:}log_path=$san/ubsan"
	start=$(date +%s)
	# (the subshell keeps bash's "Killed" job notice out of the report)
	# A test may ask for a longer bound with a line "# timeout: SECONDS".
	t_s=$(sed -n 's/^# timeout: \([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
	((${t_s:-0} > timeout_s)) || t_s=$timeout_s
	(timeout -k 10 "$t_s" bash "$t" </dev/null >"$log" 2>&1; exit $?) 2>/dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	if ! leftovers=$(reap_leftovers "$name"); then
		((rc == 0)) && rc=99
	fi
	sanreports=$(find "$san" -type f -size +0 | sort)
	if [[ -n "$sanreports" ]]; then
		((rc == 0)) && rc=98
	else
		rmdir "$san" 2>/dev/null
	fi
	if ((rc == 0)); then
		passed=$((passed + 1))
		echo "ok $n - $name (${secs}s)"
	else
		failed=$((failed + 1))
		why="exit $rc"
		((rc == 124 || rc == 137)) && why="timed out after ${t_s}s"
		((rc == 99)) && why="left mounts, daemons or files behind"
		((rc == 98)) && why="sanitizer reports"
		echo "not ok $n - $name ($why, ${secs}s; log: $log)"
		tail -n 60 "$log" | sed 's/^/#   /'
		for f in $sanreports; do
			echo "#   sanitizer report $f:"
			sed '/Shadow bytes around/q' "$f" | head -n 40 | sed 's/^/#   | /'
		done
	fi
	[[ -n "$leftovers" ]] && printf '%s\n' "$leftovers"
done
echo "$passed passed, $failed failed"
((failed == 0))

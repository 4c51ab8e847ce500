/*
 * vmwriter: a stand-in for a VM writing its disk image, for the handoff
 * tests. Writes numbered, checksummed 4 KiB records with O_DIRECT, one
 * after the other, and resumes after the last valid record when started
 * again (on another node, after a handoff).
 *
 *   vmwriter write FILE [--usleep US] [--max N] [--nosync 1]
 *       SIGUSR1: pause like a migrating VM (stop, fdatasync, print
 *       "paused N", keep the file open until SIGTERM); SIGTERM / SIGINT:
 *       stop, fdatasync, print "stopped N", exit 0. N = records in the
 *       file. A failed write prints the error and exits 3.
 *   vmwriter verify FILE [--count N]
 *       checks every record (magic, number, checksum): prints "verified N"
 *       and exits 0, or names the first bad record and exits 1.
 *   vmwriter verify-disk FILE [--min N] [--exact N]
 *       checks a whole disk (a raw image, as the test guest of tests/vm
 *       sees it): a prefix of valid records, then only records that are
 *       valid or all zeroes (written but never flushed before a crash);
 *       never a torn, misplaced or foreign one. --min N: at least the N
 *       records the writer had flushed are in the prefix; --exact N: the
 *       prefix is exactly N and nothing follows it. Prints "verified K"
 *       (K = prefix) and exits 0, or the first bad record and exits 1.
 *   vmwriter gaps FILE [--from A] [--to B]
 *       the longest gap between the timestamps of consecutive records in
 *       [A, B) (default: the whole valid prefix): "max-gap-ms X after N".
 *
 * Record format: tests/tools/vmrec.h (this tool writes the untimestamped
 * kind; the guest writes timestamped ones; both verify here).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vmrec.h"

#define REC		VMREC_SIZE

static volatile sig_atomic_t want_pause, want_stop;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		want_pause = 1;
	else
		want_stop = 1;
}

static void fill(uint8_t *b, uint64_t n)
{
	vmrec_fill(b, n, 0, 0);
}

static const char *check(const uint8_t *b, uint64_t n, uint8_t *want)
{
	return vmrec_check(b, n, want);
}

static int read_rec(int fd, uint8_t *b, uint64_t n)
{
	ssize_t r = pread(fd, b, REC, (off_t)(n * REC));

	if (r < 0)
		return -errno;
	return r == REC ? 0 : -ENODATA;
}

/* Number of valid records at the start of the file. */
static uint64_t resume_point(int fd, uint8_t *b, uint8_t *want)
{
	struct stat st;
	uint64_t n;

	if (fstat(fd, &st))
		return 0;
	n = (uint64_t)st.st_size / REC;
	/* Back over a torn or missing tail. */
	while (n > 0 && (read_rec(fd, b, n - 1) || check(b, n - 1, want)))
		n--;
	return n;
}

static int do_write(const char *path, long us, uint64_t max, int nosync)
{
	struct sigaction sa;
	uint8_t *b, *want;
	uint64_t n;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (posix_memalign((void **)&b, REC, REC) ||
	    posix_memalign((void **)&want, REC, REC))
		return 2;
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) {
		fprintf(stderr, "vmwriter: %s: %s\n", path, strerror(errno));
		printf("open-failed %s\n", strerror(errno));
		fflush(stdout);
		return 3;
	}
	n = resume_point(fd, b, want);
	printf("resumed %llu\n", (unsigned long long)n);
	fflush(stdout);
	while (!want_pause && !want_stop && (!max || n < max)) {
		ssize_t w;

		fill(b, n);
		w = pwrite(fd, b, REC, (off_t)(n * REC));
		if (w != REC) {
			fprintf(stderr, "vmwriter: %s: record %llu: %s\n", path,
				(unsigned long long)n,
				w < 0 ? strerror(errno) : "short write");
			printf("write-failed %llu\n", (unsigned long long)n);
			fflush(stdout);
			return 3;
		}
		n++;
		if (us > 0)
			usleep((useconds_t)us);
	}
	if (!nosync && fdatasync(fd)) {
		fprintf(stderr, "vmwriter: %s: fdatasync: %s\n", path,
			strerror(errno));
		return 3;
	}
	if (want_pause && !want_stop) {
		printf("paused %llu\n", (unsigned long long)n);
		fflush(stdout);
		while (!want_stop)
			pause();
	}
	printf("stopped %llu\n", (unsigned long long)n);
	fflush(stdout);
	close(fd);
	free(b);
	free(want);
	return 0;
}

static int do_verify(const char *path, long long count)
{
	uint8_t *b, *want;
	struct stat st;
	uint64_t n, i;
	const char *why;
	int fd, rc;

	if (posix_memalign((void **)&b, REC, REC) ||
	    posix_memalign((void **)&want, REC, REC))
		return 2;
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "vmwriter: %s: %s\n", path, strerror(errno));
		return 2;
	}
	n = (uint64_t)st.st_size / REC;
	if ((uint64_t)st.st_size % REC) {
		printf("size %llu is not a multiple of %d\n",
		       (unsigned long long)st.st_size, REC);
		return 1;
	}
	if (count >= 0 && n != (uint64_t)count) {
		printf("%llu records, expected %lld\n", (unsigned long long)n,
		       count);
		return 1;
	}
	for (i = 0; i < n; i++) {
		rc = read_rec(fd, b, i);
		why = rc ? strerror(-rc) : check(b, i, want);
		if (why) {
			printf("record %llu of %llu: %s\n",
			       (unsigned long long)i, (unsigned long long)n,
			       why);
			return 1;
		}
	}
	printf("verified %llu\n", (unsigned long long)n);
	close(fd);
	free(b);
	free(want);
	return 0;
}

/* O_DIRECT where the file system has it (csvfs), buffered elsewhere. */
static int open_disk(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd < 0 && errno == EINVAL)
		fd = open(path, O_RDONLY);
	if (fd < 0)
		fprintf(stderr, "vmwriter: %s: %s\n", path, strerror(errno));
	return fd;
}

#define CHUNK	(1u << 20)

/*
 * Calls fn(record, n, arg) for every record of the disk, read a chunk at a
 * time; stops early when fn returns non-zero. 0, or 2 on a read error.
 */
static int each_record(int fd, const char *path,
		       int (*fn)(const uint8_t *b, uint64_t n, void *arg),
		       void *arg)
{
	uint8_t *buf;
	uint64_t off = 0, n = 0;
	ssize_t r, i;
	int rc = 0;

	if (posix_memalign((void **)&buf, REC, CHUNK))
		return 2;
	for (;;) {
		r = pread(fd, buf, CHUNK, (off_t)off);
		if (r < 0) {
			fprintf(stderr, "vmwriter: %s: read at %llu: %s\n", path,
				(unsigned long long)off, strerror(errno));
			rc = 2;
			break;
		}
		for (i = 0; i + REC <= r; i += REC, n++)
			if (fn(buf + i, n, arg))
				goto out;
		if (r < (ssize_t)CHUNK)
			break;
		off += (uint64_t)r;
	}
out:
	free(buf);
	return rc;
}

struct disk_scan {
	uint8_t want[REC];
	uint64_t prefix, late, total;
	int in_prefix;
	const char *bad;
	uint64_t bad_n;
};

static int scan_one(const uint8_t *b, uint64_t n, void *arg)
{
	struct disk_scan *s = arg;
	const char *why = check(b, n, s->want);

	s->total = n + 1;
	if (!why) {
		if (s->in_prefix)
			s->prefix++;
		else
			s->late++;
		return 0;
	}
	s->in_prefix = 0;
	if (vmrec_is_zero(b))
		return 0;
	s->bad = why;
	s->bad_n = n;
	return 1;
}

static int do_verify_disk(const char *path, long long min, long long exact)
{
	static struct disk_scan s;
	int fd, rc;

	fd = open_disk(path);
	if (fd < 0)
		return 2;
	s.in_prefix = 1;
	rc = each_record(fd, path, scan_one, &s);
	close(fd);
	if (rc)
		return rc;
	if (s.bad) {
		printf("record %llu: %s (after a valid prefix of %llu)\n",
		       (unsigned long long)s.bad_n, s.bad,
		       (unsigned long long)s.prefix);
		return 1;
	}
	if (min >= 0 && s.prefix < (uint64_t)min) {
		printf("record %llu: missing: %llu valid records, the writer "
		       "had flushed %lld\n", (unsigned long long)s.prefix,
		       (unsigned long long)s.prefix, min);
		return 1;
	}
	if (exact >= 0 && (s.prefix != (uint64_t)exact || s.late)) {
		printf("%llu valid records then %llu more, expected exactly "
		       "%lld\n", (unsigned long long)s.prefix,
		       (unsigned long long)s.late, exact);
		return 1;
	}
	printf("verified %llu", (unsigned long long)s.prefix);
	if (s.late)
		printf(" (+%llu unflushed after a gap)",
		       (unsigned long long)s.late);
	printf(" of %llu\n", (unsigned long long)s.total);
	return 0;
}

struct gap_scan {
	uint8_t want[REC];
	uint64_t from, to, prev_ts, max_gap, max_after, seen;
};

static int gap_one(const uint8_t *b, uint64_t n, void *arg)
{
	struct gap_scan *g = arg;
	uint64_t ts;

	if (n < g->from)
		return 0;
	if (n >= g->to || check(b, n, g->want) ||
	    vmrec_get64(b) != VMREC_MAGIC_TS)
		return 1;
	ts = vmrec_get64(b + VMREC_TS_OFF);
	if (g->seen && ts > g->prev_ts && ts - g->prev_ts > g->max_gap) {
		g->max_gap = ts - g->prev_ts;
		g->max_after = n - 1;
	}
	g->prev_ts = ts;
	g->seen++;
	return 0;
}

static int do_gaps(const char *path, long long from, long long to)
{
	static struct gap_scan g;
	int fd, rc;

	fd = open_disk(path);
	if (fd < 0)
		return 2;
	g.from = from > 0 ? (uint64_t)from : 0;
	g.to = to >= 0 ? (uint64_t)to : UINT64_MAX;
	rc = each_record(fd, path, gap_one, &g);
	close(fd);
	if (rc)
		return rc;
	if (g.seen < 2) {
		printf("fewer than 2 timestamped records from %llu\n",
		       (unsigned long long)g.from);
		return 1;
	}
	printf("max-gap-ms %.1f after %llu (%llu records)\n",
	       (double)g.max_gap / 1e6, (unsigned long long)g.max_after,
	       (unsigned long long)g.seen);
	return 0;
}

int main(int argc, char **argv)
{
	long long min = -1, exact = -1, from = -1, to = -1;
	long long count = -1;
	uint64_t max = 0;
	int nosync = 0;
	long us = 1000;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: vmwriter write FILE [--usleep US] "
			"[--max N] | verify FILE [--count N] | verify-disk FILE "
			"[--min N] [--exact N] | gaps FILE [--from A] [--to B]\n");
		return 2;
	}
	for (i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--usleep"))
			us = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--max"))
			max = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--nosync"))
			nosync = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			count = strtoll(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--min"))
			min = strtoll(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--exact"))
			exact = strtoll(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--from"))
			from = strtoll(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--to"))
			to = strtoll(argv[i + 1], NULL, 10);
	}
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], us, max, nosync);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[2], count);
	if (!strcmp(argv[1], "verify-disk"))
		return do_verify_disk(argv[2], min, exact);
	if (!strcmp(argv[1], "gaps"))
		return do_gaps(argv[2], from, to);
	fprintf(stderr, "vmwriter: unknown mode \"%s\"\n", argv[1]);
	return 2;
}

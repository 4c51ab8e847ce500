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
 *
 * Record: le64 magic, le64 number, 4076 bytes derived from the number,
 * le32 crc32 of the first 4092 bytes.
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

#define REC		4096
#define REC_MAGIC	0x52564d5346565343ull	/* "CSVFSVMR" */

static volatile sig_atomic_t want_pause, want_stop;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		want_pause = 1;
	else
		want_stop = 1;
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void fill(uint8_t *b, uint64_t n)
{
	uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
	uint32_t crc;
	size_t i;

	put64(b, REC_MAGIC);
	put64(b + 8, n);
	for (i = 16; i < REC - 4; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	crc = (uint32_t)crc32(0, b, REC - 4);
	for (i = 0; i < 4; i++)
		b[REC - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* 0: record n is exactly as written; else a reason. */
static const char *check(const uint8_t *b, uint64_t n, uint8_t *want)
{
	if (get64(b) != REC_MAGIC)
		return "bad magic (lost or torn)";
	if (get64(b + 8) != n)
		return "wrong record number";
	fill(want, n);
	if (memcmp(b, want, REC))
		return "contents differ (torn or corrupt)";
	return NULL;
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

int main(int argc, char **argv)
{
	long long count = -1;
	uint64_t max = 0;
	int nosync = 0;
	long us = 1000;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: vmwriter write FILE [--usleep US] "
			"[--max N] | verify FILE [--count N]\n");
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
	}
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], us, max, nosync);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[2], count);
	fprintf(stderr, "vmwriter: unknown mode \"%s\"\n", argv[1]);
	return 2;
}

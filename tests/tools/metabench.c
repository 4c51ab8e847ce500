/*
 * metabench: metadata operations per second in a directory: create, stat
 * and unlink of N empty files, and the latency distribution of the stats
 * (on a cluster mount a first stat is one FUSE request and one metadata
 * RPC; "restat", the second pass, is answered by the node's cache).
 *
 *   metabench [-n N] DIR
 *
 * Prints one line per phase: "create 1234 ops/s", and
 * "stat latency p50 123 us p99 456 us".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One stat of every file; prints the rate and latencies as "NAME ...". */
static int stat_pass(const char *dir, long n, double *lat, const char *name)
{
	char path[4096];
	struct stat st;
	double t0;
	long i;

	t0 = now();
	for (i = 0; i < n; i++) {
		double s = now();

		snprintf(path, sizeof(path), "%s/mb-%ld", dir, i);
		if (stat(path, &st)) {
			fprintf(stderr, "metabench: stat %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		lat[i] = now() - s;
	}
	printf("%s %.0f ops/s\n", name, (double)n / (now() - t0));
	qsort(lat, (size_t)n, sizeof(*lat), cmp_d);
	printf("%s latency p50 %.0f us p99 %.0f us\n", name, lat[n / 2] * 1e6,
	       lat[(n * 99) / 100] * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	long n = 2000, i;
	double t0, *lat;
	char path[4096];
	int c, fd;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c == 'n') {
			n = strtol(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: metabench [-n N] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1 || n <= 0) {
		fprintf(stderr, "usage: metabench [-n N] DIR\n");
		return 2;
	}
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/mb-%ld", argv[optind], i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			fprintf(stderr, "metabench: create %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		close(fd);
	}
	printf("create %.0f ops/s\n", (double)n / (now() - t0));
	if (stat_pass(argv[optind], n, lat, "stat") ||
	    stat_pass(argv[optind], n, lat, "restat"))
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/mb-%ld", argv[optind], i);
		if (unlink(path)) {
			fprintf(stderr, "metabench: unlink %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	printf("unlink %.0f ops/s\n", (double)n / (now() - t0));
	free(lat);
	return 0;
}

/*
 * epochbench: the cost of the coordinator's epoch check (jrnl_fence_epoch:
 * one 4 KiB superblock read before each group commit) on an image file.
 * Runs N one-block metadata changes, each committed on its own (the worst
 * case: every request its own group, as a lone fsyncing creator), with
 * the check off and on, alternating in rounds in the same run, and prints
 * commits/s of both and their ratio. Not a test: make bench runs it.
 *
 *   epochbench IMAGE [N]   (IMAGE is formatted: give a scratch file)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/ondisk.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one_change(struct jrnl *j, uint64_t gen)
{
	struct csvfs_vstate vs;
	struct mbuf *b;
	struct jop op;
	int rc;

	jop_begin(j, &op);
	rc = jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &b);
	if (!rc)
		rc = jop_write(&op, b);
	if (!rc) {
		od_vstate_decode(b->data, &vs);
		vs.next_generation = gen;
		od_vstate_encode(&vs, b->data);
	}
	jop_end(&op, rc);
	return rc ? rc : jrnl_commit(j);
}

int main(int argc, char **argv)
{
	struct fmt_opts fo = { 0 };
	struct csvfs_super sb;
	struct jrnl *j = NULL;
	struct dev *d = NULL;
	double t[2] = { 0, 0 }, t0;
	uint64_t ntx, gen = 1000;
	int n, i, round, on, fd, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: epochbench IMAGE [N]\n");
		return 2;
	}
	n = argc > 2 ? atoi(argv[2]) : 2000;
	fd = open(argv[1], O_CREAT | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 1ll << 30) < 0) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	rc = dev_open(argv[1], 0, &d);
	if (!rc)
		rc = fmt_volume(d, &fo, NULL);
	if (!rc)
		rc = fmt_read_super(d, &sb);
	if (!rc) {
		sb.coord_epoch = 1;
		rc = fmt_write_super(d, &sb, 0);
	}
	if (!rc)
		rc = jrnl_replay(d, &sb, &ntx);
	if (!rc)
		rc = jrnl_open(d, &sb, JRNL_NO_THREAD, &j);
	for (round = 0; !rc && round < 10; round++)
		for (on = 0; on < 2 && !rc; on++) {
			jrnl_fence_epoch(j, on ? sb.coord_epoch : 0);
			t0 = now_s();
			for (i = 0; i < n / 10 && !rc; i++)
				rc = one_change(j, ++gen);
			t[on] += now_s() - t0;
		}
	if (rc) {
		fprintf(stderr, "epochbench: %d\n", rc);
		return 1;
	}
	jrnl_close(j);
	dev_close(d);
	printf("epoch check: %d single-change commits: without %.0f/s, with "
	       "%.0f/s, ratio with/without %.3f\n", n / 10 * 10,
	       (n / 10 * 10) / t[0], (n / 10 * 10) / t[1],
	       t[0] / t[1]);
	return 0;
}

/*
 * mds_epoch_test: epoch fencing of the coordinator (issue 13). A request
 * names the coordinator epoch its node follows: another epoch is refused
 * with -CSVFS_ESTALEEPOCH before anything runs (0, a tool's, is served).
 * A coordinator that another one replaced (the frozen coordinator that
 * wakes after a takeover) commits nothing more: its fsync fails, its stop
 * writes nothing, and the new coordinator sees only what was committed
 * before the takeover.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "net/mdc.h"
#include "tests/unit/testimg.h"

static char img[64];
/* Every client a new incarnation: a reused one's requests would be
 * answered from an earlier test's records (meta/mds/mds_retry.c). */
static uint64_t incarnation = 100;

static int suite_init(void)
{
	if (testimg_new(img, sizeof(img), "mds_epoch_test", 2ull << 30))
		return -1;
	return testimg_mkfs(img, 2ull << 30, NULL);
}

static int suite_clean(void)
{
	unlink(img);
	return 0;
}

/* One coordinator (cluster mode, node id) with its own device handle. */
struct coord {
	struct dev *dev;
	struct mds *mds;
	struct mdc *mdc;
	struct mdc_volinfo vi;
};

static void coord_start(struct coord *c, uint32_t node)
{
	struct mds_opts o = { .node_id = node, .standalone = 0 };
	struct mdc_transport t;

	memset(c, 0, sizeof(*c));
	CU_ASSERT_FATAL(dev_open(img, 0, &c->dev) == 0);
	CU_ASSERT_FATAL(mds_start(c->dev, &o, &c->mds) == 0);
	local_transport(c->mds, &t);
	CU_ASSERT_FATAL(mdc_new(&t, node, ++incarnation, &c->mdc) == 0);
	CU_ASSERT_FATAL(mdc_hello(c->mdc, "test", &c->vi) == 0);
}

/* A GETATTR of the root with the given epoch, straight to dispatch. */
static int getattr_with_epoch(struct coord *c, uint64_t epoch)
{
	struct csvfs_msg_hdr h;
	uint8_t p[8], *reply = NULL;
	size_t len = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	h.type = CSVFS_MSG_GETATTR;
	h.length = sizeof(p);
	h.epoch = epoch;
	h.node_id = 2;
	h.incarnation = 7;
	h.seq = 1;
	memcpy(p, &c->vi.root_ino, 8);	/* little-endian hosts */
	rc = mds_dispatch(c->mds, &h, p, &reply, &len);
	free(reply);
	return rc;
}

static void test_requests_of_another_epoch_are_refused(void)
{
	struct coord a;
	uint64_t e;

	/* A second mount, so that e - 1 is an epoch too. */
	coord_start(&a, 1);
	mdc_free(a.mdc);
	CU_ASSERT(mds_stop(a.mds) == 0);
	dev_close(a.dev);
	coord_start(&a, 1);
	e = mds_epoch(a.mds);
	CU_ASSERT(e > 1);
	CU_ASSERT_EQUAL(a.vi.epoch, e);
	CU_ASSERT_EQUAL(getattr_with_epoch(&a, e), 0);
	CU_ASSERT_EQUAL(getattr_with_epoch(&a, 0), 0);
	CU_ASSERT_EQUAL(getattr_with_epoch(&a, e - 1), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(getattr_with_epoch(&a, e + 1), -CSVFS_ESTALEEPOCH);
	mdc_free(a.mdc);
	CU_ASSERT(mds_stop(a.mds) == 0);
	dev_close(a.dev);
}

static void test_replaced_coordinator_commits_nothing(void)
{
	struct coord a, b;
	struct csvfs_attr at;
	struct csvfs_super sb;

	coord_start(&a, 1);
	CU_ASSERT_EQUAL(mdc_mkdir(a.mdc, a.vi.root_ino, "before", 0755, 0, 0,
				  &at), 0);
	CU_ASSERT_EQUAL(mdc_fsync(a.mdc, 0), 0);
	/* Node 2 takes over while node 1's coordinator is frozen. */
	coord_start(&b, 2);
	CU_ASSERT(mds_epoch(b.mds) > mds_epoch(a.mds));
	/* Node 1 wakes: its changes never reach the disk. */
	mdc_mkdir(a.mdc, a.vi.root_ino, "after", 0755, 0, 0, &at);
	CU_ASSERT_EQUAL(mdc_fsync(a.mdc, 0), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(mdc_mkdir(a.mdc, a.vi.root_ino, "later", 0755, 0, 0,
				  &at), -CSVFS_ESTALEEPOCH);
	mdc_free(a.mdc);
	CU_ASSERT_EQUAL(mds_stop(a.mds), -CSVFS_ESTALEEPOCH);
	dev_close(a.dev);
	/* The superblock still names node 2 (node 1's stop wrote nothing). */
	CU_ASSERT_EQUAL_FATAL(fmt_read_super(b.dev, &sb), 0);
	CU_ASSERT_EQUAL(sb.coord_node, 2);
	CU_ASSERT_EQUAL(sb.coord_epoch, mds_epoch(b.mds));
	CU_ASSERT_EQUAL(mdc_lookup(b.mdc, b.vi.root_ino, "before", &at), 0);
	CU_ASSERT_EQUAL(mdc_mkdir(b.mdc, b.vi.root_ino, "new", 0755, 0, 0,
				  &at), 0);
	CU_ASSERT_EQUAL(mdc_fsync(b.mdc, 0), 0);
	mdc_free(b.mdc);
	CU_ASSERT(mds_stop(b.mds) == 0);
	dev_close(b.dev);
	/* Remounted: what node 2 committed, nothing of node 1's last. */
	coord_start(&a, 1);
	CU_ASSERT_EQUAL(mdc_lookup(a.mdc, a.vi.root_ino, "before", &at), 0);
	CU_ASSERT_EQUAL(mdc_lookup(a.mdc, a.vi.root_ino, "new", &at), 0);
	CU_ASSERT_EQUAL(mdc_lookup(a.mdc, a.vi.root_ino, "after", &at),
			-ENOENT);
	CU_ASSERT_EQUAL(mdc_lookup(a.mdc, a.vi.root_ino, "later", &at),
			-ENOENT);
	mdc_free(a.mdc);
	CU_ASSERT(mds_stop(a.mds) == 0);
	dev_close(a.dev);
}

/* A coordinator started in a thread, fenced (mds_opts.fence_wait_ms). */
struct fenced_start {
	struct coord *c;
	uint32_t node;
	unsigned wait_ms;
	int rc;
};

static void *fenced_start_main(void *arg)
{
	struct fenced_start *f = arg;
	struct mds_opts o = { .node_id = f->node, .standalone = 0,
			      .fence_wait_ms = f->wait_ms };

	f->rc = dev_open(img, 0, &f->c->dev);
	if (!f->rc)
		f->rc = mds_start(f->c->dev, &o, &f->c->mds);
	return NULL;
}

/*
 * A takeover from a coordinator that may still run (its node was lost):
 * the new one bumps the epoch, then waits. If the old one's last write
 * in that wait is its clean-stop superblock with its older epoch (it read
 * its proof just before the bump), the new one must write its epoch
 * again, or its own epoch checks would find the old epoch and it would
 * fence itself (and the old one could write again).
 */
static void test_fenced_takeover_rewrites_an_overwritten_epoch(void)
{
	struct coord a, b;
	struct fenced_start f;
	struct csvfs_super old, now;
	struct csvfs_attr at;
	struct mdc_transport t;
	pthread_t th;
	int i;

	coord_start(&a, 1);
	CU_ASSERT_EQUAL(mdc_mkdir(a.mdc, a.vi.root_ino, "old-one", 0755, 0,
				  0, &at), 0);
	CU_ASSERT_EQUAL(mdc_fsync(a.mdc, 0), 0);
	CU_ASSERT_EQUAL_FATAL(fmt_read_super(a.dev, &old), 0);
	memset(&b, 0, sizeof(b));
	f = (struct fenced_start){ .c = &b, .node = 2, .wait_ms = 3000 };
	CU_ASSERT_FATAL(pthread_create(&th, NULL, fenced_start_main, &f) == 0);
	/* Node 2's bump is on disk: node 1's stop lands over it. */
	for (i = 0; i < 2000; i++) {
		CU_ASSERT_EQUAL_FATAL(fmt_read_super(a.dev, &now), 0);
		if (now.coord_node == 2)
			break;
		usleep(1000);
	}
	CU_ASSERT_EQUAL_FATAL(now.coord_node, 2);
	old.state = CSVFS_STATE_CLEAN;
	CU_ASSERT_EQUAL(fmt_write_super(a.dev, &old, 0), 0);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL_FATAL(f.rc, 0);
	/* Its epoch is on disk again, higher than both, and it serves. */
	CU_ASSERT_EQUAL_FATAL(fmt_read_super(a.dev, &now), 0);
	CU_ASSERT_EQUAL(now.coord_node, 2);
	CU_ASSERT_EQUAL(now.coord_epoch, mds_epoch(b.mds));
	CU_ASSERT(now.coord_epoch > old.coord_epoch + 1);
	CU_ASSERT_EQUAL(now.state, CSVFS_STATE_MOUNTED);
	local_transport(b.mds, &t);
	CU_ASSERT_FATAL(mdc_new(&t, 2, ++incarnation, &b.mdc) == 0);
	CU_ASSERT_FATAL(mdc_hello(b.mdc, "test", &b.vi) == 0);
	CU_ASSERT_EQUAL(mdc_lookup(b.mdc, b.vi.root_ino, "old-one", &at), 0);
	CU_ASSERT_EQUAL(mdc_mkdir(b.mdc, b.vi.root_ino, "new-one", 0755, 0,
				  0, &at), 0);
	CU_ASSERT_EQUAL(mdc_fsync(b.mdc, 0), 0);
	/* The old one's own stop now finds the newer epoch: writes nothing. */
	mdc_free(a.mdc);
	CU_ASSERT_EQUAL(mds_stop(a.mds), -CSVFS_ESTALEEPOCH);
	dev_close(a.dev);
	CU_ASSERT_EQUAL_FATAL(fmt_read_super(b.dev, &now), 0);
	CU_ASSERT_EQUAL(now.coord_epoch, mds_epoch(b.mds));
	mdc_free(b.mdc);
	CU_ASSERT(mds_stop(b.mds) == 0);
	dev_close(b.dev);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("mds_epoch", suite_init, suite_clean);
	CU_add_test(s, "requests of another epoch are refused",
		    test_requests_of_another_epoch_are_refused);
	CU_add_test(s, "a replaced coordinator commits nothing",
		    test_replaced_coordinator_commits_nothing);
	CU_add_test(s, "a fenced takeover rewrites an overwritten epoch",
		    test_fenced_takeover_rewrites_an_overwritten_epoch);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * nodeview_test: the judgments behind `csvfsctl nodes` on hand-made rows
 * (as nodeview_read_slots leaves them): dead only out of the membership
 * and after CSVFS_HB_DEAD_MS, fenced for a stopped heartbeat that is not
 * dead yet or for this node without quorum, members without a slot get a
 * row, rows stay in node order, owned files land on their node; and a
 * formatted image's slots read back as in use with their age.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/ondisk.h"
#include "fs/nodeview.h"
#include "lockd/hb.h"
#include "meta/dev.h"
#include "meta/format.h"

static struct nodeview_row slot(uint32_t node, uint32_t state, int64_t age)
{
	struct nodeview_row r;

	memset(&r, 0, sizeof(r));
	r.node = node;
	r.hb_state = state;
	r.hb_counter = 7;
	r.hb_age_ms = age;
	return r;
}

static void test_judge(void)
{
	struct nodeview v = { 0 };
	uint32_t members[] = { 1, 2, 9 };

	v.rows = calloc(5, sizeof(*v.rows));
	CU_ASSERT_FATAL(v.rows != NULL);
	v.rows[0] = slot(1, CSVFS_HB_CLUSTER, 100);		/* alive */
	v.rows[1] = slot(2, CSVFS_HB_CLUSTER, 4000);		/* member, stale */
	v.rows[2] = slot(3, CSVFS_HB_CLUSTER, 4999);		/* gone, not yet dead */
	v.rows[3] = slot(4, CSVFS_HB_CLUSTER, CSVFS_HB_DEAD_MS);	/* dead */
	v.rows[4] = slot(5, CSVFS_HB_LEFT, 60000);		/* unmounted */
	v.n = 5;
	v.cluster = 1;
	v.quorate = 1;
	v.self = 1;
	v.coord = 2;
	CU_ASSERT_EQUAL(nodeview_judge(&v, members, 3), 0);
	CU_ASSERT_EQUAL_FATAL(v.n, 6);
	CU_ASSERT_EQUAL(v.rows[5].node, 9);		/* member without slot */
	CU_ASSERT_EQUAL(v.rows[5].hb_age_ms, -1);
	CU_ASSERT(v.rows[5].member && !v.rows[5].dead && !v.rows[5].fenced);

	CU_ASSERT(v.rows[0].member && v.rows[0].self && !v.rows[0].fenced &&
		  !v.rows[0].dead && !v.rows[0].coordinator);
	CU_ASSERT(v.rows[1].member && v.rows[1].fenced && !v.rows[1].dead &&
		  v.rows[1].coordinator);
	CU_ASSERT(!v.rows[2].member && v.rows[2].fenced && !v.rows[2].dead);
	CU_ASSERT(!v.rows[3].member && !v.rows[3].fenced && v.rows[3].dead);
	CU_ASSERT(!v.rows[4].member && !v.rows[4].fenced && !v.rows[4].dead);

	nodeview_add_owned(&v, 4);
	nodeview_add_owned(&v, 4);
	nodeview_add_owned(&v, 42);	/* no such node: ignored */
	CU_ASSERT_EQUAL(v.rows[3].owned, 2);
	CU_ASSERT_EQUAL(v.rows[0].owned, 0);

	/* This node without quorum is fenced, however fresh its stamp. */
	v.quorate = 0;
	CU_ASSERT_EQUAL(nodeview_judge(&v, members, 3), 0);
	CU_ASSERT_EQUAL(v.n, 6);
	CU_ASSERT(v.rows[0].fenced && !v.rows[0].dead);
	nodeview_free(&v);
	CU_ASSERT_EQUAL(v.n, 0);
}

static void test_read_slots(void)
{
	char img[] = "/tmp/nodeview_test.XXXXXX";
	struct fmt_opts fo = { 0 };
	struct nodeview v = { 0 };
	struct csvfs_super sb;
	struct dev *d = NULL;
	struct hb *h2 = NULL, *h5 = NULL;
	struct timespec now;
	uint64_t now_ns;
	int fd;

	fd = mkstemp(img);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, 1ull << 30) == 0);
	close(fd);
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT_FATAL(fmt_volume(d, &fo, &sb) == 0);
	/* A fresh volume: no slot in use. */
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	CU_ASSERT_EQUAL(nodeview_read_slots(img, now_ns, &v), 0);
	CU_ASSERT_EQUAL(v.n, 0);
	CU_ASSERT_EQUAL(hb_start(d, &sb, 5, CSVFS_HB_CLUSTER, &h5), 0);
	CU_ASSERT_EQUAL(hb_start(d, &sb, 2, CSVFS_HB_CLUSTER, &h2), 0);
	CU_ASSERT_EQUAL(hb_stop(h5), 0);	/* stamps "left" */
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	CU_ASSERT_EQUAL(nodeview_read_slots(img, now_ns + 10000000000ull, &v),
			0);
	CU_ASSERT_EQUAL_FATAL(v.n, 2);
	CU_ASSERT_EQUAL(v.rows[0].node, 2);
	CU_ASSERT_EQUAL(v.rows[0].hb_state, CSVFS_HB_CLUSTER);
	CU_ASSERT(v.rows[0].hb_counter >= 1);
	CU_ASSERT(v.rows[0].hb_age_ms >= 10000 && v.rows[0].hb_age_ms < 20000);
	CU_ASSERT_EQUAL(v.rows[1].node, 5);
	CU_ASSERT_EQUAL(v.rows[1].hb_state, CSVFS_HB_LEFT);
	/* Node 2 is no member and its stamp is 10 s old: dead. */
	v.cluster = 1;
	v.quorate = 1;
	v.self = 1;
	CU_ASSERT_EQUAL(nodeview_judge(&v, NULL, 0), 0);
	CU_ASSERT(v.rows[0].dead && !v.rows[0].fenced);
	CU_ASSERT(!v.rows[1].dead);
	nodeview_free(&v);
	CU_ASSERT_EQUAL(hb_stop(h2), 0);
	dev_close(d);
	unlink(img);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("nodeview", NULL, NULL);
	CU_add_test(s, "member, fenced, dead, coordinator, owned",
		    test_judge);
	CU_add_test(s, "slots read from a volume", test_read_slots);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)(CU_get_number_of_failures() +
		      CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

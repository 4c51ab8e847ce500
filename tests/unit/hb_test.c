/*
 * hb_test: on-disk heartbeats on a formatted image file: a stamping node
 * is alive to the watch, a suspended (fenced) one is dead after the
 * timeout, a node that left is dead at once, and a standalone start is
 * refused while another node stamps. hb_find_live (the rule the start and
 * fsck share) names a stamping node, and not one whose recent stamp
 * stands still (fenced, or crashed) nor one that left.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "lockd/hb.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "tests/unit/testimg.h"

static char img[64];
static struct dev *dev;
static struct csvfs_super sb;

static int suite_init(void)
{
	if (testimg_new(img, sizeof(img), "hb_test", 1ull << 30) ||
	    testimg_mkfs(img, 1ull << 30, &sb) || dev_open(img, 0, &dev))
		return -1;
	return 0;
}

static int suite_clean(void)
{
	dev_close(dev);
	unlink(img);
	return 0;
}

static void test_alive_suspended_left(void)
{
	struct hb *a, *b;
	struct hb_watch *w;
	struct csvfs_hb hb;
	int i, dead;

	CU_ASSERT_FATAL(hb_start(dev, &sb, 2, CSVFS_HB_CLUSTER, &a) == 0);
	CU_ASSERT_FATAL(hb_start(dev, &sb, 3, CSVFS_HB_CLUSTER, &b) == 0);
	CU_ASSERT(hb_read(dev, &sb, 1, &hb) == 0);
	CU_ASSERT(hb.node_id == 2 && hb.state == CSVFS_HB_CLUSTER);
	CU_ASSERT_FATAL(hb_watch_start(dev, &sb, &w) == 0);
	/* Nobody is dead before being watched for the timeout. */
	CU_ASSERT(hb_watch_dead(w, 2, 2500) == 0);
	sleep(3);
	CU_ASSERT(hb_watch_dead(w, 2, 2500) == 0);
	CU_ASSERT(hb_watch_dead(w, 3, 2500) == 0);
	/* Fenced: the stamps stop, dead after the timeout. */
	hb_suspend(b, 1);
	CU_ASSERT(hb_watch_dead(w, 3, 2500) == 0);
	for (i = 0, dead = 0; i < 50 && !dead; i++) {
		usleep(100000);
		dead = hb_watch_dead(w, 3, 2500);
	}
	CU_ASSERT(dead && i >= 10);	/* not before ~timeout - interval */
	CU_ASSERT(hb_watch_dead(w, 2, 2500) == 0);
	/* Back: alive at the next stamp. */
	hb_suspend(b, 0);
	sleep(2);
	CU_ASSERT(hb_watch_dead(w, 3, 2500) == 0);
	/* Left cleanly: dead as soon as the watch reads it. */
	CU_ASSERT(hb_stop(a) == 0);
	sleep(1);
	CU_ASSERT(hb_watch_dead(w, 2, 2500) == 1);
	/* A standalone start sees node 3 stamping. */
	CU_ASSERT(hb_check_others(dev, &sb) == -CSVFS_ELIVE);
	CU_ASSERT(hb_stop(b) == 0);
	CU_ASSERT(hb_check_others(dev, &sb) == 0);
	CU_ASSERT(hb_watch_dead(w, 0, 0) == 0);
	CU_ASSERT(hb_watch_dead(w, 9999, 0) == 0);
	hb_watch_stop(w);
}

static void test_find_live_one_rule(void)
{
	struct csvfs_hb who = { 0 };
	struct hb *h;

	CU_ASSERT(hb_find_live(dev, &sb, &who) == 0);
	CU_ASSERT_FATAL(hb_start(dev, &sb, 4, CSVFS_HB_STANDALONE, &h) == 0);
	CU_ASSERT(hb_find_live(dev, &sb, &who) == 4);	/* slot 3, + 1 */
	CU_ASSERT(who.node_id == 4 && who.state == CSVFS_HB_STANDALONE);
	/* A recent stamp that stands still is no mount (a fenced node). */
	hb_suspend(h, 1);
	sleep(2);
	CU_ASSERT(hb_find_live(dev, &sb, &who) == 0);
	CU_ASSERT(hb_check_others(dev, &sb) == 0);
	hb_suspend(h, 0);
	sleep(2);
	CU_ASSERT(hb_check_others(dev, &sb) == -CSVFS_ELIVE);
	CU_ASSERT(hb_stop(h) == 0);
	CU_ASSERT(hb_find_live(dev, &sb, &who) == 0);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("hb", suite_init, suite_clean);
	CU_add_test(s, "alive, fenced, left", test_alive_suspended_left);
	CU_add_test(s, "find live: one rule for start and fsck",
		    test_find_live_one_rule);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

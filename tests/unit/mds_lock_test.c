/*
 * mds_lock_test: the coordinator's application locks (meta/mds/mds_lock.c)
 * through the metadata client, with three nodes on the local transport:
 * conflicts and F_GETLK across nodes, queued requests woken by a push,
 * cancel, deadlock detection, the grace period and reclaim, a dead node's
 * locks dropped by the reaper, a restarted daemon's locks dropped, and
 * malformed requests.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta/dev.h"
#include "meta/format.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

#define NNODES	3
#define INO	77

static struct mdc *nm[NNODES + 1];
static volatile int members = 0xe;	/* bit n: node n is a member */

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t wake_node[64];
static uint64_t wake_id[64];
static int nwakes;

static int suite_init(void)
{
	return testmds_format("mds_lock_test", 1ull << 30);
}

static int suite_clean(void)
{
	return testmds_unlink();
}

static int stub_is_member(void *ctx, uint32_t node)
{
	(void)ctx;
	return node <= NNODES && (members >> node & 1);
}

static int stub_wake(void *ctx, uint32_t node, uint64_t id)
{
	(void)ctx;
	pthread_mutex_lock(&wake_mu);
	if (nwakes < 64) {
		wake_node[nwakes] = node;
		wake_id[nwakes] = id;
		nwakes++;
	}
	pthread_mutex_unlock(&wake_mu);
	return 0;
}

static int wakes(void)
{
	int n;

	pthread_mutex_lock(&wake_mu);
	n = nwakes;
	pthread_mutex_unlock(&wake_mu);
	return n;
}

/* Cluster mode (grace_ms 0: no grace wanted, every node reclaims). */
static void start_nodes(unsigned grace_ms, int reclaim_all)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = stub_is_member,
			      .lock_wake = stub_wake, .dead_ms = 200,
			      .lock_grace_ms = grace_ms };
	uint32_t n;

	members = 0xe;
	nwakes = 0;
	testmds_start_nodes(&o, nm, NNODES);
	for (n = 1; n <= NNODES && reclaim_all; n++)
		CU_ASSERT(mdc_lock_reclaim_done(nm[n]) == 0);
}

static void stop_nodes(void)
{
	testmds_stop_nodes(nm, NNODES);
}

static struct csvfs_wlock W(uint64_t owner, uint32_t type, uint64_t start,
			    uint64_t end)
{
	struct csvfs_wlock l;

	memset(&l, 0, sizeof(l));
	l.owner = owner;
	l.pid = 1000 + (uint32_t)owner;
	l.type = type;
	l.start = start;
	l.end = end;
	return l;
}

static int set(uint32_t node, struct csvfs_wlock l, uint32_t flags,
	       uint64_t id)
{
	return mdc_lock_set(nm[node], INO, &l, flags, id);
}

static void test_conflict_and_getlk(void)
{
	struct csvfs_wlock h, v[4];
	uint32_t n = 0;
	int found = -1;

	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(2, W(5, 2, 0, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(5, 2, 50, 60), 0, 0), -EAGAIN);
	CU_ASSERT_EQUAL(set(3, W(5, 1, 99, 99), 0, 0), -EAGAIN);
	CU_ASSERT_EQUAL(set(3, W(5, 2, 100, 200), 0, 0), 0);
	/* the same owner id on the holder's node is the holder */
	CU_ASSERT_EQUAL(set(2, W(5, 1, 10, 20), 0, 0), 0);
	CU_ASSERT_EQUAL(mdc_lock_get(nm[3], INO, (struct csvfs_wlock[]){
					     W(9, 2, 15, 15) }, &found, &h), 0);
	CU_ASSERT_EQUAL(found, 1);
	CU_ASSERT_EQUAL(h.node, 2);
	CU_ASSERT_EQUAL(h.owner, 5);
	CU_ASSERT_EQUAL(h.pid, 1005);
	CU_ASSERT_EQUAL(h.type, 1);	/* 10-20 was converted to read */
	CU_ASSERT_EQUAL(h.start, 10);
	CU_ASSERT_EQUAL(h.end, 20);
	CU_ASSERT_EQUAL(mdc_lock_get(nm[3], INO, (struct csvfs_wlock[]){
					     W(9, 1, 15, 15) }, &found, &h), 0);
	CU_ASSERT_EQUAL(found, 0);
	/* flock is another class */
	{
		struct csvfs_wlock f = W(5, 2, 0, UINT64_MAX);

		f.cls = 1;
		CU_ASSERT_EQUAL(set(3, f, 0, 0), 0);
		CU_ASSERT_EQUAL(set(2, f, 0, 0), -EAGAIN);
	}
	CU_ASSERT_EQUAL(mdc_lock_list(nm[1], INO, v, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 5);	/* node 2: 0-9 w, 10-20 r, 21-99 w; node 3 */
	CU_ASSERT_EQUAL(mdc_lock_list(nm[1], INO + 1, v, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	stop_nodes();
}

static void test_wait_woken_by_push(void)
{
	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 0), CSVFS_LK_WAIT, 7),
			-EINPROGRESS);
	CU_ASSERT_EQUAL(wakes(), 0);
	/* an unlock elsewhere wakes nobody */
	CU_ASSERT_EQUAL(set(2, W(1, 0, 50, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(wakes(), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 0, 0, 49), 0, 0), 0);
	CU_ASSERT_EQUAL_FATAL(wakes(), 1);
	CU_ASSERT_EQUAL(wake_node[0], 3);
	CU_ASSERT_EQUAL(wake_id[0], 7);
	/* the woken node sends it again and gets it */
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 0), CSVFS_LK_WAIT, 7), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), 0, 0), -EAGAIN);
	stop_nodes();
}

static void test_cancel_leaves_queue(void)
{
	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 0), CSVFS_LK_WAIT, 8),
			-EINPROGRESS);
	CU_ASSERT_EQUAL(mdc_lock_cancel(nm[3], INO, 8), 0);
	CU_ASSERT_EQUAL(mdc_lock_cancel(nm[3], INO, 8), 0);	/* again */
	CU_ASSERT_EQUAL(set(2, W(1, 0, 0, UINT64_MAX), 0, 0), 0);
	CU_ASSERT_EQUAL(wakes(), 0);
	stop_nodes();
}

static void test_deadlock_detected(void)
{
	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), 0, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 10, 10), 0, 0), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 10, 10), CSVFS_LK_WAIT, 1),
			-EINPROGRESS);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 0), CSVFS_LK_WAIT, 2), -EDEADLK);
	/* another owner of node 3 is no cycle */
	CU_ASSERT_EQUAL(set(3, W(2, 2, 0, 0), CSVFS_LK_WAIT, 3),
			-EINPROGRESS);
	stop_nodes();
}

static void test_grace_and_reclaim(void)
{
	struct csvfs_wlock h;
	int found;

	start_nodes(5000, 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 9), 0, 0), -ERESTART);
	CU_ASSERT_EQUAL(mdc_lock_get(nm[2], INO, (struct csvfs_wlock[]){
					     W(1, 2, 0, 0) }, &found, &h),
			-ERESTART);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 9), CSVFS_LK_RECLAIM, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 5, 5), CSVFS_LK_RECLAIM, 0), -ENOLCK);
	CU_ASSERT_EQUAL(mdc_lock_reclaim_done(nm[2]), 0);
	CU_ASSERT_EQUAL(mdc_lock_reclaim_done(nm[3]), 0);
	/* node 1, a member, has not reclaimed yet */
	CU_ASSERT_EQUAL(set(3, W(1, 2, 5, 5), 0, 0), -ERESTART);
	CU_ASSERT_EQUAL(mdc_lock_reclaim_done(nm[1]), 0);
	/* every member did: the reclaimed lock holds */
	CU_ASSERT_EQUAL(set(3, W(1, 2, 5, 5), 0, 0), -EAGAIN);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 10, 10), 0, 0), 0);
	stop_nodes();

	/* a member that never reclaims: the period ends by time */
	start_nodes(300, 0);
	CU_ASSERT_EQUAL(mdc_lock_reclaim_done(nm[2]), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 9), 0, 0), -ERESTART);
	usleep(400000);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 9), 0, 0), 0);
	stop_nodes();
}

static void test_dead_node_dropped(void)
{
	int i;

	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), CSVFS_LK_WAIT, 4),
			-EINPROGRESS);
	/* a member is never dead, however quiet its heartbeat */
	usleep(400000);
	CU_ASSERT_EQUAL(wakes(), 0);
	members &= ~(1 << 3);
	for (i = 0; i < 50 && !wakes(); i++)
		usleep(100000);
	CU_ASSERT_EQUAL_FATAL(wakes(), 1);
	CU_ASSERT_EQUAL(wake_node[0], 2);
	CU_ASSERT_EQUAL(wake_id[0], 4);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), CSVFS_LK_WAIT, 4), 0);
	stop_nodes();
}

static void test_restarted_daemon_loses_old_locks(void)
{
	struct mdc_transport t;

	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 99), 0, 0), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), 0, 0), -EAGAIN);
	mdc_free(nm[3]);
	local_transport(mds, &t);
	CU_ASSERT_FATAL(mdc_new(&t, 3, ++incarnation, &nm[3]) == 0);
	CU_ASSERT_EQUAL(mdc_lock_reclaim_done(nm[3]), 0);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 0), 0, 0), 0);
	stop_nodes();
}

static void test_malformed_requests(void)
{
	struct csvfs_wlock bad = W(1, 2, 10, 5);

	start_nodes(0, 1);
	CU_ASSERT_EQUAL(set(2, bad, 0, 0), -EINVAL);
	bad = W(1, 3, 0, 5);
	CU_ASSERT_EQUAL(set(2, bad, 0, 0), -EINVAL);
	bad = W(1, 2, 0, 5);
	bad.cls = 1;			/* a flock is whole-file */
	CU_ASSERT_EQUAL(set(2, bad, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 5), 0x80, 0), -EINVAL);
	/* a wait without an id cannot be woken: refused as a conflict */
	CU_ASSERT_EQUAL(set(2, W(1, 2, 0, 5), 0, 0), 0);
	CU_ASSERT_EQUAL(set(3, W(1, 2, 0, 5), CSVFS_LK_WAIT, 0), -EAGAIN);
	stop_nodes();
}

static void test_standalone_has_no_grace(void)
{
	start();
	CU_ASSERT_EQUAL(mdc_lock_set(mdc, INO, (struct csvfs_wlock[]){
					     W(1, 2, 0, 5) }, 0, 0), 0);
	CU_ASSERT_EQUAL(mdc_lock_set(mdc, INO, (struct csvfs_wlock[]){
					     W(2, 2, 5, 5) }, 0, 0), -EAGAIN);
	stop();
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("mds_lock", suite_init, suite_clean);
	CU_add_test(s, "conflicts and F_GETLK across nodes",
		    test_conflict_and_getlk);
	CU_add_test(s, "a queued request is woken by a push",
		    test_wait_woken_by_push);
	CU_add_test(s, "cancel leaves the queue", test_cancel_leaves_queue);
	CU_add_test(s, "deadlock detected", test_deadlock_detected);
	CU_add_test(s, "grace period and reclaim", test_grace_and_reclaim);
	CU_add_test(s, "a dead node's locks are dropped",
		    test_dead_node_dropped);
	CU_add_test(s, "a restarted daemon loses its old locks",
		    test_restarted_daemon_loses_old_locks);
	CU_add_test(s, "malformed requests", test_malformed_requests);
	CU_add_test(s, "standalone has no grace period",
		    test_standalone_has_no_grace);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

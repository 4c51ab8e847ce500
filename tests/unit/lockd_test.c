/*
 * lockd_test: the ownership rules of lockd/lockd.c, one test per rule,
 * exact return codes and resulting states.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "lockd/lockd.h"

#define T0	1000ull
#define T1	2000ull

static struct lockd_state fresh(uint32_t iflags)
{
	struct lockd_state s;

	memset(&s, 0, sizeof(s));
	s.iflags = iflags;
	return s;
}

static void test_may_modify(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 0, &owner), 0);
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 1, 0, &owner), 0);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 0, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	lockd_release(&s, 1);
	lockd_acquire(&s, 2, LOCKD_READ, T1, NULL);
	lockd_acquire(&s, 3, LOCKD_READ, T1, NULL);
	owner = 0;
	/* a reader may not truncate under the other reader */
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 0, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 1, 0, &owner), -EBUSY);
	s = fresh(CSVFS_IFL_MULTIWRITER);
	lockd_acquire(&s, 2, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 0, &owner), 0);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 1, 0, &owner), -EBUSY);
	/* freeing blocks under another writer's map: refused */
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	lockd_release(&s, 2);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 1, &owner), 0);
}

static void test_write_open_takes_exclusive(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T0, &owner), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_EXCLUSIVE);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(s.since_ns, T0);
	CU_ASSERT_EQUAL(s.epoch, 1);
	/* same node again: granted, nothing changes */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), 0);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_READ, T1, &owner), 0);
	CU_ASSERT_EQUAL(s.since_ns, T0);
	CU_ASSERT_EQUAL(s.epoch, 1);
}

static void test_exclusive_refuses_other_nodes(void)
{
	struct lockd_state s = fresh(0), before;
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	before = s;
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	owner = 0;
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 100, LOCKD_WRITE, T1, &owner),
			-EBUSY);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
}

static void test_shared_read_many_nodes_no_writer(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T0, &owner), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_SHARED_READ);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T1, &owner), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T1, &owner), 0);
	CU_ASSERT_EQUAL(s.count, 2);
	CU_ASSERT_EQUAL(s.holders, 0x6);
	CU_ASSERT_EQUAL(s.since_ns, T0);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	/* a holder cannot upgrade while another reader holds */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_SHARED_READ);
}

static void test_sole_reader_upgrades_to_exclusive(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 4, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 4, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_EXCLUSIVE);
	CU_ASSERT_EQUAL(s.node, 4);
	CU_ASSERT_EQUAL(s.holders, 0);
	CU_ASSERT_EQUAL(s.count, 0);
	CU_ASSERT_EQUAL(s.since_ns, T1);
}

static void test_multiwriter_accepts_all_nodes(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_MULTIWRITER);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_MULTI);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 64, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T0, NULL), 0);
	CU_ASSERT_EQUAL(s.count, 4);
	CU_ASSERT_EQUAL(s.holders, 0x8000000000000007ull);
}

static void test_multiwriter_waits_for_exclusive_owner(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	s.iflags |= CSVFS_IFL_MULTIWRITER;
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	CU_ASSERT_EQUAL(lockd_release(&s, 1), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_MULTI);
}

static void test_nodes_above_64_refused_for_shared_modes(void)
{
	struct lockd_state s = fresh(0), m = fresh(CSVFS_IFL_MULTIWRITER);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 65, LOCKD_READ, T0, NULL), -ERANGE);
	CU_ASSERT_EQUAL(lockd_acquire(&m, 65, LOCKD_WRITE, T0, NULL), -ERANGE);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT_EQUAL(m.mode, CSVFS_OWN_NONE);
	/* exclusive has no bitmap: any node id */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 65, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(s.node, 65);
	CU_ASSERT_EQUAL(lockd_release(&s, 65), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
}

static void test_bad_arguments(void)
{
	struct lockd_state s = fresh(0);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 0, LOCKD_WRITE, T0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, 7, T0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lockd_release(&s, 0), -EINVAL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 0, T0), -EINVAL);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT_EQUAL(s.epoch, 0);
}

static void test_last_release_clears(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 2, LOCKD_READ, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 2), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_SHARED_READ);
	CU_ASSERT_EQUAL(s.node, 3);
	CU_ASSERT_EQUAL(s.count, 1);
	CU_ASSERT_EQUAL(lockd_release(&s, 2), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 3), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT_EQUAL(s.node, 0);
	CU_ASSERT_EQUAL(s.holders, 0);
	CU_ASSERT_EQUAL(s.count, 0);
	CU_ASSERT_EQUAL(s.since_ns, 0);
}

static void test_release_by_non_holder_changes_nothing(void)
{
	struct lockd_state s = fresh(0), before;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	before = s;
	CU_ASSERT_EQUAL(lockd_release(&s, 2), 0);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
}

static void test_pinned_survives_last_release(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_PINNED);
	struct lockd_state r = fresh(CSVFS_IFL_PINNED);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 1), 0);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_EXCLUSIVE);
	CU_ASSERT_EQUAL(s.node, 1);
	lockd_acquire(&r, 2, LOCKD_READ, T0, NULL);
	lockd_acquire(&r, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&r, 2), 1);
	CU_ASSERT_EQUAL(lockd_release(&r, 3), 0);
	CU_ASSERT_EQUAL(r.mode, CSVFS_OWN_SHARED_READ);
	CU_ASSERT_EQUAL(r.holders, 0x4);
}

static void test_break_dead_node(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_PINNED);
	struct lockd_state r = fresh(0);
	uint64_t e;

	/* A dead exclusive owner loses even a pinned file. */
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	e = s.epoch;
	CU_ASSERT_EQUAL(lockd_break(&s, 2), 0);
	CU_ASSERT_EQUAL(lockd_break(&s, 1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT(s.epoch > e);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), 1);
	/* A dead reader leaves the other readers their hold. */
	lockd_acquire(&r, 2, LOCKD_READ, T0, NULL);
	lockd_acquire(&r, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_break(&r, 2), 1);
	CU_ASSERT_EQUAL(r.mode, CSVFS_OWN_SHARED_READ);
	CU_ASSERT_EQUAL(r.holders, 0x4);
	CU_ASSERT_EQUAL(r.count, 1);
	CU_ASSERT_EQUAL(lockd_break(&r, 3), 1);
	CU_ASSERT_EQUAL(r.mode, CSVFS_OWN_NONE);
	CU_ASSERT_EQUAL(lockd_break(&r, 0), -EINVAL);
}

static void test_handoff_moves_exclusive(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 1, 2, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_EXCLUSIVE);
	CU_ASSERT_EQUAL(s.node, 2);
	CU_ASSERT_EQUAL(s.since_ns, T1);
	CU_ASSERT_EQUAL(s.epoch, 2);
	/* the old owner's late close keeps the new owner */
	CU_ASSERT_EQUAL(lockd_release(&s, 1), 0);
	CU_ASSERT_EQUAL(s.node, 2);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), 0);
	/* and back, as a cancelled migration does */
	CU_ASSERT_EQUAL(lockd_handoff(&s, 2, 1, T1), 1);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 1, 1, T1), 0);
}

static void test_handoff_refuses_wrong_owner(void)
{
	struct lockd_state s = fresh(0), before;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	before = s;
	CU_ASSERT_EQUAL(lockd_handoff(&s, 3, 2, T1), -ENOLCK);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 2, T1), -ENOLCK);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
}

static void test_handoff_of_unowned_and_shared(void)
{
	struct lockd_state s = fresh(0), r = fresh(0);

	CU_ASSERT_EQUAL(lockd_handoff(&s, 1, 2, T0), -ENOLCK);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 2, T0), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_EXCLUSIVE);
	CU_ASSERT_EQUAL(s.node, 2);
	lockd_acquire(&r, 2, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&r, 2, 3, T0), -EBUSY);
	CU_ASSERT_EQUAL(r.mode, CSVFS_OWN_SHARED_READ);
}

static void test_holds_and_names(void)
{
	struct lockd_state s = fresh(0);

	CU_ASSERT_FALSE(lockd_holds(&s, 1));
	lockd_acquire(&s, 5, LOCKD_READ, T0, NULL);
	CU_ASSERT_TRUE(lockd_holds(&s, 5));
	CU_ASSERT_FALSE(lockd_holds(&s, 6));
	CU_ASSERT_FALSE(lockd_holds(&s, 70));
	CU_ASSERT_FALSE(lockd_holds(&s, 0));
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_EXCLUSIVE),
			       "exclusive");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_SHARED_READ),
			       "shared-read");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_MULTI),
			       "multi-writer");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_NONE), "none");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(99), "unknown");
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("lockd", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "write open takes exclusive",
			 test_write_open_takes_exclusive) ||
	    !CU_add_test(s, "exclusive refuses other nodes with EBUSY",
			 test_exclusive_refuses_other_nodes) ||
	    !CU_add_test(s, "shared-read: many nodes, no writer",
			 test_shared_read_many_nodes_no_writer) ||
	    !CU_add_test(s, "sole reader upgrades to exclusive",
			 test_sole_reader_upgrades_to_exclusive) ||
	    !CU_add_test(s, "multi-writer accepts all nodes",
			 test_multiwriter_accepts_all_nodes) ||
	    !CU_add_test(s, "multi-writer waits for an exclusive owner",
			 test_multiwriter_waits_for_exclusive_owner) ||
	    !CU_add_test(s, "nodes above 64 refused for shared modes",
			 test_nodes_above_64_refused_for_shared_modes) ||
	    !CU_add_test(s, "bad arguments are EINVAL",
			 test_bad_arguments) ||
	    !CU_add_test(s, "last release clears the state",
			 test_last_release_clears) ||
	    !CU_add_test(s, "release by a non-holder changes nothing",
			 test_release_by_non_holder_changes_nothing) ||
	    !CU_add_test(s, "pinned survives the last release",
			 test_pinned_survives_last_release) ||
	    !CU_add_test(s, "a dead node's holds are broken",
			 test_break_dead_node) ||
	    !CU_add_test(s, "handoff moves exclusive ownership",
			 test_handoff_moves_exclusive) ||
	    !CU_add_test(s, "handoff refuses a wrong owner (ENOLCK)",
			 test_handoff_refuses_wrong_owner) ||
	    !CU_add_test(s, "handoff of unowned and shared files",
			 test_handoff_of_unowned_and_shared) ||
	    !CU_add_test(s, "holds and mode names", test_holds_and_names) ||
	    !CU_add_test(s, "truncate without an open only by the owner",
			 test_may_modify)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

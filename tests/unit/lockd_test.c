/*
 * lockd_test: the ownership rules of lockd/lockd.c (single-writer with
 * readers, strict, multi-writer, handoff reservations), one test per rule,
 * exact return codes and resulting states. The QEMU migration sequence of
 * issue 11 is spelled out step by step.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "lockd/lockd.h"

#define T0	1000ull
#define T1	2000ull
#define BIT(n)	(1ull << ((n) - 1))

static struct lockd_state fresh(uint32_t iflags)
{
	struct lockd_state s;

	memset(&s, 0, sizeof(s));
	s.iflags = iflags;
	return s;
}

static void test_write_open_takes_writer(void)
{
	struct lockd_state s = fresh(0);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(s.since_ns, T0);
	CU_ASSERT_EQUAL(s.holders, 0);
	/* the writer's further opens, read or write, change nothing */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, NULL), 0);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_READ, T1, NULL), 0);
	CU_ASSERT_TRUE(lockd_is_writer(&s, 1));
}

static void test_second_writer_refused(void)
{
	struct lockd_state s = fresh(0);
	struct lockd_state before;
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	before = s;
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	CU_ASSERT_EQUAL(memcmp(&s, &before, sizeof(s)), 0);
}

static void test_readers_beside_writer(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T1, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T1, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T1, NULL), 0);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(s.holders, BIT(2) | BIT(3));
	CU_ASSERT_EQUAL(s.count, 2);
	/* the writer did not change: since stays */
	CU_ASSERT_EQUAL(s.since_ns, T0);
	/* a reader may not become a second writer */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), -EBUSY);
}

static void test_writer_joins_readers(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 2, LOCKD_READ, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_READERS);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.node, 2);
	/* node 2's read handle is under its write hold now */
	CU_ASSERT_EQUAL(s.holders, BIT(3));
}

/* Issue 11: QEMU's live migration, node 1 -> node 2, no csvfs step. */
static void test_qemu_migration_sequence(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	/* the VM runs on node 1 */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL), 1);
	/* 1. target QEMU starts: probe open read-only, closed, then the
	 * inactive image open read-only */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_ALL, T0), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T0, NULL), 1);
	/* 2. source inactivates: opens read-only, closes read-write */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_READ, T1, NULL), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_WRITE, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_READERS);
	CU_ASSERT_EQUAL(s.holders, BIT(1) | BIT(2));
	/* 3. target activates: read-write open granted at once */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), 1);
	CU_ASSERT_EQUAL(s.node, 2);
	/* a second VM on node 3 cannot write; the source cannot go back */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), -EBUSY);
	/* source QEMU quits */
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.holders, 0);
	CU_ASSERT_EQUAL(s.count, 0);
}

/* A cancelled migration: the source reactivates. */
static void test_cancelled_migration(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 2, LOCKD_READ, T0, NULL);
	lockd_release(&s, 1, LOCKD_DROP_WRITE, T1);
	/* reactivation on the source */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(s.holders, BIT(2));
	/* target QEMU exits */
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.holders, 0);
	CU_ASSERT_EQUAL(s.node, 1);
}

static void test_strict_keeps_readers_out(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_STRICT);
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T0, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	lockd_release(&s, 1, LOCKD_DROP_ALL, T1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	/* and a writer waits for the readers to go */
	lockd_acquire(&s, 2, LOCKD_READ, T1, NULL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	/* the only reader may upgrade */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), 1);
}

static void test_multiwriter_accepts_all_nodes(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_MULTIWRITER);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_READ, T0, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_MULTI);
	CU_ASSERT_EQUAL(s.count, 3);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_WRITE, T1), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_MULTI);
	CU_ASSERT_EQUAL(s.holders, BIT(2) | BIT(3));
	lockd_release(&s, 2, LOCKD_DROP_ALL, T1);
	lockd_release(&s, 3, LOCKD_DROP_ALL, T1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
}

static void test_multiwriter_waits_for_single_writer(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	s.iflags |= CSVFS_IFL_MULTIWRITER;	/* set while it was open */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T1, &owner), 1);
	/* once the single writer has closed, every node writes */
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_MULTI);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_EQUAL(s.holders, BIT(1) | BIT(2));
}

static void test_nodes_above_64(void)
{
	struct lockd_state s = fresh(0);

	/* a writer may have any id; readers need the bitmap */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 70, LOCKD_WRITE, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 71, LOCKD_READ, T0, NULL), -ERANGE);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T0, NULL), 1);
	CU_ASSERT_EQUAL(lockd_release(&s, 70, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_READERS);
	s = fresh(CSVFS_IFL_MULTIWRITER);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 65, LOCKD_WRITE, T0, NULL), -ERANGE);
}

static void test_bad_arguments(void)
{
	struct lockd_state s = fresh(0);

	CU_ASSERT_EQUAL(lockd_acquire(&s, 0, LOCKD_WRITE, T0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, 7, T0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lockd_release(&s, 0, LOCKD_DROP_ALL, T0), -EINVAL);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, 9, T0), -EINVAL);
	CU_ASSERT_EQUAL(lockd_break(&s, 0, T0), -EINVAL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 0, 0, T0), -EINVAL);
}

static void test_last_release_clears(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT_EQUAL(s.node, 0);
	CU_ASSERT_EQUAL(s.since_ns, 0);
	/* the writer's last read-write handle with read-only ones open */
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_WRITE, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_READERS);
	CU_ASSERT_EQUAL(s.holders, BIT(1));
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
}

static void test_release_by_non_holder_changes_nothing(void)
{
	struct lockd_state s = fresh(0);
	struct lockd_state before;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	before = s;
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_ALL, T1), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_WRITE, T1), 0);
	CU_ASSERT_EQUAL(memcmp(&s, &before, sizeof(s)), 0);
	/* a reader's DROP_WRITE (it had none) keeps it reading */
	lockd_acquire(&s, 2, LOCKD_READ, T1, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_WRITE, T1), 0);
	CU_ASSERT_TRUE(lockd_holds(&s, 2));
}

static void test_pinned_survives_last_release(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_PINNED);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_ALL, T1), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 1, LOCKD_DROP_WRITE, T1), 0);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.node, 1);
}

static void test_break_dead_node(void)
{
	struct lockd_state s = fresh(CSVFS_IFL_PINNED);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 2, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_break(&s, 3, T1), 0);
	/* pinned or not, a dead writer's hold goes; readers stay */
	CU_ASSERT_EQUAL(lockd_break(&s, 1, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_READERS);
	CU_ASSERT_EQUAL(s.holders, BIT(2));
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, T1, NULL), 1);
	/* a dead reader beside a writer */
	CU_ASSERT_EQUAL(lockd_break(&s, 2, T1), 1);
	CU_ASSERT_EQUAL(s.node, 3);
	CU_ASSERT_EQUAL(s.holders, 0);
	/* a dead reserved handoff target */
	lockd_handoff(&s, 3, 4, 0, T1);
	CU_ASSERT_EQUAL(lockd_break(&s, 4, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
	CU_ASSERT_FALSE(s.iflags & CSVFS_IFL_HANDOFF);
}

static void test_handoff_moves_writer(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 1, 2, 1, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_WRITER);
	CU_ASSERT_EQUAL(s.node, 2);
	CU_ASSERT_EQUAL(s.since_ns, T1);
	CU_ASSERT_TRUE(s.iflags & CSVFS_IFL_HANDOFF);
	/* the source keeps its (revoked) handles as a reader */
	CU_ASSERT_EQUAL(s.holders, BIT(1) | BIT(3));
	CU_ASSERT_EQUAL(lockd_handoff(&s, 2, 2, 0, T1), 0);
	/* a source without handles does not linger */
	s = fresh(0);
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 1, 2, 0, T1), 1);
	CU_ASSERT_EQUAL(s.holders, 0);
}

/* Issue 11: the reservation survives the target's read-only probe. */
static void test_reservation_until_first_write_open(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_handoff(&s, 1, 2, 1, T1);
	/* target: probe open read-only, close it */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_READ, T1, NULL), 0);
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_ALL, T1), 0);
	CU_ASSERT_EQUAL(s.node, 2);
	/* no third node, nor the source, takes the write right */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, T1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, &owner), -EBUSY);
	/* the target's first read-write open ends the reservation */
	CU_ASSERT_EQUAL(lockd_acquire(&s, 2, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_FALSE(s.iflags & CSVFS_IFL_HANDOFF);
	/* from then on its last close releases as usual */
	lockd_release(&s, 1, LOCKD_DROP_ALL, T1);
	CU_ASSERT_EQUAL(lockd_release(&s, 2, LOCKD_DROP_ALL, T1), 1);
	CU_ASSERT_EQUAL(s.mode, CSVFS_OWN_NONE);
}

static void test_reservation_lapses(void)
{
	struct lockd_state s = fresh(0);
	uint64_t late = T1 + LOCKD_RESERVE_NS + 1;

	lockd_handoff(&s, 0, 2, 0, T1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, T1 + 5, NULL), -EBUSY);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 3, LOCKD_WRITE, late, NULL), 1);
	CU_ASSERT_EQUAL(s.node, 3);
	CU_ASSERT_FALSE(s.iflags & CSVFS_IFL_HANDOFF);
	/* a handoff back cancels one that is not used */
	s = fresh(0);
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_handoff(&s, 1, 2, 1, T1);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 2, 1, 0, T1), 1);
	CU_ASSERT_EQUAL(s.node, 1);
	CU_ASSERT_EQUAL(lockd_acquire(&s, 1, LOCKD_WRITE, T1, NULL), 1);
	CU_ASSERT_FALSE(s.iflags & CSVFS_IFL_HANDOFF);
}

static void test_handoff_refusals(void)
{
	struct lockd_state s = fresh(0);

	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 3, 2, 0, T1), -ENOLCK);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 2, 0, T1), -ENOLCK);
	CU_ASSERT_EQUAL(s.node, 1);
	s = fresh(CSVFS_IFL_MULTIWRITER);
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 2, 0, T1), -EBUSY);
	/* readers only: nobody writes, a handoff reserves for the target */
	s = fresh(0);
	lockd_acquire(&s, 3, LOCKD_READ, T0, NULL);
	CU_ASSERT_EQUAL(lockd_handoff(&s, 0, 2, 0, T1), 1);
	CU_ASSERT_EQUAL(s.node, 2);
	CU_ASSERT_EQUAL(s.holders, BIT(3));
}

static void test_may_modify(void)
{
	struct lockd_state s = fresh(0);
	uint32_t owner = 0;

	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 1, &owner), 0);
	lockd_acquire(&s, 1, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_READ, T0, NULL);
	/* the writer may shrink: readers revalidate their maps */
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 1, 1, &owner), 0);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 0, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 1);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 0, &owner), -EBUSY);
	lockd_release(&s, 1, LOCKD_DROP_ALL, T1);
	/* nobody writes: anyone may */
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 2, 1, &owner), 0);
	s = fresh(CSVFS_IFL_MULTIWRITER);
	lockd_acquire(&s, 2, LOCKD_WRITE, T0, NULL);
	lockd_acquire(&s, 3, LOCKD_WRITE, T0, NULL);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 0, &owner), 0);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 1, 0, &owner), -EBUSY);
	/* freeing blocks under another writer's map: refused */
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 1, &owner), -EBUSY);
	CU_ASSERT_EQUAL(owner, 2);
	lockd_release(&s, 2, LOCKD_DROP_ALL, T1);
	CU_ASSERT_EQUAL(lockd_may_modify(&s, 3, 1, &owner), 0);
}

static void test_holds_and_names(void)
{
	struct lockd_state s = fresh(0);

	CU_ASSERT_FALSE(lockd_holds(&s, 1));
	lockd_acquire(&s, 5, LOCKD_READ, T0, NULL);
	CU_ASSERT_TRUE(lockd_holds(&s, 5));
	CU_ASSERT_FALSE(lockd_is_writer(&s, 5));
	CU_ASSERT_FALSE(lockd_holds(&s, 6));
	CU_ASSERT_FALSE(lockd_holds(&s, 70));
	CU_ASSERT_FALSE(lockd_holds(&s, 0));
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_WRITER),
			       "single-writer");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_READERS), "readers");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_MULTI),
			       "multi-writer");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(CSVFS_OWN_NONE), "none");
	CU_ASSERT_STRING_EQUAL(lockd_mode_name(99), "unknown");
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "write open takes the writer role", test_write_open_takes_writer },
		{ "a second writer is EBUSY", test_second_writer_refused },
		{ "readers beside the writer", test_readers_beside_writer },
		{ "a reader becomes the writer", test_writer_joins_readers },
		{ "QEMU migration sequence", test_qemu_migration_sequence },
		{ "cancelled migration", test_cancelled_migration },
		{ "strict keeps readers out", test_strict_keeps_readers_out },
		{ "multi-writer accepts all nodes",
		  test_multiwriter_accepts_all_nodes },
		{ "multi-writer waits for a single writer",
		  test_multiwriter_waits_for_single_writer },
		{ "nodes above 64", test_nodes_above_64 },
		{ "bad arguments are EINVAL", test_bad_arguments },
		{ "last release clears the state", test_last_release_clears },
		{ "release by a non-holder changes nothing",
		  test_release_by_non_holder_changes_nothing },
		{ "pinned survives the last release",
		  test_pinned_survives_last_release },
		{ "a dead node's holds are broken", test_break_dead_node },
		{ "handoff moves the writer", test_handoff_moves_writer },
		{ "reservation lasts until the first write open",
		  test_reservation_until_first_write_open },
		{ "reservation lapses or is cancelled", test_reservation_lapses },
		{ "handoff refusals", test_handoff_refusals },
		{ "truncate without an open", test_may_modify },
		{ "holds and mode names", test_holds_and_names },
	};
	CU_pSuite s;
	unsigned fails, i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("lockd", NULL, NULL);
	for (i = 0; s && i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			s = NULL;
	if (!s) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

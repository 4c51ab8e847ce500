/*
 * fmap_test: fs/fmap.c, the file's cached extent map and its set of
 * written ranges: lookups by binary search, fetches appended and merged,
 * a newer extent trimming and splitting what it overlaps, marking written
 * clearing UNWRITTEN only where the map says so and queueing exactly
 * those ranges, ranges merging when they touch or overlap.
 */
#include <CUnit/Basic.h>
#include <errno.h>

#include "csvfs/ondisk.h"
#include "fs/fmap.h"
#include "net/mdc.h"

#define UW	CSVFS_EXT_UNWRITTEN

static struct csvfs_wext ext(uint64_t lblk, uint64_t pblk, uint32_t len,
			     uint32_t flags)
{
	struct csvfs_wext e = { lblk, pblk, len, flags };

	return e;
}

/* Whether m is exactly the n extents of want. */
static int map_is(const struct fmap *m, const struct csvfs_wext *want,
		  uint32_t n)
{
	uint32_t i;

	if (m->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (m->ext[i].lblk != want[i].lblk ||
		    m->ext[i].pblk != want[i].pblk ||
		    m->ext[i].len != want[i].len ||
		    m->ext[i].flags != want[i].flags)
			return 0;
	return 1;
}

static void test_find_says_where_a_block_is_or_would_go(void)
{
	struct fmap m;
	struct csvfs_wext e;
	uint32_t i = 99;

	fmap_init(&m);
	CU_ASSERT_EQUAL(fmap_find(&m, 0, &i), 0);
	CU_ASSERT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(fmap_end(&m), 0);
	e = ext(10, 100, 5, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(20, 300, 5, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	CU_ASSERT_EQUAL(fmap_find(&m, 9, &i), 0);
	CU_ASSERT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(fmap_find(&m, 10, &i), 1);
	CU_ASSERT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(fmap_find(&m, 14, &i), 1);
	CU_ASSERT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(fmap_find(&m, 15, &i), 0);
	CU_ASSERT_EQUAL(i, 1);
	CU_ASSERT_EQUAL(fmap_find(&m, 24, &i), 1);
	CU_ASSERT_EQUAL(i, 1);
	CU_ASSERT_EQUAL(fmap_find(&m, 25, &i), 0);
	CU_ASSERT_EQUAL(i, 2);
	CU_ASSERT_EQUAL(fmap_end(&m), 25);
	fmap_release(&m);
	CU_ASSERT_EQUAL(m.n, 0);
	CU_ASSERT_PTR_NULL(m.ext);
}

static void test_push_merges_a_continuing_extent_only(void)
{
	struct fmap m;
	struct csvfs_wext e;
	const struct csvfs_wext want[] = {
		ext(0, 100, 8, 0), ext(8, 200, 4, 0), ext(12, 204, 4, UW),
	};
	uint32_t k;

	fmap_init(&m);
	e = ext(0, 100, 4, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(4, 104, 4, 0);		/* continues on the device: merged */
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(8, 200, 4, 0);		/* elsewhere on the device */
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(12, 204, 4, UW);	/* continues, other flags */
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 3));
	/* growing past the first allocation (16 entries) keeps them all */
	for (k = 0; k < 40; k++) {
		e = ext(100 + 2 * k, 1000 + 3 * k, 1, 0);
		CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	}
	CU_ASSERT_EQUAL(m.n, 43);
	CU_ASSERT_EQUAL(fmap_end(&m), 100 + 2 * 39 + 1);
	fmap_release(&m);
}

static void test_insert_splits_the_extent_it_lands_in(void)
{
	struct fmap m;
	struct csvfs_wext e = ext(0, 100, 10, UW);
	const struct csvfs_wext want[] = {
		ext(0, 100, 3, UW), ext(3, 103, 2, 0), ext(5, 105, 5, UW),
	};

	fmap_init(&m);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(3, 103, 2, 0);
	CU_ASSERT_EQUAL(fmap_insert(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 3));
	fmap_release(&m);
}

static void test_insert_trims_the_extents_it_overlaps(void)
{
	struct fmap m;
	struct csvfs_wext e;
	const struct csvfs_wext want[] = {
		ext(0, 100, 2, 0), ext(2, 500, 10, 0), ext(12, 212, 3, 0),
	};

	fmap_init(&m);
	e = ext(0, 100, 5, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(5, 305, 3, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(10, 210, 5, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	/* the newer truth over [2, 12): the middle one goes entirely */
	e = ext(2, 500, 10, 0);
	CU_ASSERT_EQUAL(fmap_insert(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 3));
	fmap_release(&m);
}

static void test_insert_into_a_hole_and_merge_with_neighbours(void)
{
	struct fmap m;
	struct csvfs_wext e;
	const struct csvfs_wext want[] = { ext(0, 100, 12, 0) };

	fmap_init(&m);
	e = ext(0, 100, 4, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(8, 108, 4, 0);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(4, 104, 4, 0);		/* fills the hole, continues both */
	CU_ASSERT_EQUAL(fmap_insert(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 1));
	e = ext(50, 900, 0, 0);		/* empty: nothing changes */
	CU_ASSERT_EQUAL(fmap_insert(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 1));
	fmap_release(&m);
}

static void test_mark_written_clears_unwritten_and_queues_those_blocks(void)
{
	struct fmap m;
	struct fmap_ranges pend;
	struct csvfs_wext e;
	const struct csvfs_wext want[] = {
		ext(0, 100, 2, UW), ext(2, 102, 3, 0), ext(10, 200, 4, 0),
		ext(20, 300, 2, 0), ext(22, 302, 3, UW),
	};

	fmap_init(&m);
	fmap_ranges_init(&pend);
	e = ext(0, 100, 5, UW);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(10, 200, 4, 0);		/* already written */
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	e = ext(20, 300, 5, UW);
	CU_ASSERT_EQUAL(fmap_push(&m, &e), 0);
	/* [2, 22): a hole at 5..10 and 14..20, a written extent between */
	CU_ASSERT_EQUAL(fmap_mark_written(&m, 2, 22, &pend), 0);
	CU_ASSERT(map_is(&m, want, 5));
	CU_ASSERT_EQUAL_FATAL(pend.n, 2);
	CU_ASSERT_EQUAL(pend.r[0].lblk, 2);
	CU_ASSERT_EQUAL(pend.r[0].count, 3);
	CU_ASSERT_EQUAL(pend.r[1].lblk, 20);
	CU_ASSERT_EQUAL(pend.r[1].count, 2);
	/* again: nothing left to clear, nothing queued */
	CU_ASSERT_EQUAL(fmap_mark_written(&m, 2, 22, &pend), 0);
	CU_ASSERT_EQUAL(pend.n, 2);
	CU_ASSERT(map_is(&m, want, 5));
	/* past the map's end: nothing */
	CU_ASSERT_EQUAL(fmap_mark_written(&m, 100, 200, &pend), 0);
	CU_ASSERT_EQUAL(pend.n, 2);
	fmap_ranges_release(&pend);
	fmap_release(&m);
}

static void test_ranges_merge_when_they_touch_or_overlap(void)
{
	struct fmap_ranges s;

	fmap_ranges_init(&s);
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 10, 5), 0);	/* [10,15) */
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 30, 5), 0);	/* [30,35) */
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 0, 2), 0);	/* [0,2) first */
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(s.r[0].lblk, 0);
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 15, 0), 0);	/* empty */
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 15, 3), 0);	/* touches [10,15) */
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_EQUAL(s.r[1].lblk, 10);
	CU_ASSERT_EQUAL(s.r[1].count, 8);
	CU_ASSERT_EQUAL(fmap_ranges_add(&s, 1, 40), 0);	/* swallows all */
	CU_ASSERT_EQUAL_FATAL(s.n, 1);
	CU_ASSERT_EQUAL(s.r[0].lblk, 0);
	CU_ASSERT_EQUAL(s.r[0].count, 41);
	fmap_ranges_release(&s);
	CU_ASSERT_EQUAL(s.n, 0);
}

static void test_ranges_stay_sorted_past_the_first_allocation(void)
{
	struct fmap_ranges s;
	uint32_t k;

	fmap_ranges_init(&s);
	for (k = 40; k > 0; k--)
		CU_ASSERT_EQUAL(fmap_ranges_add(&s, 3 * k, 1), 0);
	CU_ASSERT_EQUAL_FATAL(s.n, 40);
	for (k = 1; k < s.n; k++)
		CU_ASSERT(s.r[k - 1].lblk + s.r[k - 1].count < s.r[k].lblk);
	fmap_ranges_release(&s);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fmap", NULL, NULL);
	CU_add_test(s, "find says where a block is or would go",
		    test_find_says_where_a_block_is_or_would_go);
	CU_add_test(s, "push merges a continuing extent only",
		    test_push_merges_a_continuing_extent_only);
	CU_add_test(s, "insert splits the extent it lands in",
		    test_insert_splits_the_extent_it_lands_in);
	CU_add_test(s, "insert trims the extents it overlaps",
		    test_insert_trims_the_extents_it_overlaps);
	CU_add_test(s, "insert into a hole merges with its neighbours",
		    test_insert_into_a_hole_and_merge_with_neighbours);
	CU_add_test(s, "mark written clears UNWRITTEN and queues those blocks",
		    test_mark_written_clears_unwritten_and_queues_those_blocks);
	CU_add_test(s, "ranges merge when they touch or overlap",
		    test_ranges_merge_when_they_touch_or_overlap);
	CU_add_test(s, "ranges stay sorted past the first allocation",
		    test_ranges_stay_sorted_past_the_first_allocation);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * extent_test: meta/extent.c. In memory: a run that continues its
 * neighbour on the device merges, an overlapping one is -EEXIST, a bad one
 * -EINVAL; removing a range splits the runs at its edges and hands back
 * exactly the physical runs taken out; marking written clears UNWRITTEN
 * and AHEAD only inside the range and merges what became alike. On a
 * formatted image: a small map is stored inline in the inode, a large one
 * in extent blocks (CSVFS_IFL_EXTBLOCKS), and both load back equal.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/ondisk.h"
#include "meta/extent.h"
#include "meta/format.h"
#include "meta/inode.h"
#include "tests/unit/testvol.h"

#define UW	CSVFS_EXT_UNWRITTEN

static struct csvfs_extent ex(uint64_t l, uint64_t p, uint32_t n, uint32_t f)
{
	struct csvfs_extent e = { l, p, n, f };

	return e;
}

static int map_is(const struct extmap *m, const struct csvfs_extent *w,
		  size_t n)
{
	size_t i;

	if (m->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (memcmp(&m->e[i], &w[i], sizeof(w[i])))
			return 0;
	return 1;
}

static void test_insert_merges_continuing_runs_and_refuses_overlaps(void)
{
	struct extmap m = { 0 };
	struct csvfs_extent e;
	size_t after;
	const struct csvfs_extent want[] = { ex(0, 100, 8, 0), ex(8, 300, 2, 0) };

	e = ex(4, 104, 4, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	e = ex(0, 100, 4, 0);		/* continues into it: merged */
	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	e = ex(8, 300, 2, 0);		/* elsewhere on the device */
	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	CU_ASSERT(map_is(&m, want, 2));
	e = ex(7, 500, 1, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), -EEXIST);
	e = ex(9, 500, 3, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), -EEXIST);
	e = ex(20, 500, 0, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), -EINVAL);
	e = ex(20, 500, 1, 0x80);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), -EINVAL);
	e = ex(UINT64_MAX, 500, 2, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), -EINVAL);
	CU_ASSERT(map_is(&m, want, 2));
	CU_ASSERT_EQUAL(ext_find(&m, 5, &after), 0);
	CU_ASSERT_EQUAL(ext_find(&m, 10, &after), -1);
	CU_ASSERT_EQUAL(after, 2);
	CU_ASSERT_EQUAL(ext_blocks(&m), 10);
	ext_free(&m);
}

static void test_remove_splits_and_returns_the_runs_taken(void)
{
	struct extmap m = { 0 };
	struct csvfs_extent e;
	struct ext_run *runs = NULL;
	size_t nruns = 0;
	const struct csvfs_extent want[] = {
		ex(0, 100, 3, 0), ex(15, 205, 5, 0),
	};

	e = ex(0, 100, 10, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	e = ex(10, 200, 10, 0);
	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	CU_ASSERT_EQUAL(ext_remove(&m, 3, 12, &runs, &nruns), 0);
	CU_ASSERT(map_is(&m, want, 2));
	CU_ASSERT_EQUAL_FATAL(nruns, 2);
	CU_ASSERT_EQUAL(runs[0].pblk, 103);
	CU_ASSERT_EQUAL(runs[0].len, 7);
	CU_ASSERT_EQUAL(runs[1].pblk, 200);
	CU_ASSERT_EQUAL(runs[1].len, 5);
	/* to the end of the file, count running past 2^64 */
	CU_ASSERT_EQUAL(ext_remove(&m, 16, UINT64_MAX, &runs, &nruns), 0);
	CU_ASSERT_EQUAL_FATAL(nruns, 3);
	CU_ASSERT_EQUAL(runs[2].pblk, 206);
	CU_ASSERT_EQUAL(runs[2].len, 4);
	CU_ASSERT_EQUAL(ext_blocks(&m), 4);
	CU_ASSERT_EQUAL(ext_remove(&m, 0, 0, &runs, &nruns), 0);
	CU_ASSERT_EQUAL(nruns, 3);
	free(runs);
	ext_free(&m);
}

static void test_mark_written_clears_flags_inside_the_range_only(void)
{
	struct extmap m = { 0 };
	struct csvfs_extent e = ex(0, 100, 10, UW | CSVFS_EXT_AHEAD);
	const struct csvfs_extent want[] = {
		ex(0, 100, 2, UW | CSVFS_EXT_AHEAD), ex(2, 102, 5, 0),
		ex(7, 107, 3, UW | CSVFS_EXT_AHEAD),
	};
	const struct csvfs_extent all[] = { ex(0, 100, 10, 0) };

	CU_ASSERT_EQUAL(ext_insert(&m, &e), 0);
	CU_ASSERT_EQUAL(ext_mark_written(&m, 2, 5), 0);
	CU_ASSERT(map_is(&m, want, 3));
	/* the rest written: one run again */
	CU_ASSERT_EQUAL(ext_mark_written(&m, 0, 2), 0);
	CU_ASSERT_EQUAL(ext_mark_written(&m, 7, 3), 0);
	CU_ASSERT(map_is(&m, all, 1));
	ext_free(&m);
}

/* ---- stored on a volume ------------------------------------------------ */

static int suite_init(void)
{
	struct fmt_opts o = { 0 };
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/extent_test.%d.img", (int)getpid());
	fd = open(img, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 1ll << 30) < 0)
		return -1;
	close(fd);
	rc = dev_open(img, 0, &dev);
	if (!rc)
		rc = fmt_volume(dev, &o, NULL);
	if (!rc)
		rc = fmt_read_super(dev, &sb);
	if (!rc)
		rc = open_volume();
	return rc ? -1 : 0;
}

static int suite_clean(void)
{
	if (jr)
		close_volume();
	dev_close(dev);
	unlink(img);
	return 0;
}

/* Stores n one-block runs (never continuing each other) and loads them. */
static void store_and_load(size_t n, int want_blocks)
{
	struct extmap m = { 0 }, back = { 0 };
	struct csvfs_inode in, got;
	struct csvfs_extent e;
	struct mbuf *mb;
	struct jop op;
	uint64_t ino;
	size_t i;

	for (i = 0; i < n; i++) {
		e = ex(2 * i, 1000 + 3 * i, 1, i % 2 ? UW : 0);
		CU_ASSERT_FATAL(ext_insert(&m, &e) == 0);
	}
	jop_begin(jr, &op);
	CU_ASSERT_FATAL(ino_alloc(&op, al, &ino, &in, &mb) == 0);
	in.mode = S_IFREG | 0644;
	in.nlink = 1;
	CU_ASSERT(ext_store(&op, al, ino, &in, &m) == 0);
	CU_ASSERT(ino_put(&op, mb, &in) == 0);
	jop_end(&op, 0);
	CU_ASSERT_EQUAL(!!(in.flags & CSVFS_IFL_EXTBLOCKS), want_blocks);
	jop_begin(jr, &op);
	CU_ASSERT(ino_get(&op, al, ino, &got, NULL) == 0);
	CU_ASSERT(ext_load(&op, ino, &got, &back) == 0);
	jop_end(&op, 0);
	CU_ASSERT_EQUAL(back.n, n);
	CU_ASSERT(map_is(&back, m.e, m.n));
	ext_free(&back);
	ext_free(&m);
}

static void test_a_small_map_is_stored_inline_and_loads_back(void)
{
	store_and_load(CSVFS_INLINE_EXTENTS, 0);
}

static void test_a_large_map_goes_to_extent_blocks_and_loads_back(void)
{
	store_and_load(5 * CSVFS_INLINE_EXTENTS + 7, 1);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("extent map", NULL, NULL);
	CU_add_test(s, "insert merges continuing runs, refuses overlaps",
		    test_insert_merges_continuing_runs_and_refuses_overlaps);
	CU_add_test(s, "remove splits and returns the runs taken",
		    test_remove_splits_and_returns_the_runs_taken);
	CU_add_test(s, "mark written clears flags inside the range only",
		    test_mark_written_clears_flags_inside_the_range_only);
	s = CU_add_suite("extent store", suite_init, suite_clean);
	CU_add_test(s, "a small map is stored inline and loads back",
		    test_a_small_map_is_stored_inline_and_loads_back);
	CU_add_test(s, "a large map goes to extent blocks and loads back",
		    test_a_large_map_goes_to_extent_blocks_and_loads_back);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

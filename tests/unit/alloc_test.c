/*
 * alloc_test: meta/alloc.c on real, freshly formatted sparse images in /tmp
 * (64 MiB, 1 MiB large blocks), through the journal.
 *
 *   runs       contiguous runs, goal continuation, min/max, reuse
 *   ENOSPC     too large a request, a full volume: nothing changes
 *   frees      double free is -CSVFS_ECORRUPT and is undone
 *   reserve    the last N blocks need reserve_ok; a file's own share
 *   grow       the bitmap grows in two steps; nothing new before step 2
 *   mblks      distinct blocks, a new chunk when full, reuse, test bits
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define IMG_SIZE	(64ull << 20)
#define BIG		(1ull << 40)

#include "tests/unit/testvol.h"

/* ---- fixture ------------------------------------------------------------ */

static int vol_open(void)
{
	struct fmt_opts o;
	int fd, rc;

	fd = open(img, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)IMG_SIZE) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	memset(&o, 0, sizeof(o));
	rc = dev_open(img, 0, &dev);
	if (!rc)
		rc = fmt_volume(dev, &o, NULL);
	if (!rc)
		rc = fmt_read_super(dev, &sb);
	if (!rc)
		rc = open_volume();
	return rc;
}

static void vol_close(void)
{
	if (jr)
		CU_ASSERT_EQUAL(close_volume(), 0);
	if (dev)
		dev_close(dev);
	dev = NULL;
	unlink(img);
}

static uint64_t free_blocks(void)
{
	struct alloc_stats st;

	alloc_get_stats(al, &st);
	return st.free_blocks;
}

/* One allocation in its own operation, committed unless it failed. */
static int alloc1(uint64_t goal, uint64_t min, uint64_t max, int reserve_ok,
		  uint64_t *start, uint64_t *len)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_blocks(al, &op, goal, min, max, reserve_ok, start, len);
	jop_end(&op, rc);
	if (rc) {
		jop_begin(jr, &op);
		CU_ASSERT_EQUAL(alloc_resync(al, &op), 0);
		jop_end(&op, 0);
	}
	return rc;
}

static int free1(uint64_t start, uint64_t len)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_free(al, &op, start, len);
	jop_end(&op, rc);
	if (rc) {
		jop_begin(jr, &op);
		CU_ASSERT_EQUAL(alloc_resync(al, &op), 0);
		jop_end(&op, 0);
	}
	return rc;
}

static int used1(uint64_t b)
{
	struct jop op;
	int used = -1, rc;

	jop_begin(jr, &op);
	rc = alloc_test(al, &op, b, &used);
	jop_end(&op, 0);
	return rc ? rc : used;
}

/* Bitmap of the data area as a string of '0'/'1' (for equality checks). */
static char *bitmap_str(void)
{
	uint64_t b, n = sb.total_blocks - sb.data_start;
	char *s = calloc(n + 1, 1);

	for (b = 0; s && b < n; b++)
		s[b] = (char)('0' + used1(sb.data_start + b));
	return s;
}

/* Allocates everything that is free (reserve_ok); returns the count. */
static uint64_t fill(void)
{
	uint64_t s, l, total = 0;

	while (alloc1(0, 1, BIG, 1, &s, &l) == 0)
		total += l;
	return total;
}

/* ---- tests ------------------------------------------------------------- */

static void test_contiguous(void)
{
	uint64_t f0, s1, l1, s2, l2, b;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	CU_ASSERT(f0 >= 16);
	CU_ASSERT_EQUAL(alloc1(0, 5, 5, 0, &s1, &l1), 0);
	CU_ASSERT_EQUAL(l1, 5);
	CU_ASSERT(s1 >= sb.data_start && s1 + l1 <= sb.total_blocks);
	for (b = s1; b < s1 + l1; b++)
		CU_ASSERT_EQUAL(used1(b), 1);
	CU_ASSERT_EQUAL(free_blocks(), f0 - 5);
	/* goal = end of the first run: continues right after it. */
	CU_ASSERT_EQUAL(alloc1(s1 + l1, 3, 3, 0, &s2, &l2), 0);
	CU_ASSERT_EQUAL(s2, s1 + l1);
	CU_ASSERT_EQUAL(l2, 3);
	CU_ASSERT_EQUAL(free_blocks(), f0 - 8);
	/* max larger than any run but min small: one run, <= max. */
	CU_ASSERT_EQUAL(alloc1(s2 + l2, 1, 4, 0, &s1, &l1), 0);
	CU_ASSERT_EQUAL(s1, s2 + l2);
	CU_ASSERT_EQUAL(l1, 4);
	/* Durable: counts survive a close / replay / open. */
	CU_ASSERT_EQUAL_FATAL(close_volume(), 0);
	CU_ASSERT_EQUAL_FATAL(open_volume(), 0);
	CU_ASSERT_EQUAL(free_blocks(), f0 - 12);
	CU_ASSERT_EQUAL(used1(s1 + 3), 1);
	vol_close();
}

static void test_enospc_changes_nothing(void)
{
	uint64_t f0, s = 77, l = 77;
	char *bm0, *bm1;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	bm0 = bitmap_str();
	CU_ASSERT_EQUAL(alloc1(0, f0 + 1, f0 + 1, 1, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(s, 77);
	CU_ASSERT_EQUAL(l, 77);
	CU_ASSERT_EQUAL(free_blocks(), f0);
	bm1 = bitmap_str();
	CU_ASSERT_FATAL(bm0 && bm1);
	CU_ASSERT_STRING_EQUAL(bm0, bm1);
	free(bm0);
	free(bm1);
	vol_close();
}

static void test_full_volume(void)
{
	uint64_t f0, s, l;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	CU_ASSERT_EQUAL(fill(), f0);
	CU_ASSERT_EQUAL(free_blocks(), 0);
	CU_ASSERT_EQUAL(alloc1(0, 1, 1, 1, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(alloc1(0, 1, 1, 0, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(free_blocks(), 0);
	CU_ASSERT_EQUAL(used1(sb.total_blocks - 1), 1);
	CU_ASSERT_EQUAL(used1(sb.total_blocks), -ERANGE);
	vol_close();
}

static void test_free_reuse(void)
{
	uint64_t f0, s, l, s2, l2, b;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	CU_ASSERT_EQUAL_FATAL(alloc1(0, 4, 4, 0, &s, &l), 0);
	CU_ASSERT_EQUAL(free1(s, 4), 0);
	CU_ASSERT_EQUAL(free_blocks(), f0);
	for (b = s; b < s + 4; b++)
		CU_ASSERT_EQUAL(used1(b), 0);
	CU_ASSERT_EQUAL(alloc1(s, 4, 4, 0, &s2, &l2), 0);
	CU_ASSERT_EQUAL(s2, s);
	CU_ASSERT_EQUAL(l2, 4);
	/* On a full volume, freed blocks are the only ones handed out. */
	fill();
	CU_ASSERT_EQUAL(free1(s + 1, 2), 0);
	CU_ASSERT_EQUAL(free_blocks(), 2);
	CU_ASSERT_EQUAL(alloc1(0, 1, BIG, 0, &s2, &l2), 0);
	CU_ASSERT_EQUAL(s2, s + 1);
	CU_ASSERT_EQUAL(l2, 2);
	CU_ASSERT_EQUAL(free_blocks(), 0);
	vol_close();
}

static void test_double_free(void)
{
	uint64_t f0, s, l;
	char *bm0, *bm1;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	CU_ASSERT_EQUAL_FATAL(alloc1(0, 4, 4, 0, &s, &l), 0);
	CU_ASSERT_EQUAL(free1(s + 1, 1), 0);
	f0 = free_blocks();
	bm0 = bitmap_str();
	/* Already free. */
	CU_ASSERT_EQUAL(free1(s + 1, 1), -CSVFS_ECORRUPT);
	/* Partly free: block s is cleared first, then undone. */
	CU_ASSERT_EQUAL(free1(s, 2), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(used1(s), 1);
	/* Outside the data area. */
	CU_ASSERT_EQUAL(free1(sb.data_start - 1, 1), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(free1(sb.total_blocks - 1, 2), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(free_blocks(), f0);
	bm1 = bitmap_str();
	CU_ASSERT_FATAL(bm0 && bm1);
	CU_ASSERT_STRING_EQUAL(bm0, bm1);
	free(bm0);
	free(bm1);
	vol_close();
}

static void test_min_max(void)
{
	uint64_t x, y, s, l;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	CU_ASSERT_FATAL(sb.total_blocks - sb.data_start >= 30);
	fill();
	/* Two free runs of 8 with used blocks around them. */
	x = sb.data_start + 3;
	y = x + 8 + 3;
	CU_ASSERT_EQUAL_FATAL(free1(x, 8), 0);
	CU_ASSERT_EQUAL_FATAL(free1(y, 8), 0);
	CU_ASSERT_EQUAL(free_blocks(), 16);
	CU_ASSERT_EQUAL(alloc1(0, 9, 16, 1, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(free_blocks(), 16);
	CU_ASSERT_EQUAL(alloc1(0, 4, 16, 1, &s, &l), 0);
	CU_ASSERT_EQUAL(l, 8);
	CU_ASSERT(s == x || s == y);
	CU_ASSERT_EQUAL(free_blocks(), 8);
	/* max below the run: exactly max, starting at the goal. */
	CU_ASSERT_EQUAL(alloc1(s == x ? y : x, 2, 3, 1, &s, &l), 0);
	CU_ASSERT_EQUAL(l, 3);
	CU_ASSERT_EQUAL(free_blocks(), 5);
	vol_close();
}

static void test_reserve(void)
{
	uint64_t f0, s, l;
	struct alloc_stats st;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	alloc_set_reserved(al, 3);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.reserved_blocks, 3);
	CU_ASSERT_EQUAL(alloc1(0, f0 - 2, f0 - 2, 0, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(free_blocks(), f0);
	/* Without reserve_ok: everything but the last 3. */
	CU_ASSERT_EQUAL(alloc1(0, 1, BIG, 0, &s, &l), 0);
	CU_ASSERT_EQUAL(l, f0 - 3);
	CU_ASSERT_EQUAL(free_blocks(), 3);
	CU_ASSERT_EQUAL(alloc1(0, 1, 1, 0, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(free_blocks(), 3);
	/* With reserve_ok: the last 3. */
	CU_ASSERT_EQUAL(alloc1(0, 3, 3, 1, &s, &l), 0);
	CU_ASSERT_EQUAL(l, 3);
	CU_ASSERT_EQUAL(free_blocks(), 0);
	vol_close();
}

static int alloc_own1(uint64_t own, uint64_t min, uint64_t max,
		      uint64_t *start, uint64_t *len)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_blocks_own(al, &op, 0, min, max, own, start, len);
	jop_end(&op, rc);
	if (rc) {
		jop_begin(jr, &op);
		CU_ASSERT_EQUAL(alloc_resync(al, &op), 0);
		jop_end(&op, 0);
	}
	return rc;
}

static void test_reserve_own(void)
{
	uint64_t f0, s, l;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	f0 = free_blocks();
	/* 10 held back: 4 for file A, 6 for others. */
	alloc_set_reserved(al, 10);
	CU_ASSERT_EQUAL(alloc1(0, 1, BIG, 0, &s, &l), 0);
	CU_ASSERT_EQUAL(l, f0 - 10);
	/* A may take its own 4, not one more (the others' 6 stay). */
	CU_ASSERT_EQUAL(alloc_own1(4, 5, 5, &s, &l), -ENOSPC);
	CU_ASSERT_EQUAL(alloc_own1(4, 1, BIG, &s, &l), 0);
	CU_ASSERT_EQUAL(l, 4);
	CU_ASSERT_EQUAL(free_blocks(), 6);
	alloc_set_reserved(al, 6);
	CU_ASSERT_EQUAL(alloc_own1(0, 1, 1, &s, &l), -ENOSPC);
	/* an owner of more than is held back takes what is free */
	CU_ASSERT_EQUAL(alloc_own1(100, 1, BIG, &s, &l), 0);
	CU_ASSERT_EQUAL(l, 6);
	vol_close();
}

static void test_grow_bitmap(void)
{
	uint64_t old, total, f0, s, l, b;
	struct alloc_stats st;
	struct jop op;
	int rc, fd;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	old = sb.total_blocks;
	f0 = free_blocks();
	/* blocks past the end are no blocks */
	for (b = old; b < old + 8; b++) {
		jop_begin(jr, &op);
		CU_ASSERT_EQUAL(alloc_test(al, &op, b, &rc), -ERANGE);
		jop_end(&op, 0);
	}
	CU_ASSERT(alloc_max_blocks(al) >= CSVFS_BITMAP_BITS);
	/* the bitmap region cannot describe more than alloc_max_blocks */
	jop_begin(jr, &op);
	rc = alloc_grow_bitmap(al, &op, alloc_max_blocks(al) + 1);
	jop_end(&op, rc);
	CU_ASSERT_EQUAL(rc, -EFBIG);
	jop_begin(jr, &op);
	rc = alloc_grow_bitmap(al, &op, old);
	jop_end(&op, rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	/* Past one bitmap block: the last block's bits and a new block. */
	total = CSVFS_BITMAP_BITS + 100;
	fd = open(img, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, (off_t)(total << sb.block_shift)), 0);
	close(fd);
	CU_ASSERT_EQUAL(dev_refresh_size(dev), 0);
	jop_begin(jr, &op);
	rc = alloc_grow_bitmap(al, &op, total);
	jop_end(&op, rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	/* step 1 only: still the old size for the allocator */
	CU_ASSERT_EQUAL(free_blocks(), f0);
	CU_ASSERT_EQUAL(alloc1(0, f0 + 1, f0 + 1, 1, &s, &l), -ENOSPC);
	alloc_grow_done(al, total);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.total_blocks, total - sb.data_start);
	CU_ASSERT_EQUAL(st.free_blocks, f0 + total - old);
	/* everything new is free and can be had, nothing past the end */
	CU_ASSERT_EQUAL(alloc1(0, 1, BIG, 1, &s, &l), 0);
	CU_ASSERT_EQUAL(l, f0 + total - old);
	CU_ASSERT_EQUAL(s + l, total);
	CU_ASSERT_EQUAL(alloc1(0, 1, 1, 1, &s, &l), -ENOSPC);
	/* the journal holds a valid new bitmap block past the old length */
	sb.total_blocks = total;
	sb.bitmap_len = 2;
	CU_ASSERT_EQUAL(close_volume(), 0);
	CU_ASSERT_EQUAL(open_volume(), 0);
	CU_ASSERT_EQUAL(free_blocks(), 0);
	for (b = total; b < total + 3; b++)
		CU_ASSERT_EQUAL(used1(b), -ERANGE);
	vol_close();
}

static int mblk1(uint64_t *m)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_mblk(al, &op, m);
	jop_end(&op, rc);
	return rc;
}

static int free_mblk1(uint64_t m)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = alloc_free_mblk(al, &op, m);
	jop_end(&op, rc);
	return rc;
}

static int mused1(uint64_t m)
{
	struct jop op;
	int used = -1, rc;

	jop_begin(jr, &op);
	rc = alloc_mblk_test(al, &op, m, &used);
	jop_end(&op, 0);
	return rc ? rc : used;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_mblks(void)
{
	struct alloc_stats st0, st;
	uint64_t *m, n, i, f0, c0, c1, a, b, x, again, per;
	unsigned dups = 0, unused = 0, found = 0;

	CU_ASSERT_EQUAL_FATAL(vol_open(), 0);
	per = 1ull << (sb.block_shift - CSVFS_MBLK_SHIFT);
	alloc_get_stats(al, &st0);
	CU_ASSERT_EQUAL(st0.chunks, 1);
	CU_ASSERT_EQUAL(st0.mblks_used + st0.mblks_free, per);
	CU_ASSERT(st0.mblks_used >= 2);		/* header + root inode */
	c0 = alloc_chunk_blk(al, 0);
	CU_ASSERT_EQUAL(c0, sb.first_chunk);
	CU_ASSERT_EQUAL(alloc_chunk_blk(al, 1), 0);
	f0 = free_blocks();

	/* Reuse inside one chunk: the freed block is the first free one. */
	CU_ASSERT_EQUAL_FATAL(mblk1(&a), 0);
	CU_ASSERT_EQUAL_FATAL(mblk1(&b), 0);
	CU_ASSERT(a != b);
	CU_ASSERT_EQUAL(mused1(a), 1);
	CU_ASSERT_EQUAL(free_mblk1(a), 0);
	CU_ASSERT_EQUAL(mused1(a), 0);
	CU_ASSERT_EQUAL(free_mblk1(a), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL_FATAL(mblk1(&again), 0);
	CU_ASSERT_EQUAL(again, a);
	CU_ASSERT_EQUAL(free_mblk1(a), 0);
	CU_ASSERT_EQUAL(free_mblk1(b), 0);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.mblks_used, st0.mblks_used);

	/* More than the first chunk holds: a second chunk. */
	n = st0.mblks_free + 5;
	m = calloc(n, sizeof(*m));
	CU_ASSERT_FATAL(m != NULL);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(mblk1(&m[i]), 0);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.chunks, 2);
	CU_ASSERT_EQUAL(st.mblks_used, st0.mblks_used + n + 1);
	CU_ASSERT_EQUAL(st.mblks_used + st.mblks_free, 2 * per);
	CU_ASSERT_EQUAL(free_blocks(), f0 - 1);
	c1 = alloc_chunk_blk(al, 1);
	CU_ASSERT(c1 >= sb.data_start && c1 < sb.total_blocks && c1 != c0);
	CU_ASSERT_EQUAL(used1(c1), 1);
	for (i = 0; i < n; i++) {
		if (mused1(m[i]) != 1)
			unused++;
		if (i >= st0.mblks_free &&
		    (m[i] <= c1 * per || m[i] >= (c1 + 1) * per))
			unused++;	/* the last 5 are in chunk 2 */
	}
	CU_ASSERT_EQUAL(unused, 0);
	qsort(m, n, sizeof(*m), cmp64);
	for (i = 1; i < n; i++)
		if (m[i] == m[i - 1])
			dups++;
	CU_ASSERT_EQUAL(dups, 0);
	/* Chunk headers and non-chunk blocks are not metadata blocks. */
	CU_ASSERT_EQUAL(mused1(c0 * per), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(mused1(c1 * per), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(mused1((sb.total_blocks - 1) * per), -CSVFS_ECORRUPT);
	CU_ASSERT_EQUAL(free_mblk1(c1 * per), -CSVFS_ECORRUPT);

	/* A block freed in chunk 1 is handed out again once chunk 2 fills. */
	x = m[3];
	CU_ASSERT_EQUAL(free_mblk1(x), 0);
	alloc_get_stats(al, &st);
	for (i = st.mblks_free; i > 0; i--) {
		uint64_t y;

		CU_ASSERT_EQUAL_FATAL(mblk1(&y), 0);
		if (y == x)
			found++;
	}
	CU_ASSERT_EQUAL(found, 1);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.chunks, 2);
	CU_ASSERT_EQUAL(st.mblks_free, 0);

	/* The chunk chain and counts survive close / replay / open. */
	CU_ASSERT_EQUAL_FATAL(close_volume(), 0);
	CU_ASSERT_EQUAL_FATAL(open_volume(), 0);
	alloc_get_stats(al, &st);
	CU_ASSERT_EQUAL(st.chunks, 2);
	CU_ASSERT_EQUAL(st.mblks_free, 0);
	CU_ASSERT_EQUAL(alloc_chunk_blk(al, 1), c1);
	CU_ASSERT_EQUAL(mused1(x), 1);
	free(m);
	vol_close();
}

int main(void)
{
	CU_pSuite s;
	int fails;

	snprintf(img, sizeof(img), "/tmp/alloc_test.%d.img", (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("alloc", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "alloc_blocks returns one contiguous run; goal = "
			 "end of a run continues right after it",
			 test_contiguous) ||
	    !CU_add_test(s, "more blocks than free: -ENOSPC, nothing changes",
			 test_enospc_changes_nothing) ||
	    !CU_add_test(s, "a full volume gives -ENOSPC for one block",
			 test_full_volume) ||
	    !CU_add_test(s, "alloc_free then the same blocks are handed out "
			 "again", test_free_reuse) ||
	    !CU_add_test(s, "alloc_free of a free block is -CSVFS_ECORRUPT "
			 "and is undone", test_double_free) ||
	    !CU_add_test(s, "min 4 max 16 with only runs of 8 returns 8",
			 test_min_max) ||
	    !CU_add_test(s, "the last N reserved blocks need reserve_ok",
			 test_reserve) ||
	    !CU_add_test(s, "a file takes its own held-back blocks, never "
			 "the others'", test_reserve_own) ||
	    !CU_add_test(s, "grow: bitmap first, new blocks only after "
			 "alloc_grow_done, -EFBIG past the bitmap region",
			 test_grow_bitmap) ||
	    !CU_add_test(s, "alloc_mblk: distinct blocks, a new chunk when "
			 "full, reuse after alloc_free_mblk, "
			 "alloc_mblk_test", test_mblks)) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

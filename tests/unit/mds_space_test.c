/*
 * mds_space_test: meta/mds/mds_space.c through the metadata client,
 * standalone, on a freshly formatted 1 GiB image (1 MiB blocks):
 * reservation accounting (held back, used, given back on truncate and
 * unlink, journaled across a restart, refused when too large), zeroed
 * preallocation, online grow (and a grow cut after its bitmap
 * transaction), and fsck's check of the held-back sum.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "meta/jrnl.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

#define IMG_SIZE	(1ull << 30)
#define MB		(1ull << 20)

static int format(uint64_t size)
{
	return testimg_mkfs(img, size, NULL);
}

static void resize(uint64_t size)
{
	CU_ASSERT_FATAL(truncate(img, (off_t)size) == 0);
}

static int fsck_n(void)
{
	struct fsck_opts o = { .mode = FSCK_MODE_NO, .force = 1 };
	struct dev *d;
	int rc;

	o.out = stdout;
	if (dev_open(img, DEV_RDONLY, &d))
		return -1;
	rc = fsck_run(d, &o, NULL);
	dev_close(d);
	return rc;
}

static struct mdc_statfs sfs(void)
{
	struct mdc_statfs st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT(mdc_statfs(mdc, &st) == 0);
	/*
	 * STATFS counts 4 KiB units (sub-blocks count exactly); these tests
	 * reason in large blocks, and the free metadata blocks of the one
	 * meta chunk stay below one block.
	 */
	CU_ASSERT(st.bsize == 4096);
	st.blocks /= MB / 4096;
	st.bfree /= MB / 4096;
	st.bavail /= MB / 4096;
	st.reserved /= MB / 4096;
	return st;
}

static uint64_t mkfile(const char *name)
{
	struct csvfs_attr a;

	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, name, S_IFREG | 0644, 0,
				  0, 0, &a) == 0);
	return a.ino;
}

/* Allocates count blocks of ino from lblk (no allocation ahead). */
static int alloc_blocks_of(uint64_t ino, uint64_t lblk, uint64_t count)
{
	struct csvfs_wext ext[64];
	struct csvfs_attr a;
	uint32_t n;

	return mdc_alloc(mdc, ino, lblk, count, 0, &a, ext, 64, &n);
}

/* Allocates block by block until ENOSPC; returns how many it got. */
static uint64_t fill(uint64_t ino, uint64_t from)
{
	uint64_t n = 0;

	while (alloc_blocks_of(ino, from + n, 1) == 0)
		n++;
	return n;
}

static void test_reserve_accounting(void)
{
	struct mdc_statfs st0, st;
	struct mdc_setattr sa;
	struct csvfs_attr a;
	uint64_t vm, other, got;

	CU_ASSERT_FATAL(format(IMG_SIZE) == 0);
	start();
	vm = mkfile("vm");
	other = mkfile("other");
	st0 = sfs();
	CU_ASSERT(st0.reserved == 0);
	/* 100 MiB held back: not available to anybody else */
	CU_ASSERT(mdc_set_reserve(mdc, vm, 100 * MB - 5, &a) == 0);
	CU_ASSERT(a.reserve_bytes == 100 * MB);
	st = sfs();
	CU_ASSERT(st.reserved == 100);
	CU_ASSERT(st.bavail == st0.bavail - 100);
	CU_ASSERT(st.bfree == st0.bfree);
	/* the file's own blocks come out of its reservation */
	CU_ASSERT(alloc_blocks_of(vm, 0, 30) == 0);
	st = sfs();
	CU_ASSERT(st.reserved == 70);
	CU_ASSERT(st.bavail == st0.bavail - 100);
	/* another file fills the volume: the 70 stay */
	got = fill(other, 0);
	CU_ASSERT(got == st0.bavail - 100);
	st = sfs();
	CU_ASSERT(st.bavail == 0 && st.bfree == 70 && st.reserved == 70);
	/* a new reservation cannot be had now */
	CU_ASSERT(mdc_set_reserve(mdc, mkfile("third"), MB, &a) == -ENOSPC);
	/* the reserved file writes up to its reservation, not beyond */
	CU_ASSERT(fill(vm, 30) == 70);
	st = sfs();
	CU_ASSERT(st.bfree == 0 && st.reserved == 0);
	/* journaled: the same after a restart (recount agrees) */
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	start();
	st = sfs();
	CU_ASSERT(st.reserved == 0 && st.bfree == 0);
	/* truncating the reserved file holds its space back again */
	memset(&sa, 0, sizeof(sa));
	sa.valid = CSVFS_SA_SIZE;
	sa.size = 100 * MB;
	CU_ASSERT(mdc_setattr(mdc, vm, &sa, &a) == 0);
	sa.size = 0;
	CU_ASSERT(mdc_setattr(mdc, vm, &sa, &a) == 0);
	st = sfs();
	CU_ASSERT(st.reserved == 100);
	CU_ASSERT(st.bfree == 100 && st.bavail == 0);
	CU_ASSERT(alloc_blocks_of(other, got, 1) == -ENOSPC);
	/* shrinking the reservation gives the difference to everybody */
	CU_ASSERT(mdc_set_reserve(mdc, vm, 40 * MB, &a) == 0);
	st = sfs();
	CU_ASSERT(st.reserved == 40 && st.bavail == 60);
	/* unlink: nothing held back any more */
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "vm") == 0);
	st = sfs();
	CU_ASSERT(st.reserved == 0 && st.bavail == 100);
	/* not a regular file */
	CU_ASSERT(mdc_set_reserve(mdc, vi.root_ino, MB, &a) == -EISDIR);
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	unlink(img);
}

static void test_prealloc_zero(void)
{
	struct csvfs_wext ext[64];
	struct mdc_setattr sa;
	struct mdc_statfs st0, st;
	struct csvfs_attr a;
	uint64_t ino;
	uint32_t n, i;

	CU_ASSERT_FATAL(format(IMG_SIZE) == 0);
	start();
	ino = mkfile("thick");
	memset(&sa, 0, sizeof(sa));
	sa.valid = CSVFS_SA_SIZE;
	sa.size = 5 * MB + 7;
	CU_ASSERT(mdc_setattr(mdc, ino, &sa, &a) == 0);
	/* one unwritten block from fallocate first: it becomes written */
	CU_ASSERT(mdc_fallocate(mdc, ino, CSVFS_FA_KEEP_SIZE, 2 * MB, MB,
				&a) == 0);
	st0 = sfs();
	CU_ASSERT(mdc_prealloc(mdc, ino, 0, &a) == 0);
	CU_ASSERT(a.alloc_bytes == 6 * MB && a.size == 5 * MB + 7);
	CU_ASSERT(mdc_get_extents(mdc, ino, 0, 0, ext, 64, &n) == 0);
	for (i = 0; i < n; i++)
		CU_ASSERT(!(ext[i].flags & CSVFS_EXT_UNWRITTEN));
	st = sfs();
	CU_ASSERT(st.bfree == st0.bfree - 5);
	/* a size extends the file */
	CU_ASSERT(mdc_prealloc(mdc, ino, 8 * MB, &a) == 0);
	CU_ASSERT(a.size == 8 * MB && a.alloc_bytes == 8 * MB);
	CU_ASSERT(mdc_prealloc(mdc, vi.root_ino, 0, &a) == -EISDIR);
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	unlink(img);
}

static void test_grow(void)
{
	struct mdc_statfs st0, st;
	uint64_t old, new, ino;

	CU_ASSERT_FATAL(format(IMG_SIZE) == 0);
	start();
	st0 = sfs();
	/* nothing to do while the device has not grown */
	CU_ASSERT(mdc_grow(mdc, &old, &new) == 0);
	CU_ASSERT(old == new && new == IMG_SIZE / MB);
	resize(3 * IMG_SIZE);
	CU_ASSERT(mdc_grow(mdc, &old, &new) == 0);
	CU_ASSERT(old == IMG_SIZE / MB && new == 3 * IMG_SIZE / MB);
	st = sfs();
	CU_ASSERT(st.blocks == st0.blocks + 2048);
	CU_ASSERT(st.bfree == st0.bfree + 2048);
	/* the new space can be used, up to its end */
	ino = mkfile("big");
	CU_ASSERT(fill(ino, 0) == st.bavail);
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	start();
	st = sfs();
	CU_ASSERT(st.blocks == st0.blocks + 2048 && st.bfree == 0);
	/* past what the bitmap region can describe: refused, unchanged */
	resize(9ull << 40);
	CU_ASSERT(mdc_grow(mdc, &old, &new) == -EFBIG);
	st = sfs();
	CU_ASSERT(st.blocks == st0.blocks + 2048);
	stop();
	resize(3 * IMG_SIZE);
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	unlink(img);
}

/*
 * A grow cut after its bitmap transaction (before the superblock): the
 * volume is consistent at the old size, fsck -n is clean, and the next
 * grow finishes.
 */
static void test_grow_interrupted(void)
{
	struct csvfs_super sb;
	struct jrnl *j;
	struct alloc *a;
	struct jop op;
	uint64_t ntx, old, new;
	int rc;

	CU_ASSERT_FATAL(format(IMG_SIZE) == 0);
	resize(2 * IMG_SIZE);
	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(fmt_read_super(dev, &sb) == 0);
	CU_ASSERT_FATAL(jrnl_replay(dev, &sb, &ntx) == 0);
	CU_ASSERT_FATAL(jrnl_open(dev, &sb, JRNL_NO_THREAD, &j) == 0);
	jop_begin(j, &op);
	rc = alloc_load(&op, &sb, &a);
	if (!rc)
		rc = alloc_grow_bitmap(a, &op, 2 * IMG_SIZE / MB);
	jop_end(&op, rc);
	CU_ASSERT(rc == 0);
	CU_ASSERT(jrnl_commit(j) == 0);
	alloc_release(a);
	CU_ASSERT(jrnl_close(j) == 0);
	dev_close(dev);
	dev = NULL;
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	start();
	CU_ASSERT(sfs().blocks == IMG_SIZE / MB - 1 - sb.data_start + 1);
	CU_ASSERT(mdc_grow(mdc, &old, &new) == 0);
	CU_ASSERT(old == IMG_SIZE / MB && new == 2 * IMG_SIZE / MB);
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);

	/* cut between the primary and the backup superblock */
	resize(3 * IMG_SIZE);
	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(fmt_read_super(dev, &sb) == 0);
	CU_ASSERT_FATAL(jrnl_open(dev, &sb, JRNL_NO_THREAD, &j) == 0);
	jop_begin(j, &op);
	rc = alloc_load(&op, &sb, &a);
	if (!rc)
		rc = alloc_grow_bitmap(a, &op, 3 * IMG_SIZE / MB);
	jop_end(&op, rc);
	CU_ASSERT(rc == 0);
	CU_ASSERT(jrnl_commit(j) == 0);
	alloc_release(a);
	CU_ASSERT(jrnl_close(j) == 0);
	sb.total_blocks = 3 * IMG_SIZE / MB;
	CU_ASSERT(fmt_write_super(dev, &sb, 0) == 0);
	dev_close(dev);
	dev = NULL;
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	start();
	CU_ASSERT(sfs().blocks == 3 * IMG_SIZE / MB - sb.data_start);
	stop();
	/* the start rewrote the backup */
	CU_ASSERT_FATAL(dev_open(img, DEV_RDONLY, &dev) == 0);
	CU_ASSERT(fmt_read_backup(dev, &sb) == 0);
	CU_ASSERT(sb.total_blocks == 3 * IMG_SIZE / MB);
	dev_close(dev);
	dev = NULL;
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	unlink(img);
}

/* fsck: a wrong held-back sum in the state block is found and set. */
static void test_fsck_reserved_sum(void)
{
	struct fsck_opts o = { .mode = FSCK_MODE_YES, .force = 1 };
	struct csvfs_vstate vs;
	struct csvfs_attr a;
	uint8_t *raw;
	struct dev *d;
	uint64_t ino;

	CU_ASSERT_FATAL(format(IMG_SIZE) == 0);
	start();
	ino = mkfile("vm");
	CU_ASSERT(mdc_set_reserve(mdc, ino, 10 * MB, &a) == 0);
	CU_ASSERT(alloc_blocks_of(ino, 0, 3) == 0);
	stop();
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	/* the state block says 2 where the file holds back 7 */
	raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	CU_ASSERT_FATAL(raw != NULL);
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT(dev_pread(d, raw, CSVFS_MBLK_SIZE,
			    CSVFS_STATE_MBLK * CSVFS_MBLK_SIZE) == 0);
	od_vstate_decode(raw, &vs);
	CU_ASSERT(vs.reserved_blocks == 7);
	vs.reserved_blocks = 2;
	od_vstate_encode(&vs, raw);
	od_seal(raw);
	CU_ASSERT(dev_pwrite(d, raw, CSVFS_MBLK_SIZE,
			     CSVFS_STATE_MBLK * CSVFS_MBLK_SIZE) == 0);
	dev_close(d);
	CU_ASSERT(fsck_n() == FSCK_EXIT_UNFIXED);
	o.out = stdout;
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT(fsck_run(d, &o, NULL) == FSCK_EXIT_FIXED);
	CU_ASSERT(dev_pread(d, raw, CSVFS_MBLK_SIZE,
			    CSVFS_STATE_MBLK * CSVFS_MBLK_SIZE) == 0);
	od_vstate_decode(raw, &vs);
	CU_ASSERT(vs.reserved_blocks == 7);
	dev_close(d);
	free(raw);
	CU_ASSERT(fsck_n() == FSCK_EXIT_CLEAN);
	unlink(img);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	snprintf(img, sizeof(img), "/tmp/mds_space_test.%d.img",
		 (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("mds_space", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "reservations: held back, used by their file "
			 "only, given back on truncate/unlink, journaled, "
			 "ENOSPC when too large", test_reserve_accounting) ||
	    !CU_add_test(s, "prealloc: written blocks, extends the file",
			 test_prealloc_zero) ||
	    !CU_add_test(s, "grow: new blocks usable and kept; -EFBIG past "
			 "the bitmap region", test_grow) ||
	    !CU_add_test(s, "grow cut after the bitmap: old size, fsck "
			 "clean, the next grow finishes; cut between the "
			 "superblocks: new size, backup rewritten",
			 test_grow_interrupted) ||
	    !CU_add_test(s, "fsck finds and sets a wrong held-back sum",
			 test_fsck_reserved_sum)) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	unlink(img);
	return fails ? 1 : 0;
}

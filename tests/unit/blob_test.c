/*
 * blob_test: what an inode keeps in blob chains (format 1.2, meta/blob.h)
 * through the coordinator as a node sees it: symlink targets up to 4,095
 * bytes (longer than the inode body), xattr values up to 64 KiB and many
 * of them, the size probes of getxattr/listxattr, and every block of a
 * chain given back on removexattr, on a shrink back into the inode, on
 * unlink, on the close of an unlinked open file; fsck finds the volume
 * clean with chains in use, and finds a damaged chain.
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
#include "csvfs/proto.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

static int suite_init(void)
{
	struct fmt_opts fo = { 0 };
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/blob_test.XXXXXX");
	fd = mkstemp(img);
	if (fd < 0 || ftruncate(fd, 1ull << 30))
		return -1;
	close(fd);
	if (dev_open(img, 0, &dev))
		return -1;
	rc = fmt_volume(dev, &fo, NULL);
	dev_close(dev);
	return rc;
}

static int suite_clean(void)
{
	unlink(img);
	return 0;
}

static uint64_t free_inodes(void)
{
	struct mdc_statfs st;

	CU_ASSERT_FATAL(mdc_statfs(mdc, &st) == 0);
	return st.ffree;
}

/* fsck -n of img (unmounted); returns its exit code, output in *out. */
static int fsck_n(char **out)
{
	struct fsck_opts o = { .mode = FSCK_MODE_NO, .force = 1 };
	size_t len = 0;
	struct dev *d;
	int rc;

	*out = NULL;
	o.out = open_memstream(out, &len);
	if (!o.out || dev_open(img, DEV_RDONLY, &d))
		return -1;
	rc = fsck_run(d, &o, NULL);
	dev_close(d);
	fclose(o.out);
	return rc;
}

static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n + 1);
	size_t i;

	for (i = 0; p && i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
	if (p)
		p[n] = '\0';
	return p;
}

/* Targets at every size that matters: inline, just past it, the max. */
static void test_symlink_lengths(void)
{
	static const size_t len[] = { 1, 2815, 2816, 4000, 4001, 4095 };
	char name[32], *t, got[CSVFS_SYMLINK_MAX + 2];
	struct csvfs_attr a;
	uint64_t f0;
	size_t i;

	start();
	f0 = free_inodes();
	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		t = pattern(len[i], (unsigned)i);
		snprintf(name, sizeof(name), "l%zu", len[i]);
		CU_ASSERT_FATAL(mdc_symlink(mdc, vi.root_ino, name, t, 0, 0,
					    &a) == 0);
		CU_ASSERT(a.size == len[i]);
		memset(got, 0, sizeof(got));
		CU_ASSERT(mdc_readlink(mdc, a.ino, got, sizeof(got)) == 0);
		CU_ASSERT(strlen(got) == len[i] && !strcmp(got, t));
		free(t);
	}
	t = pattern(4096, 9);
	CU_ASSERT(mdc_symlink(mdc, vi.root_ino, "l4096", t, 0, 0, &a) ==
		  -ENAMETOOLONG);
	free(t);
	stop();
	/* read back after a remount (from the device) */
	start();
	t = pattern(4095, 5);
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, "l4095", &a) == 0);
	CU_ASSERT(mdc_readlink(mdc, a.ino, got, sizeof(got)) == 0);
	CU_ASSERT(!strcmp(got, t));
	free(t);
	stop();
	{
		char *out;

		CU_ASSERT(fsck_n(&out) == FSCK_EXIT_CLEAN);
		if (out && !strstr(out, "clean"))
			printf("%s", out);
		free(out);
	}
	start();
	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		snprintf(name, sizeof(name), "l%zu", len[i]);
		CU_ASSERT(mdc_unlink(mdc, vi.root_ino, name) == 0);
	}
	/* every blob block came back */
	CU_ASSERT(free_inodes() == f0);
	stop();
}

/* Values up to 64 KiB, size probes, and the blocks coming back. */
static void test_xattr_large_values(void)
{
	char *v = pattern(CSVFS_XATTR_VALUE_MAX + 1, 3), *got, list[256];
	struct csvfs_attr a;
	uint64_t f0, f1;
	char *out;

	got = malloc(CSVFS_XATTR_VALUE_MAX);
	CU_ASSERT_FATAL(v && got);
	start();
	f0 = free_inodes();
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "x", S_IFREG | 0644, 0, 0,
				  0, &a) == 0);
	f1 = free_inodes();
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.small", "s", 1, 0) == 0);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.big", v,
			       CSVFS_XATTR_VALUE_MAX, 0) == 0);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.big2", v + 1, 20000, 0) ==
		  0);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.toobig", v,
			       CSVFS_XATTR_VALUE_MAX + 1, 0) == -E2BIG);
	/* the size probe, then the value */
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big", NULL, 0) ==
		  CSVFS_XATTR_VALUE_MAX);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big", got, 100) == -ERANGE);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big", got,
			       CSVFS_XATTR_VALUE_MAX) == CSVFS_XATTR_VALUE_MAX);
	CU_ASSERT(memcmp(got, v, CSVFS_XATTR_VALUE_MAX) == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big2", got,
			       CSVFS_XATTR_VALUE_MAX) == 20000);
	CU_ASSERT(memcmp(got, v + 1, 20000) == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.small", got, 10) == 1);
	CU_ASSERT(mdc_listxattr(mdc, a.ino, NULL, 0) == 30);
	CU_ASSERT(mdc_listxattr(mdc, a.ino, list, 10) == -ERANGE);
	CU_ASSERT(mdc_listxattr(mdc, a.ino, list, sizeof(list)) == 30);
	CU_ASSERT(memcmp(list, "user.small\0user.big\0user.big2\0", 30) ==
		  0);
	CU_ASSERT(free_inodes() < f1);
	stop();
	CU_ASSERT(fsck_n(&out) == FSCK_EXIT_CLEAN);
	free(out);
	start();
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big", got,
			       CSVFS_XATTR_VALUE_MAX) == CSVFS_XATTR_VALUE_MAX);
	CU_ASSERT(memcmp(got, v, CSVFS_XATTR_VALUE_MAX) == 0);
	/* back into the inode: the chain goes */
	CU_ASSERT(mdc_removexattr(mdc, a.ino, "user.big") == 0);
	CU_ASSERT(mdc_removexattr(mdc, a.ino, "user.big2") == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.big", got, 10) == -ENODATA);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.small", got, 10) == 1);
	CU_ASSERT(free_inodes() == f1);
	/* and with unlink */
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.big", v, 50000, 0) == 0);
	CU_ASSERT(free_inodes() < f1);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "x") == 0);
	CU_ASSERT(free_inodes() == f0);
	stop();
	free(v);
	free(got);
}

/* Many records: past one value, up to the total; an open unlinked file. */
static void test_xattr_total_and_unlinked_open(void)
{
	char *v = pattern(60000, 1), name[32];
	struct csvfs_attr a;
	uint64_t f0;
	int i, rc = 0;

	start();
	f0 = free_inodes();
	CU_ASSERT_FATAL(mdc_create(mdc, vi.root_ino, "t", S_IFREG | 0644, 0,
				   0, CSVFS_OPEN_WRITE, &a) == 0);
	for (i = 0; i < 10 && !rc; i++) {
		snprintf(name, sizeof(name), "user.v%d", i);
		rc = mdc_setxattr(mdc, a.ino, name, v, 60000, 0);
	}
	/* 4 x 60000 fit in 256 KiB, the 5th does not */
	CU_ASSERT(i == 5 && rc == -ENOSPC);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.v3", NULL, 0) == 60000);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "t") == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.v3", NULL, 0) == 60000);
	CU_ASSERT(mdc_release(mdc, a.ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(free_inodes() == f0);
	stop();
	free(v);
}

/* fsck: a blob block of a long symlink destroyed is found. */
static void test_fsck_finds_broken_chain(void)
{
	char *t = pattern(3000, 2), *out = NULL;
	struct csvfs_attr a;
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct csvfs_inode in;
	uint64_t head;

	start();
	CU_ASSERT_FATAL(mdc_symlink(mdc, vi.root_ino, "broken", t, 0, 0,
				    &a) == 0);
	stop();
	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(dev_pread(dev, raw, CSVFS_MBLK_SIZE,
				  a.ino * CSVFS_MBLK_SIZE) == 0);
	od_inode_decode(raw, &in);
	CU_ASSERT(in.flags & CSVFS_IFL_LONGLINK);
	head = od_get64(in.body);
	memset(raw, 0, CSVFS_MBLK_SIZE);
	CU_ASSERT(dev_pwrite(dev, raw, CSVFS_MBLK_SIZE,
			     head * CSVFS_MBLK_SIZE) == 0);
	dev_close(dev);
	dev = NULL;
	CU_ASSERT(fsck_n(&out) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(out && strstr(out, "target is lost"));
	free(out);
	free(t);
	free(raw);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("blob", suite_init, suite_clean);
	CU_add_test(s, "symlink targets up to 4095 bytes", test_symlink_lengths);
	CU_add_test(s, "xattr values up to 64 KiB", test_xattr_large_values);
	CU_add_test(s, "xattr total limit, unlinked open file",
		    test_xattr_total_and_unlinked_open);
	CU_add_test(s, "fsck finds a broken chain",
		    test_fsck_finds_broken_chain);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * mds_test: the coordinator through the metadata client, standalone: the
 * same encoded requests the FUSE daemon sends, over the in-process
 * transport, on a freshly formatted image file.
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
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/mds.h"
#include "net/mdc.h"

static char img[64];
static struct dev *dev;
static struct mds *mds;
static struct mdc *mdc;
static struct mdc_volinfo vi;

static void start(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	struct mdc_transport t;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	mds_local_transport(mds, &t);
	CU_ASSERT_FATAL(mdc_new(&t, 1, 42, &mdc) == 0);
	CU_ASSERT_FATAL(mdc_hello(mdc, "test", &vi) == 0);
}

static void stop(void)
{
	mdc_free(mdc);
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
}

static int suite_init(void)
{
	struct fmt_opts fo = { 0 };
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/mds_test.XXXXXX");
	fd = mkstemp(img);
	if (fd < 0 || ftruncate(fd, 2ull << 30))
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

static void test_create_lookup_unlink(void)
{
	struct csvfs_attr a, b;

	start();
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "f1", S_IFREG | 0644, 0, 1000,
			    100, &a) == 0);
	CU_ASSERT(a.uid == 1000 && a.gid == 100 && a.nlink == 1);
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, "f1", &b) == 0);
	CU_ASSERT(b.ino == a.ino);
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "f1", S_IFREG | 0644, 0, 0, 0,
			    &b) == -EEXIST);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "f1") == 0);
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, "f1", &b) == -ENOENT);
	CU_ASSERT(mdc_getattr(mdc, a.ino, &b) == -ESTALE);
	stop();
}

static void test_name_limits(void)
{
	char name[300];
	struct csvfs_attr a;

	start();
	memset(name, 'n', sizeof(name));
	name[255] = '\0';
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, name, S_IFREG | 0600, 0, 0, 0,
			    &a) == 0);
	name[255] = 'n';
	name[256] = '\0';
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, name, S_IFREG | 0600, 0, 0, 0,
			    &a) == -ENAMETOOLONG);
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, name, &a) == -ENAMETOOLONG);
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "a/b", S_IFREG | 0600, 0, 0, 0,
			    &a) == -EINVAL);
	stop();
}

static void test_dirs_and_rename(void)
{
	struct csvfs_attr d1, d2, f, r, x;

	start();
	CU_ASSERT(mdc_getattr(mdc, vi.root_ino, &r) == 0);
	CU_ASSERT(mdc_mkdir(mdc, vi.root_ino, "d1", 0755, 0, 0, &d1) == 0);
	CU_ASSERT(mdc_mkdir(mdc, vi.root_ino, "d2", 02775, 0, 77, &d2) == 0);
	CU_ASSERT(d1.nlink == 2);
	CU_ASSERT(mdc_getattr(mdc, vi.root_ino, &x) == 0);
	CU_ASSERT(x.nlink == r.nlink + 2);
	/* setgid directory: children take its gid, subdirs its bit. */
	CU_ASSERT(mdc_mknod(mdc, d2.ino, "g", S_IFREG | 0644, 0, 5, 6, &f) ==
		  0);
	CU_ASSERT(f.gid == 77);
	CU_ASSERT(mdc_mkdir(mdc, d2.ino, "sub", 0755, 5, 6, &x) == 0);
	CU_ASSERT(x.gid == 77 && (x.mode & S_ISGID));
	CU_ASSERT(mdc_rmdir(mdc, vi.root_ino, "d2") == -ENOTEMPTY);
	/* move a directory: link counts follow. */
	CU_ASSERT(mdc_rename(mdc, d2.ino, "sub", d1.ino, "moved", 0) == 0);
	CU_ASSERT(mdc_getattr(mdc, d1.ino, &x) == 0 && x.nlink == 3);
	CU_ASSERT(mdc_getattr(mdc, d2.ino, &x) == 0 && x.nlink == 2);
	CU_ASSERT(mdc_rename(mdc, vi.root_ino, "d1", d1.ino, "x", 0) ==
		  -EINVAL);
	CU_ASSERT(mdc_rename(mdc, d2.ino, "g", d1.ino, "moved",
			     CSVFS_RENAME_NOREPLACE) == -EEXIST);
	CU_ASSERT(mdc_rename(mdc, d2.ino, "g", d1.ino, "moved", 0) ==
		  -EISDIR);
	CU_ASSERT(mdc_rename(mdc, d2.ino, "g", d1.ino, "moved",
			     CSVFS_RENAME_EXCHANGE) == 0);
	CU_ASSERT(mdc_lookup(mdc, d1.ino, "moved", &x) == 0 &&
		  S_ISREG(x.mode));
	CU_ASSERT(mdc_lookup(mdc, d2.ino, "g", &x) == 0 && S_ISDIR(x.mode));
	CU_ASSERT(mdc_lookup(mdc, x.ino, "..", &r) == 0 && r.ino == d2.ino);
	/* hard links */
	CU_ASSERT(mdc_link(mdc, f.ino, vi.root_ino, "hl", &x) == 0);
	CU_ASSERT(x.nlink == 2);
	CU_ASSERT(mdc_link(mdc, d1.ino, vi.root_ino, "dl", &x) == -EPERM);
	stop();
	/* everything is still there after a restart (journal + in place) */
	start();
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, "hl", &x) == 0 && x.nlink == 2);
	CU_ASSERT(mdc_lookup(mdc, d1.ino, "moved", &x) == 0);
	stop();
}

static void test_inline_and_alloc(void)
{
	struct csvfs_attr a, b;
	struct csvfs_wext ext[64];
	char buf[100];
	uint32_t n;

	start();
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "small", S_IFREG | 0644, 0, 0, 0,
			    &a) == 0);
	CU_ASSERT(a.flags & 0x1);
	CU_ASSERT(mdc_inline_write(mdc, a.ino, 0, "hello", 5, &b) == 0);
	CU_ASSERT(b.size == 5);
	CU_ASSERT(mdc_inline_read(mdc, a.ino, 0, buf, sizeof(buf)) == 5);
	CU_ASSERT(memcmp(buf, "hello", 5) == 0);
	/* too big for inline: converted, one block holds the old bytes */
	CU_ASSERT(mdc_inline_write(mdc, a.ino, 3000, "x", 1, &b) == 0);
	CU_ASSERT(!(b.flags & 0x1));
	CU_ASSERT(mdc_get_extents(mdc, a.ino, 0, 0, ext, 64, &n) == 0);
	CU_ASSERT(n == 1 && ext[0].lblk == 0 && ext[0].len == 1);
	/* sequential allocation ahead */
	CU_ASSERT(mdc_alloc(mdc, a.ino, 1, 1, CSVFS_ALLOC_AHEAD, &b, ext, 64,
			    &n) == 0);
	CU_ASSERT(n >= 1);
	CU_ASSERT(b.alloc_bytes >= 8u << 20);
	CU_ASSERT(mdc_write_done(mdc, a.ino, (2u << 20) + 10, 0, 0, 0, NULL, 0,
				 &b) == 0);
	CU_ASSERT(b.size == (2u << 20) + 10);
	CU_ASSERT(mdc_release(mdc, a.ino, 0) == -EBADF);
	CU_ASSERT(mdc_open(mdc, a.ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(mdc_release(mdc, a.ino, CSVFS_OPEN_WRITE) == 0);
	/* the ahead blocks beyond EOF went back at the last close */
	CU_ASSERT(mdc_getattr(mdc, a.ino, &b) == 0);
	CU_ASSERT(b.alloc_bytes == 3u << 20);
	stop();
}

static void test_xattr(void)
{
	struct csvfs_attr a;
	char v[64], list[256];

	start();
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "x", S_IFREG | 0644, 0, 0, 0,
			    &a) == 0);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.k", "val", 3, 0) == 0);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.k", "v2", 2,
			       CSVFS_XATTR_CREATE) == -EEXIST);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "user.z", "v2", 2,
			       CSVFS_XATTR_REPLACE) == -ENODATA);
	CU_ASSERT(mdc_setxattr(mdc, a.ino, "security.k", "v", 1, 0) ==
		  -EOPNOTSUPP);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.k", v, sizeof(v)) == 3);
	CU_ASSERT(memcmp(v, "val", 3) == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.k", NULL, 0) == 3);
	CU_ASSERT(mdc_listxattr(mdc, a.ino, list, sizeof(list)) == 7);
	CU_ASSERT(mdc_removexattr(mdc, a.ino, "user.k") == 0);
	CU_ASSERT(mdc_getxattr(mdc, a.ino, "user.k", v, sizeof(v)) ==
		  -ENODATA);
	stop();
}

static void test_enospc(void)
{
	struct csvfs_attr a, b;
	struct csvfs_wext ext[64];
	struct mdc_statfs st;
	uint32_t n;

	start();
	CU_ASSERT(mdc_statfs(mdc, &st) == 0);
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "big", S_IFREG | 0644, 0, 0, 0,
			    &a) == 0);
	CU_ASSERT(mdc_alloc(mdc, a.ino, 0, st.bfree + 1, 0, &b, ext, 64, &n) ==
		  -ENOSPC);
	CU_ASSERT(mdc_alloc(mdc, a.ino, 0, st.bfree, 0, &b, ext, 64, &n) == 0);
	CU_ASSERT(mdc_alloc(mdc, a.ino, st.bfree, 1, 0, &b, ext, 64, &n) ==
		  -ENOSPC);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "big") == 0);
	CU_ASSERT(mdc_statfs(mdc, &st) == 0);
	CU_ASSERT(mdc_mknod(mdc, vi.root_ino, "after", S_IFREG | 0644, 0, 0, 0,
			    &a) == 0);
	CU_ASSERT(mdc_alloc(mdc, a.ino, 0, 4, 0, &b, ext, 64, &n) == 0);
	stop();
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("mds", suite_init, suite_clean);
	CU_add_test(s, "create, lookup, unlink", test_create_lookup_unlink);
	CU_add_test(s, "name length limits", test_name_limits);
	CU_add_test(s, "directories, setgid, rename, links",
		    test_dirs_and_rename);
	CU_add_test(s, "inline data and allocation ahead",
		    test_inline_and_alloc);
	CU_add_test(s, "xattrs", test_xattr);
	CU_add_test(s, "full volume", test_enospc);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * inode_test: meta/inode.c on a formatted image below the coordinator.
 * An allocated inode reads back what was put; a freed one is -ESTALE (its
 * block left with mode 0 for stale handles); a block that is no inode is
 * -ESTALE. The xattr area: set/get/list/remove with the exact codes of
 * CREATE/REPLACE, a short buffer (-ERANGE), a full area (-ENOSPC) and a
 * bad name (-ERANGE). ino_dtype names every file type.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "meta/format.h"
#include "meta/inode.h"
#include "meta/ondisk.h"
#include "tests/unit/testvol.h"

static int suite_init(void)
{
	struct fmt_opts o = { 0 };
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/inode_test.%d.img", (int)getpid());
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

static void test_an_allocated_inode_reads_back_what_was_put(void)
{
	struct csvfs_inode in, out;
	struct mbuf *mb;
	struct jop op;
	uint64_t ino;

	jop_begin(jr, &op);
	CU_ASSERT_FATAL(ino_alloc(&op, al, &ino, &in, &mb) == 0);
	CU_ASSERT_EQUAL(in.hdr.mblk, ino);
	CU_ASSERT_EQUAL(in.mode, 0);
	in.mode = S_IFREG | 0640;
	in.nlink = 1;
	in.uid = 1000;
	in.size = 12345;
	CU_ASSERT(ino_put(&op, mb, &in) == 0);
	CU_ASSERT_EQUAL(jop_end(&op, 0) != 0, 1);
	jop_begin(jr, &op);
	CU_ASSERT(ino_get(&op, al, ino, &out, NULL) == 0);
	CU_ASSERT_EQUAL(out.mode, S_IFREG | 0640);
	CU_ASSERT_EQUAL(out.uid, 1000);
	CU_ASSERT_EQUAL(out.size, 12345);
	jop_end(&op, 0);
	/* freed: -ESTALE, and a dead inode (mode 0) left in the block */
	jop_begin(jr, &op);
	CU_ASSERT(ino_free(&op, al, ino) == 0);
	jop_end(&op, 0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(ino_get(&op, al, ino, &out, NULL), -ESTALE);
	jop_end(&op, 0);
}

static void test_a_block_that_is_no_inode_is_estale(void)
{
	struct csvfs_inode out;
	struct jop op;

	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(ino_get(&op, al, CSVFS_STATE_MBLK, &out, NULL),
			-ESTALE);
	CU_ASSERT_EQUAL(ino_get(&op, al, sb.total_blocks << 8, &out, NULL),
			-ESTALE);
	jop_end(&op, 0);
}

static void test_xattr_set_get_list_remove(void)
{
	struct csvfs_inode in;
	struct ino_xattrs x;
	char v[16], list[64];

	memset(&in, 0, sizeof(in));
	ino_xattr_view(&in, &x);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.a", v, sizeof(v)), -ENODATA);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.a", "one", 3, 0), 0);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.b", "", 0, 0), 0);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.a", NULL, 0), 3);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.a", v, sizeof(v)), 3);
	CU_ASSERT_EQUAL(memcmp(v, "one", 3), 0);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.a", v, 2), -ERANGE);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.b", v, sizeof(v)), 0);
	CU_ASSERT_EQUAL(ino_xattr_list(&x, NULL, 0), 14);
	CU_ASSERT_EQUAL(ino_xattr_list(&x, list, sizeof(list)), 14);
	CU_ASSERT_EQUAL(memcmp(list, "user.a\0user.b\0", 14), 0);
	CU_ASSERT_EQUAL(ino_xattr_list(&x, list, 10), -ERANGE);
	/* replace keeps one record */
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.a", "three", 5, 0), 0);
	CU_ASSERT_EQUAL(ino_xattr_get(&x, "user.a", v, sizeof(v)), 5);
	CU_ASSERT_EQUAL(ino_xattr_list(&x, NULL, 0), 14);
	CU_ASSERT_EQUAL(ino_xattr_remove(&x, "user.b"), 0);
	CU_ASSERT_EQUAL(ino_xattr_remove(&x, "user.b"), -ENODATA);
	CU_ASSERT_EQUAL(ino_xattr_list(&x, NULL, 0), 7);
}

static void test_xattr_create_and_replace_flags(void)
{
	struct csvfs_inode in;
	struct ino_xattrs x;

	memset(&in, 0, sizeof(in));
	ino_xattr_view(&in, &x);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.x", "1", 1,
				      CSVFS_XATTR_REPLACE), -ENODATA);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.x", "1", 1,
				      CSVFS_XATTR_CREATE), 0);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.x", "2", 1,
				      CSVFS_XATTR_CREATE), -EEXIST);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.x", "2", 1,
				      CSVFS_XATTR_REPLACE), 0);
}

static void test_xattr_area_full_is_enospc_and_names_are_checked(void)
{
	static char big[CSVFS_INODE_XATTR_SIZE];
	char name[300];
	struct csvfs_inode in;
	struct ino_xattrs x;
	uint32_t len;

	memset(&in, 0, sizeof(in));
	ino_xattr_view(&in, &x);
	/* 4-byte record header + 6-byte name: this fills it exactly */
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.f", big,
				      CSVFS_INODE_XATTR_SIZE - 10 + 1, 0),
			-ENOSPC);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.f", big,
				      CSVFS_INODE_XATTR_SIZE - 10, 0), 0);
	len = x.len;
	CU_ASSERT_EQUAL(len, CSVFS_INODE_XATTR_SIZE);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "user.g", "", 0, 0), -ENOSPC);
	CU_ASSERT_EQUAL(x.len, len);	/* unchanged */
	memset(name, 'n', sizeof(name));
	name[256] = '\0';
	CU_ASSERT_EQUAL(ino_xattr_set(&x, name, "", 0, 0), -ERANGE);
	CU_ASSERT_EQUAL(ino_xattr_set(&x, "", "", 0, 0), -ERANGE);
}

static void test_dtype_names_every_file_type(void)
{
	CU_ASSERT_EQUAL(ino_dtype(S_IFREG | 0644), CSVFS_DT_REG);
	CU_ASSERT_EQUAL(ino_dtype(S_IFDIR | 0755), CSVFS_DT_DIR);
	CU_ASSERT_EQUAL(ino_dtype(S_IFLNK | 0777), CSVFS_DT_LNK);
	CU_ASSERT_EQUAL(ino_dtype(S_IFCHR), CSVFS_DT_CHR);
	CU_ASSERT_EQUAL(ino_dtype(S_IFBLK), CSVFS_DT_BLK);
	CU_ASSERT_EQUAL(ino_dtype(S_IFIFO), CSVFS_DT_FIFO);
	CU_ASSERT_EQUAL(ino_dtype(S_IFSOCK), CSVFS_DT_SOCK);
	CU_ASSERT_EQUAL(ino_dtype(0), CSVFS_DT_UNKNOWN);
}

int main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("inode", suite_init, suite_clean);
	CU_add_test(s, "an allocated inode reads back; freed it is ESTALE",
		    test_an_allocated_inode_reads_back_what_was_put);
	CU_add_test(s, "a block that is no inode is ESTALE",
		    test_a_block_that_is_no_inode_is_estale);
	CU_add_test(s, "xattr set, get, list, remove",
		    test_xattr_set_get_list_remove);
	CU_add_test(s, "xattr CREATE and REPLACE flags",
		    test_xattr_create_and_replace_flags);
	CU_add_test(s, "a full xattr area is ENOSPC; names are checked",
		    test_xattr_area_full_is_enospc_and_names_are_checked);
	CU_add_test(s, "ino_dtype names every file type",
		    test_dtype_names_every_file_type);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * mds_test: the coordinator through the metadata client, standalone: the
 * same encoded requests the FUSE daemon sends, over the in-process
 * transport, on a freshly formatted image file. The ownership tests run
 * it in cluster mode with three clients (nodes 1..3) and stubbed
 * membership and recall callbacks.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "net/mcache.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

static int suite_init(void)
{
	return testmds_format("mds_test", 2ull << 30);
}

static int suite_clean(void)
{
	return testmds_unlink();
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
	/* too big for inline (body and xattr area): converted, one unit
	 * holds the old bytes */
	CU_ASSERT(mdc_inline_write(mdc, a.ino, CSVFS_INLINE_XMAX, "x", 1, &b)
		  == 0);
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
	/* the ahead blocks never reported written went back at the last
	 * close, inside EOF too (block 2): thin files stay thin */
	CU_ASSERT(mdc_getattr(mdc, a.ino, &b) == 0);
	CU_ASSERT(b.alloc_bytes == 2u << 20);
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
	/* 4 KiB units; the one meta chunk's free mblks stay below a block */
	CU_ASSERT(st.bsize == 4096);
	st.bfree /= (1u << 20) / 4096;
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

/* ---- file ownership (cluster mode) ----------------------------------- */

#define NNODES 3
static struct mdc *nm[NNODES + 1];	/* client of node n */
static int recalls_seen, recall_answers = 1;

static int stub_is_member(void *ctx, uint32_t node)
{
	(void)ctx;
	return node >= 1 && node <= NNODES;
}

struct recall_arg {
	uint32_t node;
	uint64_t ino;
};

static void *recall_main(void *p)
{
	struct recall_arg *a = p;

	mdc_recall_done(nm[a->node], a->ino, 0);
	free(a);
	return NULL;
}

/* As the cluster layer: the owner answers from another thread. */
static int stub_recall(void *ctx, uint32_t node, uint64_t ino, uint32_t to)
{
	struct recall_arg *a;
	pthread_t t;

	(void)ctx;
	(void)to;
	recalls_seen++;
	if (!recall_answers)
		return 0;
	if (node < 1 || node > NNODES)
		return -ENOTCONN;
	a = malloc(sizeof(*a));
	a->node = node;
	a->ino = ino;
	if (pthread_create(&t, NULL, recall_main, a))
		return -EAGAIN;
	pthread_detach(t);
	return 0;
}

static void start_cluster(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = stub_is_member,
			      .recall = stub_recall, .recall_ms = 300 };
	struct mdc_transport t;
	uint32_t n;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	local_transport(mds, &t);
	for (n = 1; n <= NNODES; n++) {
		CU_ASSERT_FATAL(mdc_new(&t, n, ++incarnation, &nm[n]) == 0);
		CU_ASSERT_FATAL(mdc_hello(nm[n], "test", &vi) == 0);
	}
}

static void stop_cluster(void)
{
	uint32_t n;

	for (n = 1; n <= NNODES; n++)
		mdc_free(nm[n]);
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
}

static void test_ownership_open_rules(void)
{
	struct csvfs_attr a, b;
	uint64_t ino;

	start_cluster();
	CU_ASSERT_FATAL(mdc_mknod(nm[1], vi.root_ino, "own", S_IFREG | 0644,
				  0, 0, 0, &a) == 0);
	ino = a.ino;
	/* single-writer on node 1: two handles there; a second writer is
	 * refused, a reader elsewhere is not */
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT(a.own_node == 1 && a.own_mode == CSVFS_OWN_WRITER);
	CU_ASSERT(mdc_open(nm[1], ino, 0, &a) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, CSVFS_OPEN_WRITE, &b) == -EBUSY);
	CU_ASSERT(mdc_open(nm[3], ino, 0, &b) == 0);
	CU_ASSERT(b.own_node == 1 && b.own_count == 1);
	CU_ASSERT(mdc_release(nm[3], ino, CSVFS_OPEN_LAST) == 0);
	/* not the last handle: still owned */
	CU_ASSERT(mdc_release(nm[1], ino, 0) == 0);
	CU_ASSERT(mdc_getattr(nm[2], ino, &b) == 0);
	CU_ASSERT(b.own_node == 1 && b.own_mode == CSVFS_OWN_WRITER);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[2], ino, &b) == 0);
	CU_ASSERT(b.own_node == 0 && b.own_mode == CSVFS_OWN_NONE);
	/* readers on 2 and 3; a writer joins them */
	CU_ASSERT(mdc_open(nm[2], ino, 0, &b) == 0);
	CU_ASSERT(mdc_open(nm[3], ino, 0, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_READERS);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_WRITER && b.own_node == 1);
	CU_ASSERT(b.own_count == 2);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_release(nm[3], ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[2], ino, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_NONE);
	/* strict: no reader beside the writer */
	CU_ASSERT(mdc_set_iflags(nm[1], ino, CSVFS_IFL_STRICT, 0, &b) == 0);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, 0, &b) == -EBUSY);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_set_iflags(nm[1], ino, 0, CSVFS_IFL_STRICT, &b) == 0);
	/* multi-writer */
	CU_ASSERT(mdc_set_iflags(nm[1], ino, CSVFS_IFL_MULTIWRITER, 0,
				 &b) == 0);
	CU_ASSERT(b.flags & CSVFS_IFL_MULTIWRITER);
	CU_ASSERT(mdc_set_iflags(nm[1], ino, CSVFS_IFL_INLINE, 0, &b) ==
		  -EINVAL);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(mdc_open(nm[3], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_MULTI);
	stop_cluster();

	/* a new coordinator reads the grants from the inode */
	start_cluster();
	CU_ASSERT(mdc_getattr(nm[1], ino, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_MULTI);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_release(nm[3], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[1], ino, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_NONE);
	CU_ASSERT(mdc_set_iflags(nm[1], ino, 0, CSVFS_IFL_MULTIWRITER,
				 &b) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, CSVFS_OPEN_WRITE, &b) == 0);
	stop_cluster();

	start_cluster();
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == -EBUSY);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_unlink(nm[1], vi.root_ino, "own") == 0);
	stop_cluster();
}

static void test_ownership_handoff(void)
{
	struct csvfs_attr a, b;
	uint64_t ino;

	start_cluster();
	CU_ASSERT_FATAL(mdc_mknod(nm[1], vi.root_ino, "ho", S_IFREG | 0644,
				  0, 0, 0, &a) == 0);
	ino = a.ino;
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &a) == 0);
	/* refusals change nothing */
	CU_ASSERT(mdc_handoff(nm[3], ino, 1, 9, &b) == -EHOSTUNREACH);
	CU_ASSERT(mdc_handoff(nm[3], ino, 3, 2, &b) == -ENOLCK);
	CU_ASSERT(mdc_handoff(nm[3], ino, 0, 2, &b) == -ENOLCK);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_node == 1 && b.own_epoch == a.own_epoch);
	/* the owner does not answer: timeout, nothing changed */
	recall_answers = 0;
	recalls_seen = 0;
	CU_ASSERT(mdc_handoff(nm[3], ino, 1, 2, &b) == -ETIMEDOUT);
	CU_ASSERT(recalls_seen == 1);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_node == 1);
	CU_ASSERT(mdc_open(nm[1], ino, 0, &b) == 0);
	CU_ASSERT(mdc_release(nm[1], ino, 0) == 0);
	/* a real handoff: the old owner was recalled */
	recall_answers = 1;
	recalls_seen = 0;
	CU_ASSERT(mdc_handoff(nm[3], ino, 1, 2, &b) == 0);
	CU_ASSERT(recalls_seen == 1);
	CU_ASSERT(b.own_node == 2 && b.own_mode == CSVFS_OWN_WRITER);
	CU_ASSERT(b.own_epoch > a.own_epoch);
	/* the old owner's late report of writes is refused: node 2 may
	 * already have written over them (its fsync must fail) */
	CU_ASSERT(mdc_write_done(nm[1], ino, 200, 0, 0, 0, NULL, 0,
				 &b) == -CSVFS_ELEASE);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.size == 0);
	CU_ASSERT(mdc_write_done(nm[2], ino, 100, 0, 0, 0, NULL, 0, &b) == 0);
	CU_ASSERT(b.size == 100);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == -EBUSY);
	/* the target's read-only probe keeps its reservation */
	CU_ASSERT(mdc_open(nm[2], ino, 0, &b) == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_open(nm[3], ino, CSVFS_OPEN_WRITE, &b) == -EBUSY);
	CU_ASSERT(mdc_open(nm[3], ino, 0, &b) == 0);
	CU_ASSERT(mdc_release(nm[3], ino, CSVFS_OPEN_LAST) == 0);
	/* the old owner's late close keeps node 2 */
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_node == 2);
	CU_ASSERT(!(b.flags & CSVFS_IFL_HANDOFF));
	/* and back (a cancelled migration) */
	CU_ASSERT(mdc_handoff(nm[2], ino, 2, 1, &b) == 0);
	CU_ASSERT(b.own_node == 1);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_node == 1 && (b.flags & CSVFS_IFL_HANDOFF));
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(!(b.flags & CSVFS_IFL_HANDOFF));
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_NONE);
	/* multi-writer files are not handed off */
	CU_ASSERT(mdc_set_iflags(nm[1], ino, CSVFS_IFL_MULTIWRITER, 0,
				 &b) == 0);
	CU_ASSERT(mdc_open(nm[3], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_MULTI);
	CU_ASSERT(mdc_handoff(nm[3], ino, 0, 2, &b) == -EBUSY);
	CU_ASSERT(mdc_release(nm[3], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	stop_cluster();
}

/* Issue 11: QEMU's live migration through the coordinator. */
static void test_ownership_qemu_migration(void)
{
	struct csvfs_attr a, b;
	uint64_t ino;

	start_cluster();
	CU_ASSERT_FATAL(mdc_mknod(nm[1], vi.root_ino, "vm", S_IFREG | 0644,
				  0, 0, 0, &a) == 0);
	ino = a.ino;
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &a) == 0);
	/* target: probe, then the inactive read-only open */
	CU_ASSERT(mdc_open(nm[2], ino, 0, &b) == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_open(nm[2], ino, 0, &b) == 0);
	/* source inactivates: read-only reopen, read-write handle closed */
	CU_ASSERT(mdc_open(nm[1], ino, 0, &b) == 0);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST_WRITE) == 0);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_READERS && b.own_count == 2);
	/* target activates; a third QEMU cannot write */
	CU_ASSERT(mdc_open(nm[2], ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_WRITER && b.own_node == 2);
	CU_ASSERT(mdc_release(nm[2], ino, 0) == 0);
	CU_ASSERT(mdc_open(nm[3], ino, CSVFS_OPEN_WRITE, &b) == -EBUSY);
	/* the source's QEMU quits; the target stays the writer */
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[3], ino, &b) == 0);
	CU_ASSERT(b.own_node == 2 && b.own_count == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_unlink(nm[1], vi.root_ino, "vm") == 0);
	stop_cluster();
}

static void test_ownership_standalone_keeps_none(void)
{
	struct csvfs_attr a, b;

	start();
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "sa", S_IFREG | 0644, 0,
				  0, 0, &a) == 0);
	CU_ASSERT(mdc_open(mdc, a.ino, CSVFS_OPEN_WRITE, &b) == 0);
	CU_ASSERT(b.own_mode == CSVFS_OWN_NONE && b.own_node == 0);
	CU_ASSERT(mdc_handoff(mdc, a.ino, 0, 1, &b) == -EOPNOTSUPP);
	CU_ASSERT(mdc_release(mdc, a.ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "sa") == 0);
	stop();
}

/* ---- retries ----------------------------------------------------------- */

static int retry_mode;	/* 0: once; 1: twice; 2: twice, new coordinator */

/* As a lost reply: the request reaches the coordinator twice. */
static int retry_call(void *ctx, struct csvfs_msg_hdr *hdr,
		      const void *payload, uint8_t **reply, size_t *reply_len)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	int rc;

	(void)ctx;
	rc = mds_dispatch(mds, hdr, payload, reply, reply_len);
	if (!retry_mode)
		return rc;
	free(*reply);
	if (retry_mode == 2) {
		CU_ASSERT(mds_stop(mds) == 0);
		CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	}
	return mds_dispatch(mds, hdr, payload, reply, reply_len);
}

static void test_retries(void)
{
	struct mdc_transport t = { retry_call, NULL };
	struct csvfs_attr a, b, d;
	struct mdc *c, *other;

	start();
	CU_ASSERT_FATAL(mdc_new(&t, 1, ++incarnation, &c) == 0);
	CU_ASSERT_FATAL(mdc_new(&t, 1, ++incarnation, &other) == 0);
	retry_mode = 1;
	CU_ASSERT_FATAL(mdc_mkdir(c, vi.root_ino, "rd", 0755, 0, 0, &d) == 0);
	CU_ASSERT(mdc_lookup(mdc, vi.root_ino, "rd", &b) == 0 &&
		  b.ino == d.ino);
	CU_ASSERT(mdc_create(c, d.ino, "rf", S_IFREG | 0644, 0, 0, 0, &a) ==
		  0);
	CU_ASSERT(mdc_lookup(mdc, d.ino, "rf", &b) == 0 && b.ino == a.ino);
	CU_ASSERT(mdc_rename(c, d.ino, "rf", d.ino, "rg", 0) == 0);
	/* A failure is not recorded: the retry runs, and fails again. */
	CU_ASSERT(mdc_mkdir(c, vi.root_ino, "rd", 0755, 0, 0, &b) == -EEXIST);
	/* The record is the node's: another mount's same seq runs. */
	retry_mode = 0;
	CU_ASSERT(mdc_mkdir(other, d.ino, "x1", 0755, 0, 0, &b) == 0);
	CU_ASSERT(b.ino != d.ino);
	CU_ASSERT(mdc_lookup(mdc, d.ino, "x1", &a) == 0 && a.ino == b.ino);
	/* Across a coordinator change (journal replay, a new mds). */
	retry_mode = 2;
	CU_ASSERT(mdc_unlink(c, d.ino, "rg") == 0);
	CU_ASSERT(mdc_mkdir(c, d.ino, "after", 0700, 0, 0, &b) == 0);
	retry_mode = 0;
	/* The new coordinator refuses the old epoch: learn the new one. */
	CU_ASSERT(mdc_lookup(mdc, d.ino, "rg", &b) == -CSVFS_ESTALEEPOCH);
	CU_ASSERT_FATAL(mdc_hello(mdc, "test", &vi) == 0);
	CU_ASSERT(mdc_lookup(mdc, d.ino, "rg", &b) == -ENOENT);
	CU_ASSERT(mdc_lookup(mdc, d.ino, "after", &b) == 0);
	mdc_free(c);
	mdc_free(other);
	stop();
}

/* ---- client caches (cluster mode) ------------------------------------ */

static struct mcache *nc[NNODES + 1];	/* cache of node n */
static int inval_calls[NNODES + 1];
static int inval_mode;		/* 0: apply at once; 1: node 3 acks from a
				 * thread; 2: node 3 never acks; 3: nodes
				 * 2 and 3 ack only once both were told */
static int fan_sent, fan_out, fan_max;	/* mode 3 */
static pthread_mutex_t fan_lock = PTHREAD_MUTEX_INITIALIZER;

struct ack_arg {
	uint32_t node;
	uint64_t id;
};

static void *ack_main(void *p)
{
	struct ack_arg *a = p;
	int i, both = 0;

	usleep(20000);
	/* Mode 3: a coordinator that waited for one ack before telling
	 * the next node would make this wait run out. */
	for (i = 0; inval_mode == 3 && !both && i < 300; i++) {
		pthread_mutex_lock(&fan_lock);
		both = fan_sent >= 2;
		pthread_mutex_unlock(&fan_lock);
		if (!both)
			usleep(10000);
	}
	if (inval_mode == 3) {
		pthread_mutex_lock(&fan_lock);
		fan_out--;
		pthread_mutex_unlock(&fan_lock);
	}
	mdc_inval_ack(nm[a->node], a->id);
	free(a);
	return NULL;
}

/* As the cluster layer: drop from the node's cache, then acknowledge. */
static int stub_inval(void *ctx, uint32_t node, uint64_t id,
		      const uint64_t *inos, uint32_t n)
{
	struct ack_arg *a;
	pthread_t t;
	uint32_t i;

	(void)ctx;
	if (node < 1 || node > NNODES)
		return -ENOTCONN;
	inval_calls[node]++;
	for (i = 0; i < n; i++)
		mcache_inval(nc[node], inos[i]);
	if (!n)
		mcache_clear(nc[node]);
	if (inval_mode == 3 && id && node != 1) {
		pthread_mutex_lock(&fan_lock);
		fan_sent++;
		if (++fan_out > fan_max)
			fan_max = fan_out;
		pthread_mutex_unlock(&fan_lock);
	} else if (node != 3 || inval_mode == 0 || !id) {
		return 1;
	}
	if (inval_mode == 2)
		return 0;
	a = malloc(sizeof(*a));
	a->node = node;
	a->id = id;
	if (pthread_create(&t, NULL, ack_main, a))
		return -EAGAIN;
	pthread_detach(t);
	return 0;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* " name:mode" of every entry of dir (mode only for plus), from 0 to eof. */
static int list_names(struct mdc *c, uint64_t dir, int plus, char *out,
		      size_t size)
{
	struct mdc_dirent ents[4];
	uint64_t cookie = 0;
	size_t pos = 0;
	uint32_t n, i;
	int eof = 0, rc;

	out[0] = '\0';
	while (!eof) {
		rc = mdc_readdir(c, dir, cookie, plus, ents, 4, &n, &eof);
		if (rc)
			return rc;
		if (!n && !eof)
			return -EIO;
		for (i = 0; i < n && pos < size; i++) {
			if (plus)
				pos += (size_t)snprintf(out + pos, size - pos,
					" %s:%o", ents[i].name,
					ents[i].attr.mode & 07777);
			else
				pos += (size_t)snprintf(out + pos, size - pos,
					" %s", ents[i].name);
			cookie = ents[i].next_cookie;
		}
	}
	return 0;
}

static void test_cache_coherence(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = stub_is_member,
			      .recall = stub_recall, .inval = stub_inval,
			      .lease_ms = 200 };
	struct mcache_stats st0, st1;
	struct mdc_setattr sa = { .valid = CSVFS_SA_MODE, .mode = 0600 };
	struct mdc_transport t;
	struct csvfs_attr a, b;
	char names[4096];
	double t0;
	uint32_t n;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	/* A new coordinator answers changes only after its lease ran out
	 * (counted from a moment after this one) while a member (node
	 * NNODES here) has not come to it yet: that one may still answer
	 * from its predecessor's entries. */
	t0 = mono_s();
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	local_transport(mds, &t);
	for (n = 1; n <= NNODES; n++) {
		CU_ASSERT_FATAL(mcache_new(0, 200, &nc[n]) == 0);
		CU_ASSERT_FATAL(mdc_new(&t, n, ++incarnation, &nm[n]) == 0);
		mdc_set_cache(nm[n], nc[n]);
		if (n < NNODES)
			CU_ASSERT_FATAL(mdc_hello(nm[n], "test", &vi) == 0);
	}
	inval_mode = 0;

	CU_ASSERT(mdc_mkdir(nm[1], vi.root_ino, "cdir", 0755, 0, 0, &a) == 0);
	CU_ASSERT(mono_s() - t0 >= 0.2);
	CU_ASSERT_FATAL(mdc_hello(nm[NNODES], "test", &vi) == 0);

	/* Negative entries on nodes 2 and 3 go away when node 1 creates. */
	CU_ASSERT(mdc_lookup(nm[2], a.ino, "cf", &b) == -ENOENT);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "cf", &b) == -ENOENT);
	mcache_get_stats(nc[3], &st0);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "cf", &b) == -ENOENT);
	mcache_get_stats(nc[3], &st1);
	CU_ASSERT(st1.hits == st0.hits + 1);
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "cf", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(inval_calls[2] == 1 && inval_calls[3] == 1);
	CU_ASSERT(inval_calls[1] == 0);	/* node 1 cached nothing */
	CU_ASSERT(mdc_lookup(nm[2], a.ino, "cf", &b) == 0);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "cf", &b) == 0);
	CU_ASSERT(b.mode == (S_IFREG | 0644));

	/* Cached attributes on 2 and 3; node 1 changes the mode. */
	CU_ASSERT(mdc_getattr(nm[2], b.ino, &b) == 0);
	CU_ASSERT(mdc_getattr(nm[3], b.ino, &b) == 0);
	CU_ASSERT(mdc_setattr(nm[1], b.ino, &sa, &b) == 0);
	CU_ASSERT(mdc_getattr(nm[2], b.ino, &b) == 0 && (b.mode & 07777) ==
		  0600);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "cf", &b) == 0 && (b.mode & 07777)
		  == 0600);

	/* The origin's own cache is told too (no ack needed). */
	CU_ASSERT(mdc_unlink(nm[2], a.ino, "cf") == 0);
	for (n = 1; n <= NNODES; n++)
		CU_ASSERT(mdc_lookup(nm[n], a.ino, "cf", &b) == -ENOENT);

	/* Acked from another thread: the change waits for it, briefly. */
	inval_mode = 1;
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "g", &b) == -ENOENT);
	t0 = mono_s();
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "g", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(mono_s() - t0 >= 0.015 && mono_s() - t0 < 1.0);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "g", &b) == 0);

	/* Never acked: answered only after the ack wait. */
	inval_mode = 2;
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "h", &b) == -ENOENT);
	t0 = mono_s();
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "h", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(mono_s() - t0 >= CSVFS_INVAL_WAIT_MS / 1000.0 - 0.05);
	CU_ASSERT(mdc_lookup(nm[3], a.ino, "h", &b) == 0);

	/*
	 * FORGET drops the interest: no more INVALs to that node. So the
	 * node drops what it cached of the inode too: it would not hear of
	 * a change, nor of the number going to a new inode (t2880 saw a
	 * new file answered with a removed directory's attributes).
	 */
	inval_mode = 0;
	CU_ASSERT(mdc_getattr(nm[2], b.ino, &b) == 0);
	CU_ASSERT(mdc_forget(nm[2], b.ino) == 0);
	n = (uint32_t)inval_calls[2];
	sa.mode = 0640;
	CU_ASSERT(mdc_setattr(nm[1], b.ino, &sa, &b) == 0);
	CU_ASSERT(inval_calls[2] == (int)n);
	CU_ASSERT(mdc_getattr(nm[2], b.ino, &b) == 0 &&
		  (b.mode & 07777) == 0640);
	sa.mode = 0600;

	/* Listings: node 2 answers a second readdirplus from its cache;
	 * every change in the directory by another node is in its next
	 * listing (create, mode change, rename away, unlink). */
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "l1", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(list_names(nm[2], a.ino, 1, names, sizeof(names)) == 0);
	mcache_get_stats(nc[2], &st0);
	CU_ASSERT(list_names(nm[2], a.ino, 1, names, sizeof(names)) == 0);
	mcache_get_stats(nc[2], &st1);
	CU_ASSERT(st1.hits > st0.hits && st1.misses == st0.misses);
	CU_ASSERT(strstr(names, " l1:644") != NULL);
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "l2", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(list_names(nm[2], a.ino, 1, names, sizeof(names)) == 0);
	CU_ASSERT(strstr(names, " l2:644") != NULL);
	CU_ASSERT(mdc_setattr(nm[3], b.ino, &sa, &b) == 0);
	CU_ASSERT(list_names(nm[2], a.ino, 1, names, sizeof(names)) == 0);
	CU_ASSERT(strstr(names, " l2:600") != NULL);
	CU_ASSERT(list_names(nm[2], a.ino, 0, names, sizeof(names)) == 0);
	CU_ASSERT(mdc_rename(nm[3], a.ino, "l1", vi.root_ino, "l1moved", 0)
		  == 0);
	CU_ASSERT(list_names(nm[2], a.ino, 0, names, sizeof(names)) == 0);
	CU_ASSERT(strstr(names, " l1") == NULL);
	CU_ASSERT(list_names(nm[2], vi.root_ino, 0, names, sizeof(names)) ==
		  0);
	CU_ASSERT(strstr(names, " l1moved") != NULL);
	CU_ASSERT(mdc_unlink(nm[1], a.ino, "l2") == 0);
	CU_ASSERT(list_names(nm[2], a.ino, 1, names, sizeof(names)) == 0);
	CU_ASSERT(strstr(names, " l2") == NULL);

	/* Fan-out: nodes 2 and 3 both cached the directory; both are told
	 * before either acknowledges. */
	CU_ASSERT(list_names(nm[2], a.ino, 0, names, sizeof(names)) == 0);
	CU_ASSERT(list_names(nm[3], a.ino, 0, names, sizeof(names)) == 0);
	fan_sent = fan_out = fan_max = 0;
	inval_mode = 3;
	CU_ASSERT(mdc_mknod(nm[1], a.ino, "l3", S_IFREG | 0644, 0, 0, 0,
			    &b) == 0);
	CU_ASSERT(fan_sent == 2 && fan_max == 2);
	inval_mode = 0;
	usleep(50000);	/* the ack threads end */

	for (n = 1; n <= NNODES; n++) {
		mdc_free(nm[n]);
		mcache_free(nc[n]);
	}
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
}

/*
 * Fast failover: once every other member has come to the new coordinator
 * (its daemon dropped its cache when it connected), a change is answered
 * without waiting out the predecessor's leases (here 3 s).
 */
static void test_new_coordinator_skips_the_lease_once_all_came(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = stub_is_member,
			      .recall = stub_recall, .inval = stub_inval,
			      .lease_ms = 3000 };
	struct mdc_transport t;
	struct csvfs_attr a;
	double t0;
	uint32_t n;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	t0 = mono_s();
	local_transport(mds, &t);
	for (n = 2; n <= NNODES; n++) {
		CU_ASSERT_FATAL(mdc_new(&t, n, ++incarnation, &nm[n]) == 0);
		CU_ASSERT_FATAL(mdc_hello(nm[n], "test", &vi) == 0);
	}
	inval_mode = 0;
	CU_ASSERT(mdc_mkdir(nm[2], vi.root_ino, "fastdir", 0755, 0, 0,
			    &a) == 0);
	CU_ASSERT(mono_s() - t0 < 2.0);
	for (n = 2; n <= NNODES; n++)
		mdc_free(nm[n]);
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
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
	CU_add_test(s, "ownership: single-writer with readers, strict, "
		    "multi-writer, last close, new coordinator",
		    test_ownership_open_rules);
	CU_add_test(s, "ownership: handoff, reservation, refusals, recall "
		    "timeout", test_ownership_handoff);
	CU_add_test(s, "ownership: QEMU's live migration sequence",
		    test_ownership_qemu_migration);
	CU_add_test(s, "ownership: standalone keeps none",
		    test_ownership_standalone_keeps_none);
	CU_add_test(s, "retried requests answered from the record",
		    test_retries);
	CU_add_test(s, "cluster caches: invalidations, acks, lease, "
		    "listings, parallel fan-out",
		    test_cache_coherence);
	CU_add_test(s, "a new coordinator skips the lease once all came",
		    test_new_coordinator_skips_the_lease_once_all_came);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

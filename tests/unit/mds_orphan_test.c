/*
 * mds_orphan_test: no path of the coordinator frees an inode, or hands its
 * number to a new file, while a node still has it open (issue 14): a
 * shrinking truncate, a punched hole, a rename over it, a release of one
 * of several handles, startup orphan processing (standalone: nothing is
 * open, every orphan goes; cluster: a node's hold in the inode keeps it),
 * and the break of a dead node's hold. Each freed inode is freed exactly
 * once, at its last close, and its blocks come back.
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
#include "csvfs/proto.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/mds.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

#define NNODES 3
#define MiB (1ull << 20)

static struct mdc *nm[NNODES + 1];
static int node3_gone;

static int suite_init(void)
{
	struct fmt_opts fo = { 0 };
	int fd, rc;

	snprintf(img, sizeof(img), "/tmp/mds_orphan_test.XXXXXX");
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

static int stub_is_member(void *ctx, uint32_t node)
{
	(void)ctx;
	return node >= 1 && node <= NNODES && !(node == 3 && node3_gone);
}

static int stub_recall(void *ctx, uint32_t node, uint64_t ino, uint32_t to)
{
	(void)ctx;
	(void)node;
	(void)ino;
	(void)to;
	return -ENOTCONN;
}

/* A coordinator in cluster mode with clients for nodes 1..3. */
static void start_cluster(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = stub_is_member,
			      .recall = stub_recall, .recall_ms = 300,
			      .dead_ms = 100 };
	struct mdc_transport t;
	uint32_t n;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	mds_local_transport(mds, &t);
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

static uint64_t free_blocks(struct mdc *c)
{
	struct mdc_statfs st;

	CU_ASSERT_FATAL(mdc_statfs(c, &st) == 0);
	return st.bfree;
}

static int set_size(struct mdc *c, uint64_t ino, uint64_t size)
{
	struct mdc_setattr sa;
	struct csvfs_attr a;

	memset(&sa, 0, sizeof(sa));
	sa.valid = CSVFS_SA_SIZE;
	sa.size = size;
	return mdc_setattr(c, ino, &sa, &a);
}

/* Allocates (as a write does) the blocks of [0, len). */
static int alloc(struct mdc *c, uint64_t ino, uint64_t len)
{
	struct csvfs_wext ext[16];
	struct csvfs_attr a;
	uint32_t n;

	return mdc_alloc(c, ino, 0, (len + (1ull << vi.block_shift) - 1) / (1ull << vi.block_shift), 0,
			 &a, ext, 16, &n);
}

/* Creates name under the root and opens it for writing on c. */
static uint64_t create_open(struct mdc *c, const char *name)
{
	struct csvfs_attr a;

	CU_ASSERT_FATAL(mdc_create(c, vi.root_ino, name, S_IFREG | 0644, 0,
				   0, CSVFS_OPEN_WRITE, &a) == 0);
	return a.ino;
}

/* The sequence: open(O_CREAT), unlink, ftruncate 1M, 0, 1M. */
static void test_truncate_unlinked_open(void)
{
	struct csvfs_attr a, b;
	uint64_t ino, before;

	start();
	before = free_blocks(mdc);
	ino = create_open(mdc, "t");
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "t") == 0);
	CU_ASSERT(set_size(mdc, ino, MiB) == 0);
	CU_ASSERT(alloc(mdc, ino, MiB) == 0);
	CU_ASSERT(set_size(mdc, ino, 0) == 0);
	CU_ASSERT(set_size(mdc, ino, MiB) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.nlink == 0 && a.size == MiB);
	CU_ASSERT(alloc(mdc, ino, MiB) == 0);
	CU_ASSERT(mdc_fallocate(mdc, ino, 0, 0, 2 * MiB, &a) == 0);
	/* its number is not handed out while it is open */
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "new", S_IFREG | 0644, 0,
				  0, 0, &b) == 0);
	CU_ASSERT(b.ino != ino);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "new") == 0);
	/* a shrinking truncate keeps it; its last close frees it */
	CU_ASSERT(set_size(mdc, ino, 1) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == -ESTALE);
	CU_ASSERT(free_blocks(mdc) == before);
	stop();
}

/* Punched holes and a release of one of two handles keep it too. */
static void test_punch_and_partial_release(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;

	start();
	before = free_blocks(mdc);
	ino = create_open(mdc, "p");
	CU_ASSERT(mdc_open(mdc, ino, 0, &a) == 0);
	CU_ASSERT(set_size(mdc, ino, 3 * MiB) == 0);
	CU_ASSERT(alloc(mdc, ino, 3 * MiB) == 0);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "p") == 0);
	CU_ASSERT(mdc_fallocate(mdc, ino, CSVFS_FA_PUNCH_HOLE |
				CSVFS_FA_KEEP_SIZE, 0, 3 * MiB, &a) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.size == 3 * MiB && a.nlink == 0);
	CU_ASSERT(mdc_release(mdc, ino, 0) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == -ESTALE);
	CU_ASSERT(free_blocks(mdc) == before);
	stop();
}

/* A rename over an open file unlinks it, and only its close frees it. */
static void test_rename_over_open(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;

	start();
	before = free_blocks(mdc);
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "src", S_IFREG | 0644, 0,
				  0, 0, &a) == 0);
	ino = create_open(mdc, "dst");
	CU_ASSERT(set_size(mdc, ino, MiB) == 0);
	CU_ASSERT(alloc(mdc, ino, MiB) == 0);
	CU_ASSERT(mdc_rename(mdc, vi.root_ino, "src", vi.root_ino, "dst",
			     0) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.nlink == 0);
	CU_ASSERT(set_size(mdc, ino, 0) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == -ESTALE);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "dst") == 0);
	CU_ASSERT(free_blocks(mdc) == before);
	stop();
}

/* Standalone startup: nothing can be open, every orphan goes. */
static void test_standalone_restart_frees(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;

	start();
	before = free_blocks(mdc);
	ino = create_open(mdc, "r");
	CU_ASSERT(set_size(mdc, ino, MiB) == 0);
	CU_ASSERT(alloc(mdc, ino, MiB) == 0);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "r") == 0);
	stop();		/* the handle was never closed: a crash, for it */
	start();
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == -ESTALE);
	CU_ASSERT(free_blocks(mdc) == before);
	stop();
}

/*
 * Cluster: a new coordinator (failover) keeps an orphan a node holds;
 * that node truncates it and closes it later, uncounted in the new open
 * table: then it is freed.
 */
static void test_cluster_failover_keeps_held_orphan(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;

	start_cluster();
	before = free_blocks(nm[1]);
	ino = create_open(nm[2], "held");
	CU_ASSERT(set_size(nm[2], ino, 2 * MiB) == 0);
	CU_ASSERT(alloc(nm[2], ino, 2 * MiB) == 0);
	CU_ASSERT(mdc_unlink(nm[1], vi.root_ino, "held") == 0);
	CU_ASSERT(mdc_getattr(nm[2], ino, &a) == 0);
	stop_cluster();
	start_cluster();	/* the coordinator moved */
	CU_ASSERT(mdc_getattr(nm[2], ino, &a) == 0);
	CU_ASSERT(a.nlink == 0 && a.own_node == 2);
	CU_ASSERT(set_size(nm[2], ino, 0) == 0);
	CU_ASSERT(set_size(nm[2], ino, MiB) == 0);
	CU_ASSERT(mdc_getattr(nm[2], ino, &a) == 0);
	CU_ASSERT(mdc_release(nm[2], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[1], ino, &a) == -ESTALE);
	CU_ASSERT(free_blocks(nm[1]) == before);
	stop_cluster();
}

/*
 * Cluster: a dead node's hold broken by another node's open drops only
 * the dead node's opens: the new opener's handle keeps the file after an
 * unlink until it closes.
 */
static void test_cluster_break_keeps_other_opens(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;

	node3_gone = 0;
	start_cluster();
	before = free_blocks(nm[1]);
	ino = create_open(nm[3], "brk");
	CU_ASSERT(set_size(nm[3], ino, MiB) == 0);
	CU_ASSERT(alloc(nm[3], ino, MiB) == 0);
	CU_ASSERT(mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &a) == -EBUSY);
	node3_gone = 1;
	/* the watcher must have seen node 3's slot silent for dead_ms */
	{
		int i, rc = -EBUSY;

		for (i = 0; i < 100 && rc == -EBUSY; i++) {
			usleep(100000);
			rc = mdc_open(nm[1], ino, CSVFS_OPEN_WRITE, &a);
		}
		CU_ASSERT_FATAL(rc == 0);
	}
	CU_ASSERT(a.own_node == 1);
	CU_ASSERT(mdc_unlink(nm[1], vi.root_ino, "brk") == 0);
	CU_ASSERT(set_size(nm[1], ino, 0) == 0);
	CU_ASSERT(mdc_getattr(nm[1], ino, &a) == 0);
	CU_ASSERT(mdc_release(nm[1], ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[1], ino, &a) == -ESTALE);
	CU_ASSERT(free_blocks(nm[1]) == before);
	node3_gone = 0;
	stop_cluster();
}

/*
 * Cluster: an orphan held only by a node that died is freed (nobody can
 * open it, so no open breaks the hold: the coordinator's sweep does);
 * while its holder lives it stays.
 */
static void test_cluster_dead_holder_orphan_freed(void)
{
	struct csvfs_attr a;
	uint64_t ino, before;
	int i, rc = 0;

	node3_gone = 0;
	start_cluster();
	before = free_blocks(nm[1]);
	ino = create_open(nm[3], "dead");
	CU_ASSERT(set_size(nm[3], ino, MiB) == 0);
	CU_ASSERT(alloc(nm[3], ino, MiB) == 0);
	CU_ASSERT(mdc_unlink(nm[1], vi.root_ino, "dead") == 0);
	usleep(300000);		/* more than dead_ms: sweeps run */
	CU_ASSERT(mdc_getattr(nm[1], ino, &a) == 0);
	CU_ASSERT(mdc_getattr(nm[1], ino, &a) == 0);
	node3_gone = 1;
	for (i = 0; i < 100; i++) {
		usleep(100000);
		rc = mdc_getattr(nm[1], ino, &a);
		if (rc == -ESTALE)
			break;
	}
	CU_ASSERT(rc == -ESTALE);
	CU_ASSERT(free_blocks(nm[1]) == before);
	node3_gone = 0;
	stop_cluster();
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("mds_orphan", suite_init, suite_clean);
	CU_add_test(s, "ftruncate smaller of an unlinked open file",
		    test_truncate_unlinked_open);
	CU_add_test(s, "punch hole, release of one of two handles",
		    test_punch_and_partial_release);
	CU_add_test(s, "rename over an open file", test_rename_over_open);
	CU_add_test(s, "standalone restart frees every orphan",
		    test_standalone_restart_frees);
	CU_add_test(s, "cluster: a new coordinator keeps a held orphan",
		    test_cluster_failover_keeps_held_orphan);
	CU_add_test(s, "cluster: breaking a dead node's hold",
		    test_cluster_break_keeps_other_opens);
	CU_add_test(s, "cluster: a dead holder's orphan is freed",
		    test_cluster_dead_holder_orphan_freed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

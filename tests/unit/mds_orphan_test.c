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
#include "meta/mds/mds.h"
#include "net/mdc.h"
#include "tests/unit/testmds.h"

#define NNODES 3
#define MiB (1ull << 20)

static struct mdc *nm[NNODES + 1];
static int node3_gone;

static int suite_init(void)
{
	return testmds_format("mds_orphan_test", 1ull << 30);
}

static int suite_clean(void)
{
	return testmds_unlink();
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

	testmds_start_nodes(&o, nm, NNODES);
}

static void stop_cluster(void)
{
	testmds_stop_nodes(nm, NNODES);
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

static uint64_t free_inodes(struct mdc *c)
{
	struct mdc_statfs st;

	CU_ASSERT_FATAL(mdc_statfs(c, &st) == 0);
	return st.ffree;
}

/* Entries readdir on dir ino returns from the start ("." and ".." too). */
static int count_entries(struct mdc *c, uint64_t ino)
{
	struct mdc_dirent ents[8];
	uint32_t n = 0;
	int eof = 0, rc;

	rc = mdc_readdir(c, ino, 0, 0, ents, 8, &n, &eof);
	return rc ? rc : (int)n;
}

/*
 * rmdir of an open directory: it stays, empty and without links, until
 * its last close; its number is not handed out meanwhile; nothing goes
 * into it; the close frees it with its table blocks.
 */
static void test_rmdir_open_dir(void)
{
	struct csvfs_attr a, b, d;
	uint64_t ffree;

	start();
	ffree = free_inodes(mdc);
	CU_ASSERT_FATAL(mdc_mkdir(mdc, vi.root_ino, "od", S_IFDIR | 0755, 0,
				  0, &d) == 0);
	CU_ASSERT(mdc_open(mdc, d.ino, 0, &a) == 0);
	CU_ASSERT(count_entries(mdc, d.ino) == 2);
	CU_ASSERT(mdc_rmdir(mdc, vi.root_ino, "od") == 0);
	CU_ASSERT(mdc_getattr(mdc, d.ino, &a) == 0);
	CU_ASSERT(a.nlink == 0 && S_ISDIR(a.mode));
	CU_ASSERT(count_entries(mdc, d.ino) == 0);
	CU_ASSERT(mdc_mkdir(mdc, d.ino, "in", S_IFDIR | 0755, 0, 0,
			    &b) == -ENOENT);
	CU_ASSERT(mdc_mknod(mdc, d.ino, "f", S_IFREG | 0644, 0, 0, 0,
			    &b) == -ENOENT);
	CU_ASSERT_FATAL(mdc_mkdir(mdc, vi.root_ino, "nd", S_IFDIR | 0755, 0,
				  0, &b) == 0);
	CU_ASSERT(b.ino != d.ino);
	CU_ASSERT(mdc_rmdir(mdc, vi.root_ino, "nd") == 0);
	CU_ASSERT(mdc_release(mdc, d.ino, 0) == 0);
	CU_ASSERT(mdc_getattr(mdc, d.ino, &a) == -ESTALE);
	CU_ASSERT(free_inodes(mdc) == ffree);
	stop();
}

/* An open directory removed, then a restart (a crash for it): freed. */
static void test_rmdir_open_dir_restart(void)
{
	struct csvfs_attr a, d;
	uint64_t ffree;

	start();
	ffree = free_inodes(mdc);
	CU_ASSERT_FATAL(mdc_mkdir(mdc, vi.root_ino, "rd", S_IFDIR | 0755, 0,
				  0, &d) == 0);
	CU_ASSERT(mdc_open(mdc, d.ino, 0, &a) == 0);
	CU_ASSERT(mdc_rmdir(mdc, vi.root_ino, "rd") == 0);
	CU_ASSERT(mdc_getattr(mdc, d.ino, &a) == 0);
	stop();
	start();
	CU_ASSERT(mdc_getattr(mdc, d.ino, &a) == -ESTALE);
	CU_ASSERT(free_inodes(mdc) == ffree);
	stop();
}

/*
 * Cluster: a directory open on node 2 and removed by node 1 survives a
 * coordinator change (node 2's hold is in the inode) and goes at node
 * 2's last close.
 */
static void test_cluster_rmdir_open_dir(void)
{
	struct csvfs_attr a, d;
	uint64_t ffree;

	start_cluster();
	ffree = free_inodes(nm[1]);
	CU_ASSERT_FATAL(mdc_mkdir(nm[1], vi.root_ino, "cd", S_IFDIR | 0755, 0,
				  0, &d) == 0);
	CU_ASSERT(mdc_open(nm[2], d.ino, 0, &a) == 0);
	CU_ASSERT(mdc_rmdir(nm[1], vi.root_ino, "cd") == 0);
	CU_ASSERT(mdc_getattr(nm[2], d.ino, &a) == 0);
	stop_cluster();
	start_cluster();	/* the coordinator moved */
	CU_ASSERT(mdc_getattr(nm[2], d.ino, &a) == 0);
	CU_ASSERT(a.nlink == 0);
	CU_ASSERT(count_entries(nm[2], d.ino) == 0);
	CU_ASSERT(mdc_release(nm[2], d.ino, CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_getattr(nm[1], d.ino, &a) == -ESTALE);
	CU_ASSERT(free_inodes(nm[1]) == ffree);
	stop_cluster();
}

/*
 * O_TMPFILE: a file without a name is an orphan while open, freed at its
 * last close or at a restart; LINK gives it a name once (a plain unlinked
 * file cannot be linked back).
 */
static void test_tmpfile(void)
{
	struct csvfs_attr a, b, t;
	uint64_t ffree;

	start();
	ffree = free_inodes(mdc);
	CU_ASSERT_FATAL(mdc_tmpfile(mdc, vi.root_ino, 0600, 0, 0,
				    CSVFS_OPEN_WRITE, &t) == 0);
	CU_ASSERT(t.nlink == 0 && S_ISREG(t.mode));
	CU_ASSERT_FATAL(mdc_mknod(mdc, vi.root_ino, "o", S_IFREG | 0644, 0,
				  0, 0, &b) == 0);
	CU_ASSERT(b.ino != t.ino);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "o") == 0);
	CU_ASSERT(mdc_release(mdc, t.ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_getattr(mdc, t.ino, &a) == -ESTALE);
	CU_ASSERT(free_inodes(mdc) == ffree);
	/* given a name: it stays after its close */
	CU_ASSERT_FATAL(mdc_tmpfile(mdc, vi.root_ino, 0600, 0, 0,
				    CSVFS_OPEN_WRITE, &t) == 0);
	CU_ASSERT(mdc_link(mdc, t.ino, vi.root_ino, "named", &a) == 0);
	CU_ASSERT(a.nlink == 1);
	CU_ASSERT(mdc_release(mdc, t.ino, CSVFS_OPEN_WRITE) == 0);
	CU_ASSERT(mdc_getattr(mdc, t.ino, &a) == 0 && a.nlink == 1);
	/* an ordinary unlinked open file does not come back */
	CU_ASSERT(mdc_open(mdc, t.ino, 0, &a) == 0);
	CU_ASSERT(mdc_unlink(mdc, vi.root_ino, "named") == 0);
	CU_ASSERT(mdc_link(mdc, t.ino, vi.root_ino, "again", &a) == -ENOENT);
	CU_ASSERT(mdc_release(mdc, t.ino, 0) == 0);
	CU_ASSERT(free_inodes(mdc) == ffree);
	/* open across a restart (a crash for it): freed */
	CU_ASSERT_FATAL(mdc_tmpfile(mdc, vi.root_ino, 0600, 0, 0,
				    CSVFS_OPEN_WRITE, &t) == 0);
	stop();
	start();
	CU_ASSERT(mdc_getattr(mdc, t.ino, &a) == -ESTALE);
	CU_ASSERT(free_inodes(mdc) == ffree);
	stop();
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
	CU_add_test(s, "rmdir of an open directory", test_rmdir_open_dir);
	CU_add_test(s, "rmdir of an open directory, then a restart",
		    test_rmdir_open_dir_restart);
	CU_add_test(s, "cluster: rmdir of a directory open on another node",
		    test_cluster_rmdir_open_dir);
	CU_add_test(s, "O_TMPFILE: orphan until linked or closed",
		    test_tmpfile);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

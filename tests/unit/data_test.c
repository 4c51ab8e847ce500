/*
 * data_test: fs/data.c, the node's data path, on a standalone coordinator
 * (testmds.h) and a real image: bytes written come back, inline and past
 * the inline size; what a write made visible is reported to the
 * coordinator (size) by data_flush; a read at EOF returns nothing. And
 * the ownership gate (fs/own.c) as the data path sees it: after a recall
 * or an unfence the file is not writable until the coordinator says this
 * node may write it (here: the file made multi-writer). And lost writes:
 * a report the coordinator refuses because the node lost the file is
 * dropped, and each open handle's next sync fails once. And tails: the
 * last partial unit of a small file kept in its inode.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "fs/data.h"
#include "fs/local.h"
#include "tests/unit/testmds.h"

#define KiB	1024ull

static struct data *data;

static int suite_init(void)
{
	return testmds_format("data_test", 1ull << 30);
}

static int suite_clean(void)
{
	return testmds_unlink();
}

/* Mounts the image and starts the data path of node 1. */
static void up(void)
{
	struct data_opts o = { 0 };

	start();
	o.mdc = mdc;
	o.dev = dev;
	o.block_shift = vi.block_shift;
	o.max_io = 1 << 20;
	o.node_id = 1;
	CU_ASSERT_FATAL(data_new(&o, &data) == 0);
}

static void down(void)
{
	data_free(data);
	data = NULL;
	stop();
}

/* A new regular file opened for writing, its data handle in *f. */
static uint64_t new_file(const char *name, struct data_file **f)
{
	struct csvfs_attr a;

	CU_ASSERT_FATAL(mdc_create(mdc, vi.root_ino, name, S_IFREG | 0644, 0,
				   0, CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, a.ino, &a, f) == 0);
	return a.ino;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* Whether [off, off + len) of f reads back as want. */
static int reads_back(struct data_file *f, uint64_t off, const uint8_t *want,
		      size_t len)
{
	const void *p;
	size_t n;

	if (data_read(data, f, off, len, &p, &n) || n != len)
		return 0;
	return memcmp(p, want, len) == 0;
}

static void test_written_bytes_read_back_inline_and_in_blocks(void)
{
	static uint8_t small[100], big[256 * KiB];
	struct data_file *f;
	struct csvfs_attr a;
	const void *p;
	uint64_t ino;
	size_t n;

	up();
	ino = new_file("rw", &f);
	fill(small, sizeof(small), 1);
	CU_ASSERT(data_write(data, f, 0, small, sizeof(small)) == 0);
	CU_ASSERT(reads_back(f, 0, small, sizeof(small)));
	/* Past the inline size: the file moves to blocks, both parts read. */
	fill(big, sizeof(big), 7);
	CU_ASSERT(data_write(data, f, 64 * KiB, big, sizeof(big)) == 0);
	CU_ASSERT(reads_back(f, 0, small, sizeof(small)));
	CU_ASSERT(reads_back(f, 64 * KiB, big, sizeof(big)));
	/* At EOF: nothing. */
	CU_ASSERT(data_read(data, f, 64 * KiB + sizeof(big), 4096, &p,
			    &n) == 0);
	CU_ASSERT_EQUAL(n, 0);
	/* data_flush tells the coordinator the size the writes made. */
	CU_ASSERT(data_flush(data, f) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT_EQUAL(a.size, 64 * KiB + sizeof(big));
	CU_ASSERT(data_close(data, f) == 0);
	/* A new handle reads what the device holds. */
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, ino, &a, &f) == 0);
	CU_ASSERT(reads_back(f, 64 * KiB, big, sizeof(big)));
	CU_ASSERT(data_close(data, f) == 0);
	down();
}

static void test_recalled_file_writes_again_only_when_owned(void)
{
	static uint8_t buf[8 * KiB];
	struct data_file *f;
	struct csvfs_attr a;
	uint64_t ino;

	up();
	ino = new_file("recalled", &f);
	fill(buf, sizeof(buf), 3);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	/* The recall flushes what was written, then closes the gate. */
	CU_ASSERT(data_recall(data, ino) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT_EQUAL(a.size, sizeof(buf));
	/* Standalone keeps no owner: the coordinator does not name us. */
	CU_ASSERT_EQUAL(data_write(data, f, 0, buf, 1), -EIO);
	CU_ASSERT_EQUAL(data_write(data, f, 0, buf, 1), -EIO);
	/* Multi-writer: anyone may write, the gate opens again. */
	CU_ASSERT(mdc_set_iflags(mdc, ino, CSVFS_IFL_MULTIWRITER, 0, &a) == 0);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(data_close(data, f) == 0);
	down();
}

static void test_fenced_node_writes_nothing_until_confirmed(void)
{
	static uint8_t buf[4 * KiB];
	struct data_file *f;
	struct csvfs_attr a;
	uint64_t ino;

	up();
	ino = new_file("fenced", &f);
	fill(buf, sizeof(buf), 5);
	data_fence(data, 1);
	CU_ASSERT_EQUAL(data_write(data, f, 0, buf, sizeof(buf)), -EIO);
	/* Unfenced: every open file must prove it is still ours. */
	data_fence(data, 0);
	CU_ASSERT_EQUAL(data_write(data, f, 0, buf, sizeof(buf)), -EIO);
	CU_ASSERT(mdc_set_iflags(mdc, ino, CSVFS_IFL_MULTIWRITER, 0, &a) == 0);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(data_close(data, f) == 0);
	down();
}

static int two_nodes(void *ctx, uint32_t node)
{
	(void)ctx;
	return node == 1 || node == 2;
}

static int no_recall(void *ctx, uint32_t node, uint64_t ino, uint32_t to)
{
	(void)ctx;
	(void)node;
	(void)ino;
	(void)to;
	return 0;
}

static void test_refused_report_is_dropped_and_fails_each_sync_once(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 0,
			      .is_member = two_nodes, .recall = no_recall,
			      .recall_ms = 300 };
	struct data_opts d = { 0 };
	static uint8_t buf[64 * KiB];
	struct mdc *nm[3];
	struct data_file *f;
	struct csvfs_attr a;
	unsigned seen1, seen2;

	testmds_start_nodes(&o, nm, 2);
	d.mdc = nm[1];
	d.dev = dev;
	d.block_shift = vi.block_shift;
	d.max_io = 1 << 20;
	d.node_id = 1;
	CU_ASSERT_FATAL(data_new(&d, &data) == 0);
	CU_ASSERT_FATAL(mdc_create(nm[1], vi.root_ino, "lost", S_IFREG | 0644,
				   0, 0, CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, a.ino, &a, &f) == 0);
	seen1 = seen2 = data_lost_seq(f);
	fill(buf, sizeof(buf), 9);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	/* Node 1 loses the file before its report (here: it let go and
	 * node 2 took it; after a partition: its hold was broken). */
	CU_ASSERT(mdc_release(nm[1], a.ino, CSVFS_OPEN_WRITE |
			      CSVFS_OPEN_LAST) == 0);
	CU_ASSERT(mdc_open(nm[2], a.ino, CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT_EQUAL(data_flush(data, f), -EIO);
	CU_ASSERT(mdc_getattr(nm[2], a.ino, &a) == 0);
	CU_ASSERT_EQUAL(a.size, 0);
	/* Dropped, not resent: the next report has nothing to say. */
	CU_ASSERT_EQUAL(data_flush(data, f), 0);
	/* Each handle hears of it once. */
	CU_ASSERT_EQUAL(data_lost_check(f, &seen1), -EIO);
	CU_ASSERT_EQUAL(data_lost_check(f, &seen1), 0);
	CU_ASSERT_EQUAL(data_lost_check(f, &seen2), -EIO);
	CU_ASSERT_EQUAL(data_lost_check(f, &seen2), 0);
	CU_ASSERT(data_close(data, f) == 0);
	data_free(data);
	data = NULL;
	testmds_stop_nodes(nm, 2);
}

/*
 * Inline (ondisk.h): without xattr records a file of up to 3840 bytes
 * stays in its inode (xattr[] too); an xattr takes it out, intact.
 */
static void test_inline_fills_the_xattr_area_without_xattrs(void)
{
	static uint8_t buf[CSVFS_INLINE_XMAX];
	struct data_file *f;
	struct csvfs_attr a;
	uint64_t ino;

	up();
	ino = new_file("inline3840", &f);
	fill(buf, sizeof(buf), 2);
	CU_ASSERT(data_write(data, f, 0, buf, 3000) == 0);
	CU_ASSERT(data_write(data, f, 3000, buf + 3000, sizeof(buf) - 3000)
		  == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.flags & CSVFS_IFL_INLINE);
	CU_ASSERT_EQUAL(a.size, CSVFS_INLINE_XMAX);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(reads_back(f, 2800, buf + 2800, 100));	/* the seam */
	CU_ASSERT(mdc_setxattr(mdc, ino, "user.k", "v", 1, 0) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(!(a.flags & CSVFS_IFL_INLINE));
	CU_ASSERT(data_close(data, f) == 0);
	CU_ASSERT(mdc_open(mdc, ino, 0, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, ino, &a, &f) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(data_close(data, f) == 0);
	down();
}

/*
 * Tails (ondisk.h): at the last close, the last partial 4 KiB of a file
 * in sub-blocks moves into its inode; it reads back (from the coordinator)
 * with the run before it; a write past the run takes it back into a
 * unit, intact.
 */
static void test_tail_moves_into_the_inode_at_last_close(void)
{
	static uint8_t buf[10000], more[3000];
	struct data_file *f;
	struct csvfs_attr a;
	uint64_t ino;

	up();
	ino = new_file("tailed", &f);
	fill(buf, sizeof(buf), 9);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	CU_ASSERT(data_close(data, f) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT_EQUAL(a.alloc_bytes, 12 * KiB);	/* still 3 units */
	CU_ASSERT(!(a.flags & CSVFS_IFL_TAIL));
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_WRITE | CSVFS_OPEN_LAST)
		  == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.flags & CSVFS_IFL_TAIL);
	CU_ASSERT_EQUAL(a.alloc_bytes, 8 * KiB);	/* 2 units + inode */
	CU_ASSERT_EQUAL(a.size, sizeof(buf));
	/* Read back whole, across the seam, and the tail alone. */
	CU_ASSERT(mdc_open(mdc, ino, CSVFS_OPEN_WRITE, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, ino, &a, &f) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(reads_back(f, 8000, buf + 8000, 500));
	CU_ASSERT(reads_back(f, 9000, buf + 9000, 1000));
	/* Appending: the tail goes back into a unit first. */
	fill(more, sizeof(more), 4);
	CU_ASSERT(data_write(data, f, sizeof(buf), more, sizeof(more)) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(reads_back(f, sizeof(buf), more, sizeof(more)));
	CU_ASSERT(data_close(data, f) == 0);
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(!(a.flags & CSVFS_IFL_TAIL));
	CU_ASSERT_EQUAL(a.size, sizeof(buf) + sizeof(more));
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_WRITE | CSVFS_OPEN_LAST)
		  == 0);
	/* 13000 bytes: 3 units and a tail of 712 bytes. */
	CU_ASSERT(mdc_getattr(mdc, ino, &a) == 0);
	CU_ASSERT(a.flags & CSVFS_IFL_TAIL);
	CU_ASSERT_EQUAL(a.alloc_bytes, 12 * KiB);
	CU_ASSERT(mdc_open(mdc, ino, 0, &a) == 0);
	CU_ASSERT_FATAL(data_open(data, ino, &a, &f) == 0);
	CU_ASSERT(reads_back(f, 0, buf, sizeof(buf)));
	CU_ASSERT(reads_back(f, sizeof(buf), more, sizeof(more)));
	CU_ASSERT(data_close(data, f) == 0);
	CU_ASSERT(mdc_release(mdc, ino, CSVFS_OPEN_LAST) == 0);
	down();
}

/*
 * The push path: an invalidation from the coordinator runs on the
 * client's reader thread, the only thread that can deliver the reply a
 * request of this node waits for. A transport that, while a GET_EXTENTS
 * is in flight, runs data_map_inval on another thread and waits for it
 * (up to 2 s) stands for that reader: if the invalidation needs a lock
 * the waiting request holds, it cannot finish (a deadlock until the
 * request timed out, 120 s, in t2800 and t2550).
 */
static struct mdc_transport real_t;
static struct data *inval_data;
static uint64_t inval_ino;
static int inval_armed, inval_finished, inval_is_stuck;
static pthread_t inval_stuck;

static void *inval_thread(void *arg)
{
	(void)arg;
	data_map_inval(inval_data, inval_ino);
	return NULL;
}

static int reader_call(void *ctx, struct csvfs_msg_hdr *hdr,
		       const void *payload, uint8_t **reply,
		       size_t *reply_len)
{
	struct timespec ts;
	pthread_t t;

	(void)ctx;
	if (inval_armed && hdr->type == CSVFS_MSG_GET_EXTENTS) {
		inval_armed = 0;
		CU_ASSERT_FATAL(pthread_create(&t, NULL, inval_thread,
					       NULL) == 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(t, NULL, &ts) == 0) {
			inval_finished = 1;
		} else {
			/* Stuck: the request ends, then the test joins it. */
			inval_stuck = t;
			inval_is_stuck = 1;
		}
	}
	return real_t.call(real_t.ctx, hdr, payload, reply, reply_len);
}

static void test_invalidation_never_waits_for_a_request(void)
{
	static uint8_t buf[256 * KiB];
	struct mdc_transport t = { reader_call, NULL };
	struct data_opts o = { 0 };
	struct data_file *f;
	struct csvfs_attr a;
	struct mdc *mdc2;
	const void *p;
	uint64_t ino;
	size_t n;

	up();
	ino = new_file("pushed", &f);
	fill(buf, sizeof(buf), 11);
	CU_ASSERT(data_write(data, f, 0, buf, sizeof(buf)) == 0);
	CU_ASSERT(data_close(data, f) == 0);
	/* A second data path whose requests go through reader_call. */
	local_transport(mds, &real_t);
	CU_ASSERT_FATAL(mdc_new(&t, 1, ++incarnation, &mdc2) == 0);
	CU_ASSERT_FATAL(mdc_hello(mdc2, "test", &vi) == 0);
	o.mdc = mdc2;
	o.dev = dev;
	o.block_shift = vi.block_shift;
	o.max_io = 1 << 20;
	o.node_id = 1;
	CU_ASSERT_FATAL(data_new(&o, &inval_data) == 0);
	CU_ASSERT(mdc_getattr(mdc2, ino, &a) == 0);
	CU_ASSERT_FATAL(data_open(inval_data, ino, &a, &f) == 0);
	inval_ino = ino;
	inval_finished = 0;
	inval_armed = 1;
	/* The first read loads the map: a GET_EXTENTS. */
	CU_ASSERT(data_read(inval_data, f, 0, 4096, &p, &n) == 0);
	if (inval_is_stuck)
		pthread_join(inval_stuck, NULL);
	CU_ASSERT_EQUAL(inval_armed, 0);
	CU_ASSERT_EQUAL(inval_finished, 1);
	CU_ASSERT(data_close(inval_data, f) == 0);
	data_free(inval_data);
	inval_data = NULL;
	mdc_free(mdc2);
	down();
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("data", suite_init, suite_clean);
	CU_add_test(s, "written bytes read back, inline and in blocks",
		    test_written_bytes_read_back_inline_and_in_blocks);
	CU_add_test(s, "a recalled file writes again only when owned",
		    test_recalled_file_writes_again_only_when_owned);
	CU_add_test(s, "a fenced node writes nothing until confirmed",
		    test_fenced_node_writes_nothing_until_confirmed);
	CU_add_test(s, "a refused report is dropped, each sync fails once",
		    test_refused_report_is_dropped_and_fails_each_sync_once);
	CU_add_test(s, "inline fills the xattr area without xattrs",
		    test_inline_fills_the_xattr_area_without_xattrs);
	CU_add_test(s, "a tail moves into the inode at the last close",
		    test_tail_moves_into_the_inode_at_last_close);
	CU_add_test(s, "an invalidation never waits for a request",
		    test_invalidation_never_waits_for_a_request);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/*
 * jrnl_test: meta/jrnl.c on real, freshly formatted sparse images in /tmp.
 *
 * A crash "before the in-place writes reached the disk" is simulated on a
 * copy of the image taken after the commit (the journal region as
 * committed), with the target blocks' pre-commit contents written back
 * over their in-place location. jrnl_replay then runs on that copy.
 *
 *   commit/replay    a committed transaction is replayed once, exactly
 *   torn             a bad commit record or a bad image drops the tx
 *   two tx           the first is applied, a torn second is dropped
 *   undo             jop_end(-EIO) restores the blocks, commits nothing,
 *                    also after jop_new of an uncached block in use
 *   wrap             hundreds of commits wrap a 4 MiB journal
 *   large            one commit of 1200 blocks (three descriptors)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"
#include "lockd/hb.h"

#define IMG_SIZE	(64ull << 20)
#define VAL_OFF		0x40	/* test value in a test block */
#define TEST_MAGIC	CSVFS_MAGIC_EXTENT

static char img[64], crash[64];
static struct dev *dev;
static struct csvfs_super sb;
static struct jrnl *jr;
static struct alloc *al;

/* ---- fixture ------------------------------------------------------------ */

/* Formats a fresh sparse image and opens journal + allocator. */
static int vol_open(uint64_t journal_bytes)
{
	struct fmt_opts o;
	struct jop op;
	uint64_t ntx;
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
	o.journal_bytes = journal_bytes;
	rc = dev_open(img, 0, &dev);
	if (!rc)
		rc = fmt_volume(dev, &o, NULL);
	if (!rc)
		rc = fmt_read_super(dev, &sb);
	if (!rc)
		rc = jrnl_replay(dev, &sb, &ntx);
	if (!rc)
		rc = jrnl_open(dev, &sb, JRNL_NO_THREAD, &jr);
	if (rc)
		return rc;
	jop_begin(jr, &op);
	rc = alloc_load(&op, &sb, &al);
	jop_end(&op, rc);
	return rc;
}

static void vol_close(void)
{
	alloc_release(al);
	al = NULL;
	if (jr)
		CU_ASSERT_EQUAL(jrnl_close(jr), 0);
	jr = NULL;
	if (dev)
		dev_close(dev);
	dev = NULL;
	unlink(img);
	unlink(crash);
}

/* Reads n blocks' current contents from the image through a plain fd. */
static int save_blocks(const uint64_t *m, unsigned n, uint8_t *out)
{
	int fd = open(img, O_RDONLY);
	unsigned i;
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (i = 0; i < n && !rc; i++)
		if (pread(fd, out + (size_t)i * CSVFS_MBLK_SIZE,
			  CSVFS_MBLK_SIZE, (off_t)(m[i] * CSVFS_MBLK_SIZE)) !=
		    CSVFS_MBLK_SIZE)
			rc = -EIO;
	close(fd);
	return rc;
}

/*
 * The crash: copies the image as it is now (journal committed) to crash[],
 * then puts the pre-commit contents of the n target blocks back.
 */
static int crash_copy(const uint64_t *m, unsigned n, const uint8_t *old)
{
	char cmd[200];
	unsigned i;
	int fd, rc = 0;

	snprintf(cmd, sizeof(cmd), "cp --sparse=always %s %s", img, crash);
	if (system(cmd) != 0)
		return -EIO;
	fd = open(crash, O_RDWR);
	if (fd < 0)
		return -errno;
	for (i = 0; i < n && !rc; i++)
		if (pwrite(fd, old + (size_t)i * CSVFS_MBLK_SIZE,
			   CSVFS_MBLK_SIZE, (off_t)(m[i] * CSVFS_MBLK_SIZE)) !=
		    CSVFS_MBLK_SIZE)
			rc = -EIO;
	close(fd);	/* O_DIRECT reads write back dirty pages first */
	return rc;
}

/* Overwrites one byte of mblk in the crash copy (xor 0xff). */
static int crash_flip(uint64_t mblk, unsigned off)
{
	uint8_t c;
	int fd = open(crash, O_RDWR), rc = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &c, 1, (off_t)(mblk * CSVFS_MBLK_SIZE + off)) != 1)
		rc = -EIO;
	c ^= 0xff;
	if (!rc && pwrite(fd, &c, 1, (off_t)(mblk * CSVFS_MBLK_SIZE + off)) !=
		   1)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Reads one block of d, checked. */
static int dread(struct dev *d, uint64_t mblk, uint32_t magic, uint8_t *raw)
{
	int rc = dev_pread(d, raw, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);

	if (!rc)
		rc = od_check(raw, magic, mblk, sb.hdr.uuid);
	return rc;
}

/* next_generation of the volume state block of d. */
static int disk_gen(struct dev *d, uint64_t *gen)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct csvfs_vstate vs;
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dread(d, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, raw);
	if (!rc) {
		od_vstate_decode(raw, &vs);
		*gen = vs.next_generation;
	}
	free(raw);
	return rc;
}

/* The value of test block mblk of d; -CSVFS_E* if it is not one. */
static int disk_val(struct dev *d, uint64_t mblk, uint64_t *v)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dread(d, mblk, TEST_MAGIC, raw);
	if (!rc)
		*v = od_get64(raw + VAL_OFF);
	free(raw);
	return rc;
}

/* In an open op: sets the state block's next_generation. */
static int set_gen(struct jop *op, uint64_t gen)
{
	struct csvfs_vstate vs;
	struct mbuf *b;
	int rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &b);

	if (!rc)
		rc = jop_write(op, b);
	if (rc)
		return rc;
	od_vstate_decode(b->data, &vs);
	vs.next_generation = gen;
	od_vstate_encode(&vs, b->data);
	return 0;
}

/* In an open op: makes mblk a fresh test block holding v. */
static int new_val(struct jop *op, uint64_t mblk, uint64_t v)
{
	struct csvfs_mhdr h;
	struct mbuf *b;
	int rc = jop_new(op, mblk, &b);

	if (rc)
		return rc;
	od_hdr_init(&h, TEST_MAGIC, mblk, jrnl_uuid(op->j));
	od_mhdr_encode(&h, b->data);
	od_put64(b->data + VAL_OFF, v);
	return 0;
}

/* In an open op: changes existing test block mblk to v. */
static int set_val(struct jop *op, uint64_t mblk, uint64_t v)
{
	struct mbuf *b;
	int rc = jop_read(op, mblk, TEST_MAGIC, &b);

	if (!rc)
		rc = jop_write(op, b);
	if (!rc)
		od_put64(b->data + VAL_OFF, v);
	return rc;
}

/* Journal offset (from journal_mblk) of the oldest transaction, on d. */
static int jsb_start(struct dev *d, uint64_t *start)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct csvfs_jsb jsb;
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dread(d, sb.journal_mblk, CSVFS_MAGIC_JSB, raw);
	if (!rc) {
		od_jsb_decode(raw, &jsb);
		*start = jsb.start;
	}
	free(raw);
	return rc;
}

/* nblocks of the (single) descriptor at journal offset pos of d. */
static int jdesc_n(struct dev *d, uint64_t pos, unsigned *n)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct csvfs_jdesc jd;
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dread(d, sb.journal_mblk + pos, CSVFS_MAGIC_JDESC, raw);
	if (!rc) {
		od_jdesc_decode(raw, &jd);
		*n = jd.nblocks;
	}
	free(raw);
	return rc;
}

/*
 * One operation: state gen, and a fresh block from alloc_mblk (*newm)
 * holding v. It changes 3 blocks: state, the chunk header, *newm.
 */
static int op_gen_and_new(uint64_t gen, uint64_t v, uint64_t *newm)
{
	struct jop op;
	int rc;

	jop_begin(jr, &op);
	rc = set_gen(&op, gen);
	if (!rc)
		rc = alloc_mblk(al, &op, newm);
	if (!rc)
		rc = new_val(&op, *newm, v);
	jop_end(&op, rc);
	return rc;
}

/* ---- tests ------------------------------------------------------------- */

/*
 * Commit, crash before the in-place writes, replay: the new contents are
 * there; a second replay is a no-op.
 */
static void test_commit_replay(void)
{
	uint64_t m[3], gen0, gen, v, newm, ntx = 99, st2, st3;
	uint8_t *old = dev_alloc_buf(3 * CSVFS_MBLK_SIZE);
	struct dev *cd = NULL;
	struct jrnl_stats js;

	CU_ASSERT_FATAL(old != NULL);
	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	m[0] = CSVFS_STATE_MBLK;
	m[1] = sb.first_chunk << (sb.block_shift - CSVFS_MBLK_SHIFT);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 7, 0xabcdef, &newm), 0);
	m[2] = newm;
	CU_ASSERT(newm > m[1] && newm < m[1] +
		  (1u << (sb.block_shift - CSVFS_MBLK_SHIFT)));
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, 3, old), 0);
	CU_ASSERT_EQUAL(disk_val(dev, newm, &v), -CSVFS_EBADMAGIC);
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js);
	CU_ASSERT_EQUAL(js.commits, 1);
	CU_ASSERT_EQUAL(js.blocks, 3);
	/* The live image has the new contents in place. */
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 7);

	CU_ASSERT_EQUAL_FATAL(crash_copy(m, 3, old), 0);
	CU_ASSERT_EQUAL_FATAL(dev_open(crash, 0, &cd), 0);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);		/* the crash lost it */
	CU_ASSERT_EQUAL(disk_val(cd, newm, &v), -CSVFS_EBADMAGIC);
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT_EQUAL(ntx, 1);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 7);
	CU_ASSERT_EQUAL(disk_val(cd, newm, &v), 0);
	CU_ASSERT_EQUAL(v, 0xabcdef);
	CU_ASSERT_EQUAL(jsb_start(cd, &st2), 0);

	/* Twice: nothing more, nothing changed. */
	ntx = 99;
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT_EQUAL(ntx, 0);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 7);
	CU_ASSERT_EQUAL(disk_val(cd, newm, &v), 0);
	CU_ASSERT_EQUAL(v, 0xabcdef);
	CU_ASSERT_EQUAL(jsb_start(cd, &st3), 0);
	CU_ASSERT_EQUAL(st3, st2);
	dev_close(cd);
	free(old);
	vol_close();
}

/*
 * Commits one transaction (state gen, chunk header, new block), makes the
 * crash copy, flips byte off of the commit record (or of the second block
 * image), replays it and checks nothing was applied.
 */
static void torn_one(int image, unsigned off)
{
	uint64_t m[3], gen0, gen, v, newm, ntx = 99, start;
	uint8_t *old = dev_alloc_buf(3 * CSVFS_MBLK_SIZE);
	struct dev *cd = NULL;
	unsigned n = 0;

	CU_ASSERT_FATAL(old != NULL);
	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	m[0] = CSVFS_STATE_MBLK;
	m[1] = sb.first_chunk << (sb.block_shift - CSVFS_MBLK_SHIFT);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 3, 42, &newm), 0);
	m[2] = newm;
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, 3, old), 0);
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	CU_ASSERT_EQUAL_FATAL(crash_copy(m, 3, old), 0);
	CU_ASSERT_EQUAL_FATAL(dev_open(crash, 0, &cd), 0);
	CU_ASSERT_EQUAL_FATAL(jsb_start(cd, &start), 0);
	CU_ASSERT_EQUAL_FATAL(jdesc_n(cd, start, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	/* The second image (its own checksum is not checked) or commit. */
	CU_ASSERT_EQUAL(crash_flip(sb.journal_mblk + start +
				   (image ? 2 : 1 + n), off), 0);
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT_EQUAL(ntx, 0);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);
	CU_ASSERT_EQUAL(disk_val(cd, newm, &v), -CSVFS_EBADMAGIC);
	dev_close(cd);
	free(old);
	vol_close();
}

/*
 * Epoch fencing: once another coordinator has bumped the epoch in the
 * superblock, the next group commit writes nothing (neither the journal
 * nor in place), fails with -CSVFS_ESTALEEPOCH, and so does every later
 * one; each group costs one superblock read.
 */
static void test_stale_epoch_writes_nothing(void)
{
	uint64_t jm[16], gen0, gen, newm;
	uint8_t *before = dev_alloc_buf(16 * CSVFS_MBLK_SIZE);
	uint8_t *after = dev_alloc_buf(16 * CSVFS_MBLK_SIZE);
	struct csvfs_super other;
	struct jrnl_stats js;
	unsigned i;

	CU_ASSERT_FATAL(before && after);
	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	/* As mds_start: the epoch bumped on disk, then the fence set. */
	sb.coord_epoch++;
	CU_ASSERT_EQUAL_FATAL(fmt_write_super(dev, &sb, 0), 0);
	jrnl_fence_epoch(jr, sb.coord_epoch);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 1, 1, &newm), 0);
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js);
	CU_ASSERT_EQUAL(js.epoch_checks, 1);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 1);

	/* Another node takes over. */
	other = sb;
	other.coord_epoch = sb.coord_epoch + 1;
	other.coord_node = 2;
	CU_ASSERT_EQUAL_FATAL(fmt_write_super(dev, &other, 0), 0);
	for (i = 0; i < 16; i++)
		jm[i] = sb.journal_mblk + i;
	CU_ASSERT_EQUAL_FATAL(save_blocks(jm, 16, before), 0);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 2, 2, &newm), 0);
	CU_ASSERT_EQUAL(jrnl_commit(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(jrnl_error(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 1);
	CU_ASSERT_EQUAL_FATAL(save_blocks(jm, 16, after), 0);
	CU_ASSERT(memcmp(before, after, 16 * CSVFS_MBLK_SIZE) == 0);
	/* Sticky: the close writes nothing either. */
	CU_ASSERT_EQUAL(jrnl_close(jr), -CSVFS_ESTALEEPOCH);
	jr = NULL;
	CU_ASSERT_EQUAL_FATAL(save_blocks(jm, 16, after), 0);
	CU_ASSERT(memcmp(before, after, 16 * CSVFS_MBLK_SIZE) == 0);
	free(before);
	free(after);
	vol_close();
}

/*
 * A coordinator frozen between its group's epoch check and the group's
 * writes (here: the recorder, called as the journal write goes out,
 * lets another node take over and sleeps past CSVFS_FENCE_PROOF_MS):
 * the in-place writes ask for a fresh proof, read the superblock again
 * and write nothing; the error sticks and the close writes nothing.
 */
static struct csvfs_super stall_other;
static int stall_armed, stall_writes_after;

static void stall_record(void *ctx, int op, uint64_t off, const void *buf,
			 size_t len)
{
	(void)ctx;
	(void)off;
	(void)buf;
	(void)len;
	if (op != DEV_REC_WRITE)
		return;
	if (stall_armed == 1) {
		stall_armed = 0;
		/* Another coordinator bumps the epoch meanwhile. */
		CU_ASSERT_EQUAL(fmt_write_super(dev, &stall_other, 0), 0);
		usleep((CSVFS_FENCE_PROOF_MS + 200) * 1000);
		stall_armed = 2;
		return;
	}
	if (stall_armed == 2)
		stall_writes_after++;
}

static void test_frozen_between_check_and_write_writes_nothing_more(void)
{
	uint64_t gen0, gen, newm;
	struct jrnl_stats js;

	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	sb.coord_epoch++;
	CU_ASSERT_EQUAL_FATAL(fmt_write_super(dev, &sb, 0), 0);
	jrnl_fence_epoch(jr, sb.coord_epoch);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 1, 1, &newm), 0);
	stall_other = sb;
	stall_other.coord_epoch = sb.coord_epoch + 1;
	stall_other.coord_node = 2;
	stall_armed = 1;
	stall_writes_after = 0;
	dev->record = stall_record;
	/* The journal write went out before the stall (the window no clock
	 * closes); nothing after it did. */
	CU_ASSERT_EQUAL(jrnl_commit(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(stall_armed, 2);
	CU_ASSERT_EQUAL(stall_writes_after, 0);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);
	jrnl_get_stats(jr, &js);
	CU_ASSERT_EQUAL(js.epoch_checks, 2);
	CU_ASSERT_EQUAL(jrnl_error(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(jrnl_fence_check(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(jrnl_close(jr), -CSVFS_ESTALEEPOCH);
	jr = NULL;
	CU_ASSERT_EQUAL(stall_writes_after, 0);
	dev->record = NULL;
	vol_close();
}

/* jrnl_abandon: a change pending at the moment is never written. */
static void test_abandon_writes_nothing(void)
{
	uint64_t gen0, gen, newm;

	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 1, 1, &newm), 0);
	stall_armed = 2;
	stall_writes_after = 0;
	dev->record = stall_record;
	jrnl_abandon(jr);
	CU_ASSERT_EQUAL(jrnl_commit(jr), -CSVFS_ESTALEEPOCH);
	CU_ASSERT_EQUAL(jrnl_close(jr), -CSVFS_ESTALEEPOCH);
	jr = NULL;
	CU_ASSERT_EQUAL(stall_writes_after, 0);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);
	dev->record = NULL;
	stall_armed = 0;
	vol_close();
}

static void test_torn_commit(void)
{
	torn_one(0, 0x44);		/* data_crc field */
	torn_one(0, 0x800);		/* reserved bytes: block checksum */
}

static void test_torn_image(void)
{
	torn_one(1, 0x300);
}

/* Two transactions, the second torn: only the first is applied. */
static void test_two_tx_second_torn(void)
{
	uint64_t m[4], gen0, gen, v, a, b, ntx = 99, start;
	uint8_t *old = dev_alloc_buf(4 * CSVFS_MBLK_SIZE);
	struct dev *cd = NULL;
	unsigned n1 = 0, n2 = 0;

	CU_ASSERT_FATAL(old != NULL);
	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	m[0] = CSVFS_STATE_MBLK;
	m[1] = sb.first_chunk << (sb.block_shift - CSVFS_MBLK_SHIFT);
	/* The blocks the two transactions will take. */
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 1, 111, &a), 0);
	m[2] = a;
	m[3] = a + 1;
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, 4, old), 0);
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	CU_ASSERT_EQUAL_FATAL(op_gen_and_new(gen0 + 2, 222, &b), 0);
	CU_ASSERT_EQUAL_FATAL(b, a + 1);
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 2);

	CU_ASSERT_EQUAL_FATAL(crash_copy(m, 4, old), 0);
	CU_ASSERT_EQUAL_FATAL(dev_open(crash, 0, &cd), 0);
	CU_ASSERT_EQUAL_FATAL(jsb_start(cd, &start), 0);
	CU_ASSERT_EQUAL_FATAL(jdesc_n(cd, start, &n1), 0);
	CU_ASSERT_EQUAL_FATAL(n1, 3);
	CU_ASSERT_EQUAL_FATAL(jdesc_n(cd, start + n1 + 2, &n2), 0);
	CU_ASSERT_EQUAL_FATAL(n2, 3);
	CU_ASSERT_EQUAL(crash_flip(sb.journal_mblk + start + n1 + 2 + 1 + n2,
				   0x44), 0);
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT_EQUAL(ntx, 1);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 1);
	CU_ASSERT_EQUAL(disk_val(cd, a, &v), 0);
	CU_ASSERT_EQUAL(v, 111);
	CU_ASSERT_EQUAL(disk_val(cd, b, &v), -CSVFS_EBADMAGIC);
	dev_close(cd);
	free(old);
	vol_close();
}

/* jop_end with an error restores the blocks and commits nothing. */
static void test_undo(void)
{
	struct csvfs_vstate vs;
	struct jrnl_stats js0, js1;
	struct mbuf *b;
	struct jop op;
	uint64_t gen0, gen, tid, newm = 0, mused0, v;
	struct alloc_stats as;
	int rc;

	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	jrnl_get_stats(jr, &js0);
	alloc_get_stats(al, &as);
	mused0 = as.mblks_used;

	/* A failed op alone: nothing dirty, nothing to commit. */
	jop_begin(jr, &op);
	rc = set_gen(&op, gen0 + 50);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(alloc_mblk(al, &op, &newm), 0);
	CU_ASSERT_EQUAL(new_val(&op, newm, 5), 0);
	tid = jop_end(&op, -EIO);
	CU_ASSERT_EQUAL(tid, 0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(alloc_resync(al, &op), 0);
	CU_ASSERT_EQUAL(jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &b),
			0);
	od_vstate_decode(b->data, &vs);
	CU_ASSERT_EQUAL(vs.next_generation, gen0);
	jop_end(&op, 0);
	alloc_get_stats(al, &as);
	CU_ASSERT_EQUAL(as.mblks_used, mused0);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js1);
	CU_ASSERT_EQUAL(js1.commits, js0.commits);
	CU_ASSERT_EQUAL(js1.blocks, js0.blocks);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);
	CU_ASSERT_EQUAL(disk_val(dev, newm, &v), -CSVFS_EBADMAGIC);

	/*
	 * A failed op on a block already dirty in the running transaction:
	 * back to the first op's value, still committed with it.
	 */
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(set_gen(&op, gen0 + 1), 0);
	CU_ASSERT(jop_end(&op, 0) != 0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(set_gen(&op, gen0 + 2), 0);
	CU_ASSERT_EQUAL(jop_end(&op, -EIO), 0);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js1);
	CU_ASSERT_EQUAL(js1.commits, js0.commits + 1);
	CU_ASSERT_EQUAL(js1.blocks, js0.blocks + 1);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + 1);
	vol_close();
}

/*
 * jop_new on a block that is in use on disk but not cached (fsck rewrites
 * inodes and the state block this way), then jop_end(-EIO): the block must
 * read back as it was, not as the zeroes jop_new handed out.
 */
static void test_undo_new_uncached(void)
{
	struct csvfs_vstate vs;
	struct jrnl_stats js0, js1;
	struct mbuf *b;
	struct jop op;
	uint64_t gen0, gen, base, i;
	int rc;

	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	jrnl_get_stats(jr, &js0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(jop_new(&op, CSVFS_STATE_MBLK, &b), 0);
	CU_ASSERT_EQUAL(jop_end(&op, -EIO), 0);
	jop_begin(jr, &op);
	rc = jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &b);
	CU_ASSERT_EQUAL(rc, 0);
	if (!rc) {
		od_vstate_decode(b->data, &vs);
		CU_ASSERT_EQUAL(vs.next_generation, gen0);
	}
	jop_end(&op, 0);
	CU_ASSERT_EQUAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js1);
	CU_ASSERT_EQUAL(js1.commits, js0.commits);
	CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0);
	vol_close();

	/* The same when jop_new itself fails (-E2BIG: op already full). */
	CU_ASSERT_EQUAL_FATAL(vol_open(0), 0);
	base = (sb.total_blocks - 5) << (sb.block_shift - CSVFS_MBLK_SHIFT);
	jop_begin(jr, &op);
	for (i = 0, rc = 0; i < JOP_MAX_BLOCKS && !rc; i++)
		rc = new_val(&op, base + i, i);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(jop_new(&op, CSVFS_STATE_MBLK, &b), -E2BIG);
	CU_ASSERT_EQUAL(jop_end(&op, 0), 0);	/* failed: undone */
	jop_begin(jr, &op);
	rc = jop_read(&op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &b);
	CU_ASSERT_EQUAL(rc, 0);
	jop_end(&op, 0);
	vol_close();
}

/*
 * Enough commits to wrap a 4 MiB journal several times, each durable;
 * a crash then still replays to the latest contents.
 */
#define WRAP_COMMITS	1200
static void test_wrap(void)
{
	uint64_t m[2], gen0, gen, v, x = 0, ntx = 0, i;
	uint8_t *old = dev_alloc_buf(2 * CSVFS_MBLK_SIZE);
	struct jrnl_stats js;
	struct dev *cd = NULL;
	struct jop op;

	CU_ASSERT_FATAL(old != NULL);
	CU_ASSERT_EQUAL_FATAL(vol_open(4ull << 20), 0);
	CU_ASSERT_EQUAL(sb.journal_len, 1024);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	m[0] = CSVFS_STATE_MBLK;
	/* A test block outside any chunk (the journal does not care). */
	m[1] = (sb.total_blocks - 1) << (sb.block_shift - CSVFS_MBLK_SHIFT);
	x = m[1];
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, 2, old), 0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(new_val(&op, x, 0), 0);
	jop_end(&op, 0);
	for (i = 1; i <= WRAP_COMMITS; i++) {
		int rc;

		jop_begin(jr, &op);
		rc = set_gen(&op, gen0 + i);
		if (!rc)
			rc = set_val(&op, x, i);
		jop_end(&op, rc);
		if (rc || (rc = jrnl_commit(jr)) != 0) {
			CU_FAIL("commit in wrap loop");
			fprintf(stderr, "commit %" PRIu64 ": %d\n", i, rc);
			break;
		}
		CU_ASSERT_EQUAL(disk_gen(dev, &gen), 0);
		if (gen != gen0 + i) {
			CU_FAIL("not durable in place");
			break;
		}
	}
	jrnl_get_stats(jr, &js);
	CU_ASSERT_EQUAL(js.commits, WRAP_COMMITS);
	CU_ASSERT(js.checkpoints >= 2);	/* wrapped at least twice */

	CU_ASSERT_EQUAL_FATAL(crash_copy(m, 2, old), 0);
	CU_ASSERT_EQUAL_FATAL(dev_open(crash, 0, &cd), 0);
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT(ntx >= 1);
	CU_ASSERT_EQUAL(disk_gen(cd, &gen), 0);
	CU_ASSERT_EQUAL(gen, gen0 + WRAP_COMMITS);
	CU_ASSERT_EQUAL(disk_val(cd, x, &v), 0);
	CU_ASSERT_EQUAL(v, WRAP_COMMITS);
	dev_close(cd);
	free(old);
	vol_close();
}

/*
 * Wrap with crashes at many points: for every fifth commit from the 60th
 * to the 400th (the journal wraps several times, with unused tails of
 * different lengths), the crash copy replays to that commit's values.
 */
static void test_wrap_each_point(void)
{
	uint64_t m[2], gen0, gen, v, x, ntx, i;
	uint8_t *old = dev_alloc_buf(2 * CSVFS_MBLK_SIZE);
	struct jrnl_stats js;
	struct dev *cd = NULL;
	struct jop op;
	unsigned bad = 0;

	CU_ASSERT_FATAL(old != NULL);
	CU_ASSERT_EQUAL_FATAL(vol_open(4ull << 20), 0);
	CU_ASSERT_EQUAL_FATAL(disk_gen(dev, &gen0), 0);
	m[0] = CSVFS_STATE_MBLK;
	m[1] = (sb.total_blocks - 1) << (sb.block_shift - CSVFS_MBLK_SHIFT);
	x = m[1];
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, 2, old), 0);
	jop_begin(jr, &op);
	CU_ASSERT_EQUAL(new_val(&op, x, 0), 0);
	jop_end(&op, 0);
	/*
	 * Commits of 4 to 12 journal blocks (state, x and 0..8 scratch
	 * blocks, not checked): 1023 usable, so the journal wraps a few
	 * times, with tails of different lengths left unused.
	 */
	for (i = 1; i <= 400; i++) {
		uint64_t k, extra = (i * 7) % 9;
		int rc;

		jop_begin(jr, &op);
		rc = set_gen(&op, gen0 + i);
		if (!rc)
			rc = set_val(&op, x, i);
		for (k = 0; k < extra && !rc; k++)
			rc = new_val(&op, x - 1 - k, i);
		jop_end(&op, rc);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
		if (i < 60 || i % 5)	/* a crash copy costs ~0.1 s */
			continue;
		ntx = 0;
		if (crash_copy(m, 2, old) || dev_open(crash, 0, &cd)) {
			CU_FAIL("crash copy");
			break;
		}
		if (jrnl_replay(cd, &sb, &ntx) || disk_gen(cd, &gen) ||
		    gen != gen0 + i || disk_val(cd, x, &v) || v != i) {
			if (bad++ < 5)
				fprintf(stderr, "\n  crash after commit %"
					PRIu64 ": ntx %" PRIu64 "\n", i, ntx);
		}
		dev_close(cd);
		cd = NULL;
	}
	CU_ASSERT_EQUAL(bad, 0);
	jrnl_get_stats(jr, &js);
	CU_ASSERT(js.checkpoints >= 3);
	free(old);
	vol_close();
}

/* One commit of 1200 blocks (two ops of 600): three descriptors. */
#define LARGE_OPS	2
#define LARGE_PER_OP	600
static void test_large_tx(void)
{
	const unsigned n = LARGE_OPS * LARGE_PER_OP;
	uint64_t *m = calloc(n, sizeof(*m)), base, v, ntx = 0, start;
	uint8_t *old = dev_alloc_buf((size_t)n * CSVFS_MBLK_SIZE);
	struct jrnl_stats js;
	struct dev *cd = NULL;
	struct jop op;
	unsigned i, k, bad = 0, d1 = 0, d2 = 0;
	int rc;

	CU_ASSERT_FATAL(m != NULL && old != NULL);
	/* 1203 journal blocks do not fit in a 4 MiB journal. */
	CU_ASSERT_EQUAL_FATAL(vol_open(8ull << 20), 0);
	base = (sb.total_blocks - 5) << (sb.block_shift - CSVFS_MBLK_SHIFT);
	for (i = 0; i < n; i++)
		m[i] = base + i;
	CU_ASSERT_EQUAL_FATAL(save_blocks(m, n, old), 0);
	for (k = 0; k < LARGE_OPS; k++) {
		jop_begin(jr, &op);
		rc = 0;
		for (i = 0; i < LARGE_PER_OP && !rc; i++)
			rc = new_val(&op, m[k * LARGE_PER_OP + i],
				     1000 + k * LARGE_PER_OP + i);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(jop_end(&op, rc) != 0);
	}
	CU_ASSERT_EQUAL_FATAL(jrnl_commit(jr), 0);
	jrnl_get_stats(jr, &js);
	CU_ASSERT_EQUAL(js.commits, 1);
	CU_ASSERT_EQUAL(js.blocks, n);

	CU_ASSERT_EQUAL_FATAL(crash_copy(m, n, old), 0);
	CU_ASSERT_EQUAL_FATAL(dev_open(crash, 0, &cd), 0);
	CU_ASSERT_EQUAL(disk_val(cd, m[0], &v), -CSVFS_EBADMAGIC);
	CU_ASSERT_EQUAL(jsb_start(cd, &start), 0);
	/* CSVFS_JDESC_MAX is 502: descriptors of 502, 502 and 196. */
	for (i = 0, k = 0; i < n; k++) {
		d1 = 0;
		CU_ASSERT_EQUAL_FATAL(jdesc_n(cd, start + i + k, &d1), 0);
		d2 = n - i < CSVFS_JDESC_MAX ? n - i : CSVFS_JDESC_MAX;
		CU_ASSERT_EQUAL_FATAL(d1, d2);
		i += d1;
	}
	CU_ASSERT_EQUAL(k, (n + CSVFS_JDESC_MAX - 1) / CSVFS_JDESC_MAX);
	CU_ASSERT_EQUAL(jrnl_replay(cd, &sb, &ntx), 0);
	CU_ASSERT_EQUAL(ntx, 1);
	for (i = 0; i < n; i++)
		if (disk_val(cd, m[i], &v) || v != 1000 + i)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	dev_close(cd);

	/* One op may not change more than JOP_MAX_BLOCKS blocks. */
	jop_begin(jr, &op);
	rc = 0;
	for (i = 0; i <= JOP_MAX_BLOCKS && !rc; i++)
		rc = new_val(&op, base + i, 7);
	CU_ASSERT_EQUAL(rc, -E2BIG);
	CU_ASSERT_EQUAL(i, JOP_MAX_BLOCKS + 1);
	CU_ASSERT_EQUAL(jop_end(&op, rc), 0);
	CU_ASSERT_EQUAL(disk_val(dev, base, &v), 0);
	CU_ASSERT_EQUAL(v, 1000);
	free(m);
	free(old);
	vol_close();
}

int main(void)
{
	CU_pSuite s;
	int fails;

	snprintf(img, sizeof(img), "/tmp/jrnl_test.%d.img", (int)getpid());
	snprintf(crash, sizeof(crash), "/tmp/jrnl_test.%d.crash",
		 (int)getpid());
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("jrnl", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "a committed transaction is replayed after a "
			 "crash before the in-place writes; a second replay "
			 "is a no-op", test_commit_replay) ||
	    !CU_add_test(s, "after another coordinator bumped the epoch "
			 "a commit writes nothing", test_stale_epoch_writes_nothing) ||
	    !CU_add_test(s, "frozen between check and write writes nothing "
			 "more",
			 test_frozen_between_check_and_write_writes_nothing_more) ||
	    !CU_add_test(s, "abandon writes nothing",
			 test_abandon_writes_nothing) ||
	    !CU_add_test(s, "a torn commit record drops the transaction",
			 test_torn_commit) ||
	    !CU_add_test(s, "a torn block image (data_crc mismatch) drops "
			 "the transaction", test_torn_image) ||
	    !CU_add_test(s, "two transactions, the second torn: only the "
			 "first is applied", test_two_tx_second_torn) ||
	    !CU_add_test(s, "jop_end with an error restores the blocks and "
			 "commits nothing", test_undo) ||
	    !CU_add_test(s, "an undone jop_new of an uncached block in use "
			 "leaves it readable as before",
			 test_undo_new_uncached) ||
	    !CU_add_test(s, "commits that wrap a 4 MiB journal are durable "
			 "and replay to the latest contents", test_wrap) ||
	    !CU_add_test(s, "crashes at many points across several wraps, "
			 "commits of varied sizes: each replays to the last "
			 "commit", test_wrap_each_point) ||
	    !CU_add_test(s, "a 1200-block transaction (three descriptors) "
			 "commits and replays; an op of more than "
			 "JOP_MAX_BLOCKS gets -E2BIG", test_large_tx)) {
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

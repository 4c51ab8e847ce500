/*
 * fsck_test: fsck on a real volume. A 1 GiB image is formatted and filled
 * through the coordinator (files with blocks, directories, a hard link, a
 * symlink, inline data); each test damages a copy of it the way a bug or a
 * crash would (raw block edits, or operations through the journal), then
 * checks that -n finds the damage and writes nothing, -y repairs it, and a
 * second -n finds the volume clean.
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
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mdc.h"
#include "tests/unit/testimg.h"

/* Every mount is a new incarnation (request records are per mount). */
static uint64_t incarnation = 7;

static char golden[64], img[80];
static struct csvfs_super sb;
/* What populate() made (the same in every copy of the golden image). */
static uint64_t root, d1, d2, sub, f1, f2, big, small, sl;
static uint64_t f1_pblk, f2_pblk;
static char out[1 << 16];		/* last fsck output */
static int force = 1;			/* -f with -p */

/* ---- helpers ------------------------------------------------------------- */

static int copy_golden(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always %s %s", golden, img);
	return system(cmd);
}

static const char *mode_name(enum fsck_mode m)
{
	return m == FSCK_MODE_NO ? "-n" : m == FSCK_MODE_YES ? "-y" :
	       m == FSCK_MODE_PREEN ? "-p" : "(check)";
}

/* Runs fsck on img; its output goes to the log and to out[]. */
static int fsck(enum fsck_mode mode, struct fsck_report *r)
{
	struct fsck_opts o = { .mode = mode, .force = force };
	char *buf = NULL;
	size_t len = 0;
	struct dev *d;
	int rc;

	o.out = open_memstream(&buf, &len);
	if (!o.out)
		return -1;
	rc = dev_open(img, mode == FSCK_MODE_YES || mode == FSCK_MODE_PREEN ?
		      0 : DEV_RDONLY, &d);
	if (rc) {
		fclose(o.out);
		free(buf);
		return -1;
	}
	rc = fsck_run(d, &o, r);
	dev_close(d);
	fclose(o.out);
	printf("\n---- fsck %s: exit %d\n%s", mode_name(mode), rc, buf);
	snprintf(out, sizeof(out), "%s", buf);
	free(buf);
	return rc;
}

static int has(const char *s)
{
	return strstr(out, s) != NULL;
}

/* Raw access to one mblk of img. */
static int raw_io(uint64_t mblk, uint8_t *buf, int write, int seal)
{
	uint8_t *b = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct dev *d;
	int rc;

	if (!b)
		return -ENOMEM;
	rc = dev_open(img, 0, &d);
	if (rc) {
		free(b);
		return rc;
	}
	if (write) {
		memcpy(b, buf, CSVFS_MBLK_SIZE);
		if (seal)
			od_seal(b);
		rc = dev_pwrite(d, b, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
		if (!rc)
			rc = dev_flush(d);
	} else {
		rc = dev_pread(d, b, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
		memcpy(buf, b, CSVFS_MBLK_SIZE);
	}
	dev_close(d);
	free(b);
	return rc;
}

static int inode_get(uint64_t ino, struct csvfs_inode *in)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	int rc = raw_io(ino, raw, 0, 0);

	if (!rc)
		od_inode_decode(raw, in);
	return rc;
}

static int inode_put(const struct csvfs_inode *in)
{
	uint8_t raw[CSVFS_MBLK_SIZE];

	od_inode_encode(in, raw);
	return raw_io(in->hdr.mblk, raw, 1, 1);
}

static uint64_t bsize(void)
{
	return 1ull << sb.block_shift;
}

static int bitmap_bit(uint64_t b, int set, int *was)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	uint64_t m = sb.bitmap_mblk + b / CSVFS_BITMAP_BITS;
	uint64_t i = b % CSVFS_BITMAP_BITS;
	int rc = raw_io(m, raw, 0, 0);

	if (rc)
		return rc;
	*was = (raw[CSVFS_MHDR_SIZE + i / 8] >> (i % 8)) & 1;
	if (set < 0)
		return 0;
	if (set)
		raw[CSVFS_MHDR_SIZE + i / 8] |= (uint8_t)(1u << (i % 8));
	else
		raw[CSVFS_MHDR_SIZE + i / 8] &= (uint8_t)~(1u << (i % 8));
	return raw_io(m, raw, 1, 1);
}

/* Looks name up in directory dir (read-only, through the library). */
static int lookup(uint64_t dir, const char *name, uint64_t *ino)
{
	struct csvfs_inode in;
	struct jrnl *j;
	struct jop op;
	struct dev *d;
	uint8_t t;
	int rc;

	rc = dev_open(img, DEV_RDONLY, &d);
	if (rc)
		return rc;
	rc = jrnl_open(d, &sb, JRNL_RDONLY, &j);
	if (!rc) {
		jop_begin(j, &op);
		rc = inode_get(dir, &in);
		if (!rc)
			rc = dir_lookup(&op, &in, sb.hash_seed, name,
					strlen(name), ino, &t);
		jop_end(&op, 0);
		jrnl_close(j);
	}
	dev_close(d);
	return rc;
}

/* Opens img for library edits through the journal. */
struct edit {
	struct dev *d;
	struct jrnl *j;
	struct alloc *a;
	struct jop op;
};

static int edit_begin(struct edit *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = dev_open(img, 0, &e->d);
	if (!rc)
		rc = jrnl_open(e->d, &sb, JRNL_NO_THREAD, &e->j);
	if (rc)
		return rc;
	jop_begin(e->j, &e->op);
	return alloc_load(&e->op, &sb, &e->a);
}

static int edit_end(struct edit *e, int rc, int close_journal)
{
	int rc2;

	jop_end(&e->op, rc);
	rc2 = jrnl_commit(e->j);
	alloc_release(e->a);
	if (close_journal)
		rc2 = rc2 ? rc2 : jrnl_close(e->j);
	dev_close(e->d);
	return rc ? rc : rc2;
}

/* ---- the volume ---------------------------------------------------------- */

static int populate(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	struct csvfs_attr a;
	struct csvfs_wext ext[8];
	struct mdc_transport t;
	struct mdc_volinfo vi;
	struct mds *m;
	struct mdc *c;
	struct dev *d;
	uint32_t n;
	int rc;

	rc = dev_open(golden, 0, &d);
	if (rc)
		return rc;
	rc = mds_start(d, &o, &m);
	if (rc) {
		dev_close(d);
		return rc;
	}
	local_transport(m, &t);
	rc = mdc_new(&t, 1, ++incarnation, &c);
	if (!rc)
		rc = mdc_hello(c, "test", &vi);
	root = vi.root_ino;
#define DO(call) do { if (!rc) rc = (call); } while (0)
	DO(mdc_mkdir(c, root, "d1", 0755, 0, 0, &a));
	d1 = a.ino;
	DO(mdc_mkdir(c, root, "d2", 0755, 0, 0, &a));
	d2 = a.ino;
	DO(mdc_mkdir(c, d1, "sub", 0700, 0, 0, &a));
	sub = a.ino;
	DO(mdc_mknod(c, root, "f1", S_IFREG | 0644, 0, 0, 0, &a));
	f1 = a.ino;
	DO(mdc_alloc(c, f1, 0, 1, 0, &a, ext, 8, &n));
	f1_pblk = ext[0].pblk;
	DO(mdc_write_done(c, f1, bsize(), 0, 0, 0, NULL, 0, &a));
	DO(mdc_mknod(c, root, "f2", S_IFREG | 0644, 0, 0, 0, &a));
	f2 = a.ino;
	DO(mdc_alloc(c, f2, 0, 1, 0, &a, ext, 8, &n));
	f2_pblk = ext[0].pblk;
	DO(mdc_write_done(c, f2, 100, 0, 0, 0, NULL, 0, &a));
	DO(mdc_mknod(c, d1, "big", S_IFREG | 0600, 0, 0, 0, &a));
	big = a.ino;
	DO(mdc_alloc(c, big, 0, 4, 0, &a, ext, 8, &n));
	DO(mdc_alloc(c, big, 10, 2, 0, &a, ext, 8, &n));
	DO(mdc_mknod(c, d2, "small", S_IFREG | 0644, 0, 0, 0, &a));
	small = a.ino;
	DO(mdc_inline_write(c, small, 0, "hello", 5, &a));
	DO(mdc_link(c, f1, d2, "f1link", &a));
	DO(mdc_symlink(c, root, "sl", "d1/big", 0, 0, &a));
	sl = a.ino;
#undef DO
	mdc_free(c);
	if (mds_stop(m) && !rc)
		rc = -EIO;
	dev_close(d);
	return rc;
}

static int suite_init(void)
{
	int rc;

	if (testimg_new(golden, sizeof(golden), "fsck_test", 1ull << 30))
		return -1;
	snprintf(img, sizeof(img), "%s.cur", golden);
	rc = testimg_mkfs(golden, 1ull << 30, &sb);
	if (!rc)
		rc = populate();
	if (rc)
		fprintf(stderr, "suite setup: %s\n", csvfs_strerror(rc));
	return rc;
}

static int suite_clean(void)
{
	unlink(golden);
	unlink(img);
	return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_clean_volume(void)
{
	struct fsck_report r;
	char sum1[128], sum2[128], cmd[160];
	FILE *p;

	CU_ASSERT_FATAL(copy_golden() == 0);
	snprintf(cmd, sizeof(cmd), "sha256sum < %s", img);
	p = popen(cmd, "r");
	CU_ASSERT_FATAL(p && fgets(sum1, sizeof(sum1), p));
	pclose(p);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.errors == 0);
	CU_ASSERT(r.inodes == 9 && r.dirs == 4 && r.files == 4 &&
		  r.symlinks == 1);
	/* the chunk, f1, f2, big */
	CU_ASSERT(r.blocks_used == 1 + 1 + 1 + 6);
	CU_ASSERT(has(": clean"));
	/* -n writes nothing */
	p = popen(cmd, "r");
	CU_ASSERT_FATAL(p && fgets(sum2, sizeof(sum2), p));
	pclose(p);
	CU_ASSERT(strcmp(sum1, sum2) == 0);
	CU_ASSERT(fsck(FSCK_MODE_CHECK, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(fsck(FSCK_MODE_PREEN, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.skipped == 0 && r.errors == 0);
	force = 0;
	CU_ASSERT(fsck(FSCK_MODE_PREEN, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.skipped == 1);
	force = 1;
}

static void test_leaked_block(void)
{
	uint64_t b = sb.total_blocks - 1;
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct fsck_report r;
	char want[64];
	int was;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(bitmap_bit(b, 1, &was) == 0);
	CU_ASSERT(was == 0);
	/* stale bytes in the leaked block must not survive its freeing */
	memset(raw, 0xab, sizeof(raw));
	CU_ASSERT_FATAL(raw_io(b * (bsize() / CSVFS_MBLK_SIZE), raw, 1, 0) ==
			0);
	snprintf(want, sizeof(want), "leaked block %llu",
		 (unsigned long long)b);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(r.errors == 1 && r.fixed == 0);
	CU_ASSERT(has(want) && has("not fixed"));
	CU_ASSERT(fsck(FSCK_MODE_CHECK, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has("run with -y to repair"));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == 1 && r.fixed == 1);
	CU_ASSERT(bitmap_bit(b, -1, &was) == 0 && was == 0);
	CU_ASSERT(raw_io(b * (bsize() / CSVFS_MBLK_SIZE), raw, 0, 0) == 0);
	CU_ASSERT(raw[0] == 0 && raw[4095] == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	/* preen repairs a leak on its own */
	CU_ASSERT_FATAL(bitmap_bit(b, 1, &was) == 0);
	CU_ASSERT(fsck(FSCK_MODE_PREEN, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
}

static void test_link_count(void)
{
	struct csvfs_inode in;
	struct fsck_report r;
	char want[80];

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(inode_get(f2, &in) == 0);
	CU_ASSERT(in.nlink == 1);
	in.nlink = 5;
	CU_ASSERT_FATAL(inode_put(&in) == 0);
	snprintf(want, sizeof(want), "inode %llu: link count 5, should be 1",
		 (unsigned long long)f2);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has(want));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == 1 && r.fixed == 1);
	CU_ASSERT(inode_get(f2, &in) == 0 && in.nlink == 1);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	/* a directory: 2 + subdirectories (d1 holds sub) */
	CU_ASSERT_FATAL(inode_get(d1, &in) == 0);
	CU_ASSERT(in.nlink == 3);
	in.nlink = 2;
	CU_ASSERT_FATAL(inode_put(&in) == 0);
	CU_ASSERT(fsck(FSCK_MODE_PREEN, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(inode_get(d1, &in) == 0 && in.nlink == 3);
}

static void test_doubly_used_block(void)
{
	uint64_t keep = f1 < f2 ? f1 : f2, lose = f1 < f2 ? f2 : f1;
	uint64_t kp = f1 < f2 ? f1_pblk : f2_pblk;
	uint64_t lp = f1 < f2 ? f2_pblk : f1_pblk;
	struct csvfs_extent e;
	struct csvfs_inode in;
	struct fsck_report r;
	char want[120];
	int was;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(inode_get(lose, &in) == 0);
	CU_ASSERT_FATAL(in.nextents == 1 &&
			!(in.flags & CSVFS_IFL_EXTBLOCKS));
	od_extent_decode(in.body, &e);
	CU_ASSERT(e.pblk == lp);
	e.pblk = kp;
	od_extent_encode(&e, in.body);
	CU_ASSERT_FATAL(inode_put(&in) == 0);
	snprintf(want, sizeof(want), "block %llu used by inode %llu and by "
		 "inode %llu", (unsigned long long)kp, (unsigned long long)keep,
		 (unsigned long long)lose);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has(want));
	snprintf(want, sizeof(want), "leaked block %llu",
		 (unsigned long long)lp);
	CU_ASSERT(has(want));
	/* not a repair preen makes on its own: data is lost */
	CU_ASSERT(fsck(FSCK_MODE_PREEN, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(has("loses 1 MiB at offset 0 MiB"));
	CU_ASSERT(inode_get(lose, &in) == 0);
	CU_ASSERT(in.nextents == 0 && in.nblocks == 0);
	CU_ASSERT(inode_get(keep, &in) == 0);
	od_extent_decode(in.body, &e);
	CU_ASSERT(in.nextents == 1 && e.pblk == kp && in.nblocks == 1);
	CU_ASSERT(bitmap_bit(kp, -1, &was) == 0 && was == 1);
	CU_ASSERT(bitmap_bit(lp, -1, &was) == 0 && was == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
}

static void test_bucket_bad_checksum(void)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_dindex ix;
	struct csvfs_inode in;
	struct fsck_report r;
	uint64_t bm, x;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(inode_get(d1, &in) == 0);
	CU_ASSERT_FATAL(od_get32(in.body) == 0);	/* depth 0, 1 bucket */
	CU_ASSERT_FATAL(raw_io(od_get64(in.body + 8), raw, 0, 0) == 0);
	od_dindex_decode(raw, &ix);
	bm = ix.slots[0];
	CU_ASSERT_FATAL(raw_io(bm, raw, 0, 0) == 0);
	raw[0x50 + CSVFS_DIRENT_HDR] ^= 0x01;	/* first entry's name */
	CU_ASSERT_FATAL(raw_io(bm, raw, 1, 0) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has("bad checksum"));
	CU_ASSERT(r.errors >= 1 && r.fixed == 0);
	/* -y rebuilds d1 without the entry it cannot trust; what it named
	 * goes to /lost+found */
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == r.fixed);
	CU_ASSERT(has("created /lost+found"));
	CU_ASSERT(lookup(root, "lost+found", &x) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 10 && r.dirs == 5);
}

static void test_superblock_from_backup(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct fsck_report r;
	struct mds *m;
	struct dev *d;

	CU_ASSERT_FATAL(copy_golden() == 0);
	memset(raw, 0, sizeof(raw));
	CU_ASSERT_FATAL(raw_io(0, raw, 1, 0) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(r.sb_from_backup == 1);
	CU_ASSERT(has("superblock damaged (no superblock magic); recovered "
		      "from backup at block 255"));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == 1 && r.fixed == 1);
	/* the volume mounts again */
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT(mds_start(d, &o, &m) == 0);
	if (m)
		CU_ASSERT(mds_stop(m) == 0);
	dev_close(d);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	/* a zeroed device holds no volume: operational error */
	CU_ASSERT_FATAL(raw_io(sb.backup_mblk, raw, 1, 0) == 0);
	CU_ASSERT_FATAL(raw_io(0, raw, 1, 0) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_OPERROR);
	CU_ASSERT(has("no csvfs volume"));
}

/*
 * A crash between a commit and the checkpoint: a file is created through
 * the journal, then the in-place copies of the blocks it changed and the
 * journal superblock are put back as they were before.
 */
static void test_unapplied_journal(void)
{
	uint64_t cblk = sb.first_chunk * bsize(), x;
	uint8_t *chunk = dev_alloc_buf(bsize()), jsb[CSVFS_MBLK_SIZE];
	struct csvfs_inode in, rin;
	struct fsck_report r;
	struct mbuf *mb, *rmb;
	struct edit e;
	struct dev *d;
	int rc;

	CU_ASSERT_FATAL(chunk != NULL);
	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT_FATAL(dev_pread(d, chunk, bsize(), cblk) == 0);
	dev_close(d);
	CU_ASSERT_FATAL(raw_io(sb.journal_mblk, jsb, 0, 0) == 0);

	CU_ASSERT_FATAL(edit_begin(&e) == 0);
	rc = ino_alloc(&e.op, e.a, &x, &in, &mb);
	if (!rc) {
		in.mode = S_IFREG | 0644;
		in.nlink = 1;
		in.flags = CSVFS_IFL_INLINE;
		od_inode_encode(&in, mb->data);
		rc = jop_read(&e.op, root, CSVFS_MAGIC_INODE, &rmb);
	}
	if (!rc) {
		od_inode_decode(rmb->data, &rin);
		rc = dir_add(&e.op, e.a, root, &rin, sb.hash_seed, "crashfile",
			     9, x, CSVFS_DT_REG);
	}
	if (!rc)
		rc = ino_put(&e.op, rmb, &rin);
	CU_ASSERT_FATAL(edit_end(&e, rc, 1) == 0);

	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT_FATAL(dev_pwrite(d, chunk, bsize(), cblk) == 0);
	dev_close(d);
	CU_ASSERT_FATAL(raw_io(sb.journal_mblk, jsb, 1, 0) == 0);
	CU_ASSERT(lookup(root, "crashfile", &x) == -ENOENT);

	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(r.journal_pending == 1 && r.errors == 0);
	CU_ASSERT(has("journal holds 1 transaction not yet applied"));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.journal_replayed == 1 && r.errors == 0);
	CU_ASSERT(lookup(root, "crashfile", &x) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.journal_pending == 0 && r.inodes == 10);
	free(chunk);
}

/*
 * An orphan: f1's last name removed while it is open (nlink 0, on the
 * orphan list), the coordinator gone before the last close.
 */
static void test_orphan(void)
{
	struct csvfs_vstate vs;
	struct csvfs_inode in, rin;
	struct fsck_report r;
	struct mbuf *mb, *rmb, *vmb;
	struct edit e;
	uint64_t x;
	int rc, was;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(edit_begin(&e) == 0);
	rc = jop_read(&e.op, root, CSVFS_MAGIC_INODE, &rmb);
	if (!rc) {
		od_inode_decode(rmb->data, &rin);
		rc = dir_remove(&e.op, e.a, &rin, sb.hash_seed, "f2", 2, &x);
	}
	if (!rc)
		rc = ino_put(&e.op, rmb, &rin);
	if (!rc)
		rc = jop_read(&e.op, f2, CSVFS_MAGIC_INODE, &mb);
	if (!rc)
		rc = jop_read(&e.op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &vmb);
	if (!rc)
		rc = jop_write(&e.op, vmb);
	if (!rc) {
		od_inode_decode(mb->data, &in);
		in.nlink = 0;
		in.flags |= CSVFS_IFL_ORPHAN;
		in.next_orphan = 0;
		od_vstate_decode(vmb->data, &vs);
		vs.orphan_head = f2;
		od_vstate_encode(&vs, vmb->data);
		rc = ino_put(&e.op, mb, &in);
	}
	CU_ASSERT_FATAL(edit_end(&e, rc, 1) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.orphans == 1 && has("1 orphan inode"));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.orphans_freed == 1);
	CU_ASSERT(inode_get(f2, &in) == 0 && in.mode == 0);
	CU_ASSERT(bitmap_bit(f2_pblk, -1, &was) == 0 && was == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.orphans == 0 && r.inodes == 8);
}

/* A name lost without its link count dropping: back via /lost+found. */
static void test_unreachable(void)
{
	struct csvfs_inode rin, in;
	struct fsck_report r;
	struct mbuf *rmb;
	struct edit e;
	char want[80];
	uint64_t x, lf;
	int rc;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(edit_begin(&e) == 0);
	rc = jop_read(&e.op, d2, CSVFS_MAGIC_INODE, &rmb);
	if (!rc) {
		od_inode_decode(rmb->data, &rin);
		rc = dir_remove(&e.op, e.a, &rin, sb.hash_seed, "small", 5, &x);
	}
	if (!rc)
		rc = ino_put(&e.op, rmb, &rin);
	CU_ASSERT_FATAL(edit_end(&e, rc, 1) == 0);
	snprintf(want, sizeof(want), "inode %llu (regular file, 5 bytes) is in "
		 "no directory", (unsigned long long)small);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has(want));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(lookup(root, "lost+found", &lf) == 0);
	snprintf(want, sizeof(want), "#%llu", (unsigned long long)small);
	CU_ASSERT(lookup(lf, want, &x) == 0 && x == small);
	CU_ASSERT(inode_get(small, &in) == 0 && in.nlink == 1);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
}

/* Several faults at once, each of another pass. */
static void test_mixed_faults(void)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_chunk ch;
	struct csvfs_extent e;
	struct csvfs_inode in;
	struct fsck_report r;
	uint64_t cm = sb.first_chunk * (bsize() / CSVFS_MBLK_SIZE);
	char want[120];
	int was;

	CU_ASSERT_FATAL(copy_golden() == 0);
	/* 1: a block of big marked free */
	CU_ASSERT_FATAL(inode_get(big, &in) == 0);
	od_extent_decode(in.body, &e);
	CU_ASSERT_FATAL(bitmap_bit(e.pblk, 0, &was) == 0 && was == 1);
	/* 2: a bit flipped in f1's inode, where nothing checks it */
	CU_ASSERT_FATAL(raw_io(f1, raw, 0, 0) == 0);
	raw[0x60] ^= 0x40;		/* atime */
	CU_ASSERT_FATAL(raw_io(f1, raw, 1, 0) == 0);
	/* 3: the symlink's inode marked free in its chunk */
	CU_ASSERT_FATAL(raw_io(cm, raw, 0, 0) == 0);
	od_chunk_decode(raw, &ch);
	ch.used[(sl - cm) / 8] &= (uint8_t)~(1u << ((sl - cm) % 8));
	ch.nused--;
	od_chunk_encode(&ch, raw);
	CU_ASSERT_FATAL(raw_io(cm, raw, 1, 1) == 0);

	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	snprintf(want, sizeof(want), "block %llu in use by inode %llu but "
		 "marked free", (unsigned long long)e.pblk,
		 (unsigned long long)big);
	CU_ASSERT(has(want));
	snprintf(want, sizeof(want), "inode %llu: bad checksum",
		 (unsigned long long)f1);
	CU_ASSERT(has(want));
	snprintf(want, sizeof(want), "metadata block %llu (inode of inode "
		 "%llu) in use but marked free", (unsigned long long)sl,
		 (unsigned long long)sl);
	CU_ASSERT(has(want));
	CU_ASSERT(r.errors == 3 && r.inodes == 9);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == 3 && r.fixed == 3);
	CU_ASSERT(bitmap_bit(e.pblk, -1, &was) == 0 && was == 1);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 9);
}

/*
 * Bigger structures: a directory of several buckets and a file whose map
 * lives in extent blocks; a leaf and a bucket damaged beyond a reseal.
 */
static void test_big_structures(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_wext ext[4];
	struct csvfs_dindex ix;
	struct csvfs_inode in;
	struct mdc_transport t;
	struct mdc_volinfo vi;
	struct csvfs_attr a;
	struct fsck_report r;
	uint64_t dir = 0, frag = 0, leaf, bm;
	struct mds *m;
	struct mdc *c;
	struct dev *d;
	char name[32];
	uint32_t n;
	int i, rc;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT_FATAL(mds_start(d, &o, &m) == 0);
	local_transport(m, &t);
	rc = mdc_new(&t, 1, ++incarnation, &c);
	if (!rc)
		rc = mdc_hello(c, "test", &vi);
	if (!rc)
		rc = mdc_mkdir(c, root, "many", 0755, 0, 0, &a);
	dir = a.ino;
	for (i = 0; i < 600 && !rc; i++) {
		snprintf(name, sizeof(name), "file%04d", i);
		rc = mdc_mknod(c, dir, name, S_IFREG | 0644, 0, 0, 0, &a);
	}
	if (!rc)
		rc = mdc_mknod(c, root, "frag", S_IFREG | 0644, 0, 0, 0, &a);
	frag = a.ino;
	for (i = 0; i < 200 && !rc; i++)
		rc = mdc_alloc(c, frag, 2 * (uint64_t)i, 1, 0, &a, ext, 4, &n);
	mdc_free(c);
	CU_ASSERT(mds_stop(m) == 0);
	dev_close(d);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 9 + 602);

	CU_ASSERT_FATAL(inode_get(frag, &in) == 0);
	CU_ASSERT_FATAL((in.flags & CSVFS_IFL_EXTBLOCKS) && in.nextents == 2);
	CU_ASSERT(in.nblocks == 200);
	leaf = od_get64(in.body + 16 + 8);	/* the second leaf */
	CU_ASSERT_FATAL(raw_io(leaf, raw, 0, 0) == 0);
	od_put32(raw + 0x48, 0xffff);		/* count: beyond reseal */
	CU_ASSERT_FATAL(raw_io(leaf, raw, 1, 0) == 0);
	CU_ASSERT_FATAL(inode_get(dir, &in) == 0);
	CU_ASSERT_FATAL(od_get32(in.body) >= 2);	/* several buckets */
	CU_ASSERT_FATAL(raw_io(od_get64(in.body + 8), raw, 0, 0) == 0);
	od_dindex_decode(raw, &ix);
	bm = ix.slots[ix.nslots - 1];
	CU_ASSERT_FATAL(raw_io(bm, raw, 0, 0) == 0);
	raw[0x50 + CSVFS_DIRENT_HDR + 2] ^= 0x20;	/* a name */
	CU_ASSERT_FATAL(raw_io(bm, raw, 1, 0) == 0);

	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has("extent map unreadable"));
	CU_ASSERT(has("bad checksum"));
	/* -n walks the directory as -y will rebuild it: one name lost */
	CU_ASSERT(r.errors == 3);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(r.errors == r.fixed);
	CU_ASSERT(has("rebuilt with the 200 extents"));
	CU_ASSERT(has("linked as /lost+found/#"));
	CU_ASSERT(inode_get(frag, &in) == 0 && in.nblocks == 200);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 9 + 602 + 1);
}

/* The first chunk's header and the root inode zeroed: both rebuilt. */
static void test_chunk_header_and_root(void)
{
	uint64_t cm = sb.first_chunk * (bsize() / CSVFS_MBLK_SIZE), x;
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_inode in;
	struct fsck_report r;

	CU_ASSERT_FATAL(copy_golden() == 0);
	memset(raw, 0, sizeof(raw));
	CU_ASSERT_FATAL(raw_io(cm, raw, 1, 0) == 0);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has("meta chunk at block") && r.inodes == 9);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(has("header rebuilt from its metadata blocks"));
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 9);

	CU_ASSERT_FATAL(raw_io(root, raw, 1, 0) == 0);	/* zeroes */
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_UNFIXED);
	CU_ASSERT(has("root directory") && has("is missing"));
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_FIXED);
	CU_ASSERT(has("recreated with the 5 entries"));
	CU_ASSERT(inode_get(root, &in) == 0 && S_ISDIR(in.mode) &&
		  in.nlink == 4);
	CU_ASSERT(lookup(root, "f1", &x) == 0 && x == f1);
	CU_ASSERT(lookup(root, "d2", &x) == 0 && x == d2);
	CU_ASSERT(fsck(FSCK_MODE_NO, &r) == FSCK_EXIT_CLEAN);
	CU_ASSERT(r.inodes == 9);
}

/* A volume a coordinator is using is not repaired under its feet. */
static void test_live_volume(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	struct fsck_report r;
	struct mds *m;
	struct dev *d;

	CU_ASSERT_FATAL(copy_golden() == 0);
	CU_ASSERT_FATAL(dev_open(img, 0, &d) == 0);
	CU_ASSERT_FATAL(mds_start(d, &o, &m) == 0);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_OPERROR);
	CU_ASSERT(has("in use by node 1"));
	CU_ASSERT(mds_stop(m) == 0);
	dev_close(d);
	CU_ASSERT(fsck(FSCK_MODE_YES, &r) == FSCK_EXIT_CLEAN);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("fsck", suite_init, suite_clean);
	CU_add_test(s, "a clean volume is clean, -n writes nothing",
		    test_clean_volume);
	CU_add_test(s, "leaked block: found, zeroed and freed",
		    test_leaked_block);
	CU_add_test(s, "wrong link count: found and fixed", test_link_count);
	CU_add_test(s, "doubly used block: the second file gets a hole",
		    test_doubly_used_block);
	CU_add_test(s, "bad directory bucket checksum: found, rebuilt",
		    test_bucket_bad_checksum);
	CU_add_test(s, "zeroed superblock: recovered from the backup",
		    test_superblock_from_backup);
	CU_add_test(s, "unapplied journal: -n reports, -y replays",
		    test_unapplied_journal);
	CU_add_test(s, "orphan: legal, freed by -y", test_orphan);
	CU_add_test(s, "unreachable inode: reconnected in /lost+found",
		    test_unreachable);
	CU_add_test(s, "mixed faults: free bit, checksum, chunk bit",
		    test_mixed_faults);
	CU_add_test(s, "big directory and extent-block file: salvaged",
		    test_big_structures);
	CU_add_test(s, "zeroed chunk header and root inode: rebuilt",
		    test_chunk_header_and_root);
	CU_add_test(s, "a volume in use is not repaired", test_live_volume);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

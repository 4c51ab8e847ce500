/*
 * fsck_super: pass 0 of fsck (the superblock against its backup, the
 * journal superblock, the journal counted or replayed) and the dump.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "csvfs/errors.h"
#include "meta/blob.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/extent.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "meta/fsck/fsck_i.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

/* ---- pass 0: superblock -------------------------------------------------- */

/* Reads the superblock copy at mblk; *why names a layout fault. */
static int sb_read_at(struct fsck *f, uint64_t mblk, struct csvfs_super *sb,
		      const char **why)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	int rc;

	*why = NULL;
	if ((mblk + 1) * CSVFS_MBLK_SIZE > f->d->size)
		return -CSVFS_ENOTCSVFS;
	rc = fk_pread(f, raw, mblk);
	if (rc)
		return rc;
	return fmt_check_super(raw, mblk, sb, why);
}

/*
 * How well a superblock copy fits the device: 1 for each of its journal
 * superblock and first meta chunk header that carries its UUID.
 */
static int sb_fit(struct fsck *f, const struct csvfs_super *sb)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	uint64_t m = sb->first_chunk << (sb->block_shift - CSVFS_MBLK_SHIFT);
	int n = 0;

	if (!fk_pread(f, raw, sb->journal_mblk) &&
	    !od_check(raw, CSVFS_MAGIC_JSB, sb->journal_mblk, sb->hdr.uuid))
		n++;
	if (!fk_pread(f, raw, m) &&
	    !od_check(raw, CSVFS_MAGIC_CHUNK, m, sb->hdr.uuid))
		n++;
	return n;
}

/*
 * The backup superblock. mkfs writes one at the end of large block 0 for
 * its block size and wipes nothing else of block 0, so a volume formatted
 * before with a smaller block size may have left its own backup there: of
 * the valid copies, take the one that fits the device best (its journal
 * and first chunk are of its volume), then the newest.
 */
static int sb_find_backup(struct fsck *f, struct csvfs_super *out)
{
	struct csvfs_super sb;
	const char *why;
	unsigned shift;
	int found = 0, rc = -CSVFS_ENOTCSVFS, r, fit, best = -1;

	for (shift = CSVFS_MIN_BLOCK_SHIFT; shift <= CSVFS_MAX_BLOCK_SHIFT;
	     shift++) {
		uint64_t mblk = (1ull << (shift - CSVFS_MBLK_SHIFT)) - 1;

		r = sb_read_at(f, mblk, &sb, &why);
		if (!r && (sb.backup_mblk != mblk || sb.block_shift != shift))
			r = -CSVFS_ECORRUPT;
		if (r) {
			if (rc == -CSVFS_ENOTCSVFS)
				rc = r;
			continue;
		}
		fit = sb_fit(f, &sb);
		if (!found || fit > best ||
		    (fit == best && sb.mkfs_time > out->mkfs_time)) {
			*out = sb;
			best = fit;
		}
		found = 1;
	}
	return found ? 0 : rc;
}

/* The first field that must be equal in both copies and is not. */
static const char *sb_differs(const struct csvfs_super *a,
			      const struct csvfs_super *b)
{
#define SB_CMP(fld) if (a->fld != b->fld) return #fld
	if (memcmp(a->hdr.uuid, b->hdr.uuid, CSVFS_UUID_SIZE))
		return "uuid";
	SB_CMP(vmajor);
	SB_CMP(block_shift);
	SB_CMP(total_blocks);
	SB_CMP(data_start);
	SB_CMP(max_nodes);
	SB_CMP(hb_mblk);
	SB_CMP(client_mblk);
	SB_CMP(backup_mblk);
	SB_CMP(journal_mblk);
	SB_CMP(journal_len);
	SB_CMP(bitmap_mblk);
	SB_CMP(bitmap_len);
	SB_CMP(root_ino);
	SB_CMP(first_chunk);
	SB_CMP(hash_seed);
	SB_CMP(mkfs_time);
#undef SB_CMP
	return NULL;
}

/*
 * Whether primary a and backup b differ only in the size, as an online
 * grow that stopped between the two superblock writes leaves them
 * (mds_space.c writes the primary first), both sizes on the device.
 */
static int sb_grow_only(const struct fsck *f, const struct csvfs_super *a,
			const struct csvfs_super *b)
{
	struct csvfs_super t = *b;
	uint64_t big = a->total_blocks > b->total_blocks ? a->total_blocks :
							   b->total_blocks;

	t.total_blocks = a->total_blocks;
	t.bitmap_len = a->bitmap_len;
	return a->total_blocks != b->total_blocks && !sb_differs(a, &t) &&
	       big <= (f->d->size >> a->block_shift);
}

int fk_pass0_super(struct fsck *f)
{
	struct csvfs_super bk;
	const char *why, *bwhy = NULL, *diff;
	int rc, rcb;

	rc = sb_read_at(f, CSVFS_SB_MBLK, &f->sb, &why);
	if (rc == -CSVFS_EVERSION) {
		/* intact, of a format this fsck does not know: hands off */
		fprintf(f->out, "%s: %s: format version %u.%u is not "
			"supported\n", FK_PROG, f->name, f->sb.vmajor,
			f->sb.vminor);
		return FSCK_EXIT_OPERROR;
	}
	if (rc && rc != -CSVFS_ENOTCSVFS && rc != -CSVFS_EBADCRC &&
	    rc != -CSVFS_ECORRUPT && rc != -CSVFS_EBADBLK) {
		fprintf(f->out, "%s: %s: cannot read the superblock: %s\n",
			FK_PROG, f->name, csvfs_strerror(rc));
		return FSCK_EXIT_OPERROR;
	}
	if (rc) {
		rcb = sb_find_backup(f, &bk);
		if (rcb) {
			fprintf(f->out, "%s: %s: %s\n", FK_PROG, f->name,
				rc == -CSVFS_ENOTCSVFS &&
				rcb == -CSVFS_ENOTCSVFS ?
				"no csvfs volume found (no superblock, no "
				"backup)" : "superblock damaged and no valid "
				"backup superblock found");
			return FSCK_EXIT_OPERROR;
		}
		f->r->sb_from_backup = 1;
		f->sb = bk;
		f->sb.state = CSVFS_STATE_MOUNTED;	/* not known clean */
		/* The backup's coordinator epoch is mkfs's; the lost one was
		 * higher. An epoch must never go back (a stale coordinator
		 * would not see it is stale): restart from the clock, which
		 * no count of coordinator changes reaches. */
		if (f->sb.coord_epoch < (uint64_t)time(NULL))
			f->sb.coord_epoch = (uint64_t)time(NULL);
		if (fk_problem(f, 0, "superblock damaged (%s); recovered from "
			       "backup at block %llu",
			       why ? why : rc == -CSVFS_ENOTCSVFS ?
			       "no superblock magic" : csvfs_strerror(rc),
			       (unsigned long long)bk.backup_mblk))
			fk_result(f, fmt_write_super(f->d, &f->sb, 0), NULL);
	} else {
		rcb = sb_read_at(f, f->sb.backup_mblk, &bk, &bwhy);
		diff = rcb ? NULL : sb_differs(&f->sb, &bk);
		if (!rcb && diff && sb_grow_only(f, &f->sb, &bk)) {
			fk_info(f, "backup superblock: %llu blocks, the volume "
				"%llu (an interrupted grow)%s",
				(unsigned long long)bk.total_blocks,
				(unsigned long long)f->sb.total_blocks,
				f->rw ? ": rewritten" : "");
			if (f->rw)
				fmt_write_super(f->d, &f->sb, 1);
			diff = NULL;
		}
		if ((rcb || diff) &&
		    fk_problem(f, 1, "backup superblock at block %llu: %s%s",
			       (unsigned long long)f->sb.backup_mblk,
			       rcb ? (bwhy ? bwhy : csvfs_strerror(rcb)) :
				     "differs from the primary in ",
			       rcb ? "" : diff))
			fk_result(f, fmt_write_super(f->d, &f->sb, 1),
				  "rewritten from the primary");
	}
	if (f->d->size < (f->sb.total_blocks << f->sb.block_shift)) {
		fprintf(f->out, "%s: %s: device (%llu bytes) is smaller than "
			"the volume (%llu bytes)\n", FK_PROG, f->name,
			(unsigned long long)f->d->size,
			(unsigned long long)(f->sb.total_blocks <<
					     f->sb.block_shift));
		return FSCK_EXIT_OPERROR;
	}
	f->bsize = 1ull << f->sb.block_shift;
	f->mpb = f->bsize / CSVFS_MBLK_SIZE;
	f->root = f->sb.root_ino;
	return 0;
}

/* ---- journal ------------------------------------------------------------- */

static int jsb_get(struct dev *d, const struct csvfs_super *sb,
		   struct csvfs_jsb *jsb)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dev_pread(d, raw, CSVFS_MBLK_SIZE,
		       sb->journal_mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = od_check(raw, CSVFS_MAGIC_JSB, sb->journal_mblk,
			      sb->hdr.uuid);
	if (!rc) {
		od_jsb_decode(raw, jsb);
		if (jsb->start < 1 || jsb->start >= sb->journal_len)
			rc = -CSVFS_EJOURNAL;
	}
	free(raw);
	return rc;
}

/*
 * Length in mblks of the complete transaction tid at journal offset pos,
 * 0 if there is none there, or -errno: the same rules as jrnl_replay's.
 */
static int tx_check(struct dev *d, const struct csvfs_super *sb, uint64_t pos,
		    uint64_t tid, uint8_t *blk)
{
	uint64_t len = sb->journal_len, p = pos, ntot = 0;
	uLong crc = crc32(0L, Z_NULL, 0);
	struct csvfs_jcommit jc;
	struct csvfs_jdesc desc;
	unsigned i;
	int rc;

	for (;;) {
		uint64_t m = sb->journal_mblk + p;

		if (p >= len)
			return 0;
		rc = dev_pread(d, blk, CSVFS_MBLK_SIZE, m * CSVFS_MBLK_SIZE);
		if (rc)
			return rc;
		if (ntot > 0 && od_check(blk, CSVFS_MAGIC_JCOMMIT, m,
					 sb->hdr.uuid) == 0)
			break;
		if (od_check(blk, CSVFS_MAGIC_JDESC, m, sb->hdr.uuid))
			return 0;
		od_jdesc_decode(blk, &desc);
		if (desc.hdr.tid != tid || desc.nblocks == 0 ||
		    desc.nblocks > CSVFS_JDESC_MAX ||
		    p + 1 + desc.nblocks >= len)
			return 0;
		for (i = 0; i < desc.nblocks; i++)
			if (desc.targets[i] == 0 ||
			    desc.targets[i] >= d->size / CSVFS_MBLK_SIZE)
				return 0;
		crc = crc32(crc, blk, CSVFS_MBLK_SIZE);
		for (i = 0; i < desc.nblocks; i++) {
			rc = dev_pread(d, blk, CSVFS_MBLK_SIZE,
				       (m + 1 + i) * CSVFS_MBLK_SIZE);
			if (rc)
				return rc;
			crc = crc32(crc, blk, CSVFS_MBLK_SIZE);
		}
		ntot += desc.nblocks;
		p += 1 + desc.nblocks;
	}
	od_jcommit_decode(blk, &jc);
	if (jc.hdr.tid != tid || jc.nblocks != ntot ||
	    jc.data_crc != (uint32_t)crc)
		return 0;
	return (int)(p + 1 - pos);
}

int fsck_journal_pending(struct dev *d, const struct csvfs_super *sb,
			 uint64_t *ntx)
{
	struct csvfs_jsb jsb;
	uint64_t pos, tid, n = 0;
	uint8_t *blk;
	int rc, len;

	rc = jsb_get(d, sb, &jsb);
	if (rc)
		return rc;
	blk = dev_alloc_buf(CSVFS_MBLK_SIZE);
	if (!blk)
		return -ENOMEM;
	pos = jsb.start;
	tid = jsb.start_tid;
	for (;;) {
		len = tx_check(d, sb, pos, tid, blk);
		if (len == 0 && pos != 1) {
			len = tx_check(d, sb, 1, tid, blk);
			if (len > 0)
				pos = 1;
		}
		if (len <= 0)
			break;
		pos += (uint64_t)len;
		tid++;
		n++;
	}
	free(blk);
	if (len < 0)
		return len;
	*ntx = n;
	return 0;
}

/*
 * Writes a fresh journal superblock. Its first transaction id is past
 * every id still readable in the journal, so no old transaction can ever
 * be taken for a new one.
 */
static int jsb_rebuild(struct fsck *f)
{
	const struct csvfs_super *sb = &f->sb;
	uint64_t maxtid = 0, m, i;
	const unsigned step = 256;
	struct csvfs_jsb jsb;
	uint8_t *buf;
	int rc = 0;

	buf = dev_alloc_buf((size_t)step * CSVFS_MBLK_SIZE);
	if (!buf)
		return -ENOMEM;
	for (m = 1; m < sb->journal_len && !rc; m += step) {
		unsigned n = sb->journal_len - m < step ?
			     (unsigned)(sb->journal_len - m) : step;

		rc = dev_pread(f->d, buf, (size_t)n * CSVFS_MBLK_SIZE,
			       (sb->journal_mblk + m) * CSVFS_MBLK_SIZE);
		for (i = 0; !rc && i < n; i++) {
			const uint8_t *b = buf + i * CSVFS_MBLK_SIZE;
			uint32_t magic = od_get32(b);
			struct csvfs_mhdr h;

			if ((magic != CSVFS_MAGIC_JDESC &&
			     magic != CSVFS_MAGIC_JCOMMIT) ||
			    od_check(b, magic, sb->journal_mblk + m + i,
				     sb->hdr.uuid))
				continue;
			od_mhdr_decode(b, &h);
			if (h.tid > maxtid)
				maxtid = h.tid;
		}
	}
	if (!rc) {
		memset(&jsb, 0, sizeof(jsb));
		od_hdr_init(&jsb.hdr, CSVFS_MAGIC_JSB, sb->journal_mblk,
			    sb->hdr.uuid);
		jsb.start = 1;
		jsb.start_tid = maxtid + 1;
		memset(buf, 0, CSVFS_MBLK_SIZE);
		od_jsb_encode(&jsb, buf);
		od_seal(buf);
		rc = dev_pwrite(f->d, buf, CSVFS_MBLK_SIZE,
				sb->journal_mblk * CSVFS_MBLK_SIZE);
	}
	if (!rc)
		rc = dev_flush(f->d);
	free(buf);
	return rc;
}

/*
 * Checks the journal superblock and counts (-n) or replays (-y, -p) the
 * journal. Returns 0, FSCK_EXIT_OPERROR, or FSCK_EXIT_UNFIXED when the
 * check cannot go on.
 */
int fk_pass0_journal(struct fsck *f)
{
	struct csvfs_jsb jsb;
	uint64_t n = 0;
	int rc;

	rc = jsb_get(f->d, &f->sb, &jsb);
	if (rc && rc != -EIO && rc != -ENOMEM) {
		if (!fk_problem(f, 0, "journal superblock at block %llu: %s; "
				"transactions in the journal cannot be "
				"replayed", (unsigned long long)
				f->sb.journal_mblk, csvfs_strerror(rc))) {
			fk_info(f, "%s: %s: cannot check further before the "
				"journal superblock is repaired", FK_PROG,
				f->name);
			return FSCK_EXIT_UNFIXED;
		}
		rc = jsb_rebuild(f);
		fk_result(f, rc, rc ? NULL : "rebuilt, journal emptied");
		if (rc)
			return FSCK_EXIT_OPERROR;
	} else if (rc) {
		fprintf(f->out, "%s: %s: cannot read the journal: %s\n",
			FK_PROG, f->name, csvfs_strerror(rc));
		return FSCK_EXIT_OPERROR;
	}
	if (!f->rw) {
		if (jrnl_pending(f->d, &f->sb, &n) == -CSVFS_EJOURNAL)
			fk_problem(f, 0, "journal: a damaged transaction is "
				   "followed by committed ones (fsck -y "
				   "discards the journal)");
		rc = fsck_journal_pending(f->d, &f->sb, &n);
		if (!rc && n) {
			f->r->journal_pending = n;
			fk_info(f, "journal holds %llu transaction%s not yet "
				"applied (replay with -y or mount); the checks "
				"below see the volume without them",
				(unsigned long long)n, n == 1 ? "" : "s");
		}
		return rc ? FSCK_EXIT_OPERROR : 0;
	}
	rc = jrnl_replay(f->d, &f->sb, &n);
	if (rc == -CSVFS_EJOURNAL &&
	    fk_problem(f, 0, "journal: a damaged transaction is followed by "
		       "committed ones")) {
		rc = jrnl_reset(f->d, &f->sb);
		fk_result(f, rc, "journal discarded; the changes of the damaged "
			  "transaction and those after it are lost, the "
			  "checks below repair what they left");
		n = 0;
	}
	if (rc) {
		fprintf(f->out, "%s: %s: journal replay failed: %s\n", FK_PROG,
			f->name, csvfs_strerror(rc));
		return FSCK_EXIT_OPERROR;
	}
	f->r->journal_replayed = n;
	if (n)
		fk_info(f, "journal: replayed %llu transaction%s",
			(unsigned long long)n, n == 1 ? "" : "s");
	return 0;
}

/* ---- dump ---------------------------------------------------------------- */

static const char *state_name(uint32_t s)
{
	return s == CSVFS_STATE_CLEAN ? "clean" :
	       s == CSVFS_STATE_MOUNTED ? "mounted (or not unmounted cleanly)" :
	       "invalid";
}

static void dump_super(const struct csvfs_super *sb, FILE *out)
{
	char u[OD_UUID_STR_LEN];

	od_uuid_str(sb->hdr.uuid, u);
	fprintf(out, "superblock\n"
		"  uuid            %s\n"
		"  label           %s\n"
		"  version         %u.%u\n"
		"  block size      %llu (%u MiB)\n"
		"  total blocks    %llu\n"
		"  data start      %llu\n"
		"  max nodes       %u\n"
		"  heartbeats      block %llu\n"
		"  client table    block %llu\n"
		"  backup super    block %llu\n"
		"  journal         block %llu, %llu blocks\n"
		"  bitmap          block %llu, %llu blocks\n"
		"  root inode      %llu\n"
		"  first chunk     %llu\n"
		"  state           %s\n"
		"  epoch           %llu (node %u)\n"
		"  hash seed       %016llx\n"
		"  mkfs time       %llu\n"
		"  mount time      %llu\n",
		u, sb->label[0] ? sb->label : "(none)", sb->vmajor, sb->vminor,
		1ull << sb->block_shift, 1u << (sb->block_shift - 20),
		(unsigned long long)sb->total_blocks,
		(unsigned long long)sb->data_start, sb->max_nodes,
		(unsigned long long)sb->hb_mblk,
		(unsigned long long)sb->client_mblk,
		(unsigned long long)sb->backup_mblk,
		(unsigned long long)sb->journal_mblk,
		(unsigned long long)sb->journal_len,
		(unsigned long long)sb->bitmap_mblk,
		(unsigned long long)sb->bitmap_len,
		(unsigned long long)sb->root_ino,
		(unsigned long long)sb->first_chunk, state_name(sb->state),
		(unsigned long long)sb->coord_epoch, sb->coord_node,
		(unsigned long long)sb->hash_seed,
		(unsigned long long)sb->mkfs_time,
		(unsigned long long)sb->mount_time);
}

static void dump_space(struct fsck *f, FILE *out)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	uint64_t i, b, nfree = 0, blk, n = 0, mpb = f->mpb;
	struct csvfs_chunk ch;
	int bad = 0;

	for (i = 0; i < f->sb.bitmap_len; i++) {
		uint64_t m = f->sb.bitmap_mblk + i;

		if (fk_pread(f, raw, m) ||
		    od_check(raw, CSVFS_MAGIC_BITMAP, m, f->sb.hdr.uuid))
			bad++;
		for (b = i * CSVFS_BITMAP_BITS;
		     b < (i + 1) * CSVFS_BITMAP_BITS; b++) {
			uint64_t k = b % CSVFS_BITMAP_BITS;

			if (b >= f->sb.data_start && b < f->sb.total_blocks &&
			    !((raw[CSVFS_MHDR_SIZE + k / 8] >> (k % 8)) & 1))
				nfree++;
		}
	}
	fprintf(out, "bitmap: %llu of %llu data blocks free%s\n",
		(unsigned long long)nfree,
		(unsigned long long)(f->sb.total_blocks - f->sb.data_start),
		bad ? " (some bitmap blocks are damaged)" : "");
	fprintf(out, "meta chunks:\n");
	for (blk = f->sb.first_chunk; blk && n <= f->sb.total_blocks; n++) {
		int rc = blk < f->sb.total_blocks ?
			 fk_pread(f, raw, blk * mpb) : -CSVFS_ECORRUPT;

		if (!rc)
			rc = od_check(raw, CSVFS_MAGIC_CHUNK, blk * mpb,
				      f->sb.hdr.uuid);
		if (rc) {
			fprintf(out, "  block %llu: %s\n",
				(unsigned long long)blk, csvfs_strerror(rc));
			break;
		}
		od_chunk_decode(raw, &ch);
		fprintf(out, "  block %llu: %u of %u metadata blocks in use\n",
			(unsigned long long)blk, ch.nused, ch.nmblks);
		blk = ch.next;
	}
}

struct dump_ctx {
	FILE *out;
	uint64_t n;
};

static int dump_dirent(void *ctx, const char *name, size_t len, uint64_t ino,
		       uint8_t type, uint64_t next)
{
	struct dump_ctx *c = ctx;

	(void)next;
	fprintf(c->out, "  %-6u %-12llu %.*s\n", type, (unsigned long long)ino,
		(int)len, name);
	c->n++;
	return 0;
}

static int dump_inode(struct fsck *f, uint64_t ino, FILE *out)
{
	struct csvfs_inode in;
	struct dump_ctx dc = { out, 0 };
	struct extmap em;
	struct jop op;
	size_t i;
	int rc;

	rc = jrnl_open(f->d, &f->sb, JRNL_RDONLY, &f->j);
	if (rc)
		return rc;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, ino, &in);
	if (rc == -ESTALE) {
		fprintf(out, "inode %llu: not in use (mode 0)\n",
			(unsigned long long)ino);
		goto end;
	}
	if (rc)
		goto end;
	fprintf(out, "inode %llu\n"
		"  type            %s (mode 0%o)\n"
		"  uid/gid         %u/%u\n"
		"  links           %u\n"
		"  size            %llu\n"
		"  blocks          %llu\n"
		"  generation      %llu\n"
		"  parent          %llu\n"
		"  flags           0x%x\n"
		"  extents/index   %u\n"
		"  xattr bytes     %u\n"
		"  owner           node %u, mode %u, epoch %llu\n"
		"  next orphan     %llu\n"
		"  mtime           %llu.%09u\n"
		"  ctime           %llu.%09u\n",
		(unsigned long long)ino, fk_type_name(in.mode), in.mode, in.uid,
		in.gid, in.nlink, (unsigned long long)in.size,
		(unsigned long long)in.nblocks,
		(unsigned long long)in.generation,
		(unsigned long long)in.parent, in.flags, in.nextents,
		in.xattr_len, in.own_node, in.own_mode,
		(unsigned long long)in.own_epoch,
		(unsigned long long)in.next_orphan,
		(unsigned long long)in.mtime_sec, in.mtime_nsec,
		(unsigned long long)in.ctime_sec, in.ctime_nsec);
	if (S_ISREG(in.mode) && (in.flags & CSVFS_IFL_INLINE)) {
		fprintf(out, "inline data, %llu bytes\n",
			(unsigned long long)in.size);
	} else if (S_ISREG(in.mode)) {
		rc = ext_load(&op, ino, &in, &em);
		if (rc)
			goto end;
		fprintf(out, "extents (%zu, %zu leaf blocks):\n"
			"  %-12s %-12s %-8s %s\n", em.n, em.nleaf, "lblk",
			"pblk", "len", "flags");
		for (i = 0; i < em.n; i++)
			fprintf(out, "  %-12llu %-12llu %-8u %s%s\n",
				(unsigned long long)em.e[i].lblk,
				(unsigned long long)em.e[i].pblk, em.e[i].len,
				em.e[i].flags & CSVFS_EXT_UNWRITTEN ?
				"unwritten " : "",
				em.e[i].flags & CSVFS_EXT_AHEAD ? "ahead" : "");
		ext_free(&em);
	} else if (S_ISDIR(in.mode)) {
		fprintf(out, "entries:\n  %-6s %-12s %s\n", "type", "inode",
			"name");
		rc = dir_iterate(&op, &in, 0, dump_dirent, &dc);
		fprintf(out, "  (%llu entries)\n", (unsigned long long)dc.n);
	} else if (S_ISLNK(in.mode) && (in.flags & CSVFS_IFL_LONGLINK)) {
		char t[CSVFS_SYMLINK_MAX];
		size_t n = in.size < sizeof(t) ? in.size : sizeof(t);

		rc = blob_load(&op, od_get64(in.body), ino, CSVFS_BLOB_SYMLINK,
			       t, n);
		if (!rc)
			fprintf(out, "target (blob at mblk %llu): %.*s\n",
				(unsigned long long)od_get64(in.body), (int)n,
				t);
	} else if (S_ISLNK(in.mode)) {
		fprintf(out, "target: %.*s\n",
			(int)(in.size < CSVFS_SYMLINK_INLINE_MAX ? in.size :
			      CSVFS_SYMLINK_INLINE_MAX), (const char *)in.body);
	}
end:
	jop_end(&op, 0);
	jrnl_close(f->j);
	f->j = NULL;
	return rc;
}

int fsck_dump(struct dev *d, int have_ino, uint64_t ino, FILE *out)
{
	struct fsck_opts o = { .mode = FSCK_MODE_NO, .out = out };
	struct fsck_report r;
	struct csvfs_jsb jsb;
	struct fsck f;
	uint64_t n = 0;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&r, 0, sizeof(r));
	f.d = d;
	f.o = &o;
	f.r = &r;
	f.out = out;
	f.name = d->path;
	f.quiet = 1;
	rc = fk_pass0_super(&f);
	if (rc)
		return -CSVFS_ENOTCSVFS;
	if (r.sb_from_backup)
		fprintf(out, "(primary superblock damaged: showing the backup "
			"at block %llu)\n",
			(unsigned long long)f.sb.backup_mblk);
	dump_super(&f.sb, out);
	dump_space(&f, out);
	rc = jsb_get(d, &f.sb, &jsb);
	if (rc) {
		fprintf(out, "journal: superblock damaged: %s\n",
			csvfs_strerror(rc));
	} else {
		fsck_journal_pending(d, &f.sb, &n);
		fprintf(out, "journal: start %llu, tid %llu, %llu transactions "
			"to replay\n", (unsigned long long)jsb.start,
			(unsigned long long)jsb.start_tid,
			(unsigned long long)n);
	}
	if (have_ino) {
		rc = dump_inode(&f, ino ? ino : f.sb.root_ino, out);
		if (rc)
			fprintf(out, "inode %llu: %s\n", (unsigned long long)
				(ino ? ino : f.sb.root_ino),
				csvfs_strerror(rc));
	}
	fk_release(&f);
	return rc;
}

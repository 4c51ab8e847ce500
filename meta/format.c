/*
 * format: the layout of a new volume and the superblock checks every
 * program does first.
 *
 * fmt_volume first destroys the old superblock, then writes every region,
 * creates the root directory through the journal, and writes the new
 * superblock and its backup last: an interrupted format leaves a device
 * that no program mistakes for a volume.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/format.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define MIN_DATA_BLOCKS		8
#define MIN_JOURNAL		(4ull << 20)
#define MAX_JOURNAL		(256ull << 20)

struct layout {
	uint64_t bsize, mpb;		/* block size, mblks per block */
	uint64_t client_mblk, journal_mblk, journal_len;
	uint64_t bitmap_mblk, bitmap_len;
	uint64_t data_start;		/* first data block = first chunk */
};

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static void norm_opts(const struct fmt_opts *o, unsigned *shift,
		      unsigned *nodes)
{
	*shift = o->block_shift ? o->block_shift : CSVFS_MIN_BLOCK_SHIFT;
	*nodes = o->max_nodes ? o->max_nodes : CSVFS_DEFAULT_NODES;
}

static void plan(const struct fmt_opts *o, uint64_t total_blocks,
		 uint64_t dev_size, struct layout *l)
{
	unsigned shift, nodes;
	uint64_t jbytes = o->journal_bytes, blk;

	norm_opts(o, &shift, &nodes);
	l->bsize = 1ull << shift;
	l->mpb = l->bsize / CSVFS_MBLK_SIZE;
	if (!jbytes) {
		jbytes = dev_size / 64;
		if (jbytes < MIN_JOURNAL * 4)
			jbytes = MIN_JOURNAL * 4;
		if (jbytes > MAX_JOURNAL)
			jbytes = MAX_JOURNAL;
	}
	blk = 1;
	l->client_mblk = blk * l->mpb;
	blk += div_up((uint64_t)nodes * CSVFS_MBLK_SIZE, l->bsize);
	l->journal_mblk = blk * l->mpb;
	l->journal_len = div_up(jbytes, l->bsize) * l->mpb;
	blk += l->journal_len / l->mpb;
	l->bitmap_mblk = blk * l->mpb;
	l->bitmap_len = div_up(total_blocks ? total_blocks : 1,
			       CSVFS_BITMAP_BITS);
	blk += div_up(l->bitmap_len, l->mpb);
	l->data_start = blk;
}

uint64_t fmt_min_size(const struct fmt_opts *o)
{
	struct layout l;
	uint64_t need, prev = 0;

	/* The bitmap grows with the size: iterate to a fixed point. */
	plan(o, 1, 0, &l);
	need = l.data_start + 1 + MIN_DATA_BLOCKS;
	while (need != prev) {
		prev = need;
		plan(o, need, need * l.bsize, &l);
		need = l.data_start + 1 + MIN_DATA_BLOCKS;
	}
	return need * l.bsize;
}

static int write_mblk(struct dev *d, uint8_t *raw, uint64_t mblk)
{
	od_seal(raw);
	return dev_pwrite(d, raw, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
}

int fmt_write_super(struct dev *d, const struct csvfs_super *sb, int both)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	struct csvfs_super s = *sb;
	int rc;

	if (!raw)
		return -ENOMEM;
	s.hdr.mblk = CSVFS_SB_MBLK;
	od_super_encode(&s, raw);
	rc = write_mblk(d, raw, CSVFS_SB_MBLK);
	if (!rc && both) {
		s.hdr.mblk = sb->backup_mblk;
		od_super_encode(&s, raw);
		rc = write_mblk(d, raw, sb->backup_mblk);
	}
	if (!rc)
		rc = dev_flush(d);
	free(raw);
	return rc;
}

/*
 * What is wrong with a decoded superblock's layout, NULL if nothing. Every
 * region must lie where the next one starts and inside the volume; the
 * shift of total_blocks by block_shift must not overflow (the device size
 * check computes it).
 */
static const char *super_layout(const struct csvfs_super *sb)
{
	uint64_t mpb;

	if (sb->block_shift < CSVFS_MIN_BLOCK_SHIFT ||
	    sb->block_shift > CSVFS_MAX_BLOCK_SHIFT)
		return "invalid block size";
	mpb = 1ull << (sb->block_shift - CSVFS_MBLK_SHIFT);
	if (sb->max_nodes == 0 || sb->max_nodes > CSVFS_MAX_NODES_LIMIT)
		return "invalid node count";
	if (sb->data_start == 0 || sb->data_start >= sb->total_blocks ||
	    sb->total_blocks > (UINT64_MAX >> sb->block_shift))
		return "invalid data area";
	if (sb->hb_mblk < 2 || sb->backup_mblk != mpb - 1 ||
	    sb->hb_mblk + sb->max_nodes > sb->backup_mblk)
		return "invalid heartbeat or backup position";
	if (sb->client_mblk < mpb ||
	    sb->client_mblk + sb->max_nodes > sb->journal_mblk)
		return "invalid client table position";
	if (sb->journal_len < 16 ||
	    sb->journal_mblk + sb->journal_len > sb->bitmap_mblk)
		return "invalid journal position";
	if (sb->bitmap_len == 0 ||
	    sb->bitmap_len * CSVFS_BITMAP_BITS < sb->total_blocks ||
	    sb->bitmap_mblk + sb->bitmap_len > sb->data_start * mpb)
		return "invalid bitmap position";
	if (sb->first_chunk < sb->data_start ||
	    sb->first_chunk >= sb->total_blocks)
		return "first meta chunk outside the data area";
	if (sb->root_ino / mpb < sb->data_start ||
	    sb->root_ino / mpb >= sb->total_blocks || sb->root_ino % mpb == 0)
		return "root inode outside the data area";
	return NULL;
}

int fmt_check_super(const void *raw, uint64_t mblk, struct csvfs_super *sb,
		    const char **why)
{
	const char *w = NULL;
	int rc;

	if (od_get32(raw) != CSVFS_MAGIC_SUPER) {
		rc = -CSVFS_ENOTCSVFS;
		goto out;
	}
	rc = od_check(raw, CSVFS_MAGIC_SUPER, mblk, NULL);
	if (rc == -CSVFS_EVERSION)
		od_super_decode(raw, sb);	/* the caller names the version */
	if (rc)
		goto out;
	od_super_decode(raw, sb);
	/* Format 2 (sub-blocks) refuses 1.x volumes: no migration yet. */
	if (sb->vmajor != CSVFS_VERSION_MAJOR) {
		rc = -CSVFS_EVERSION;
		goto out;
	}
	w = super_layout(sb);
	if (w)
		rc = -CSVFS_ECORRUPT;
out:
	if (why)
		*why = w;
	return rc;
}

static int check_super(struct dev *d, const uint8_t *raw, uint64_t mblk,
		       struct csvfs_super *sb)
{
	int rc = fmt_check_super(raw, mblk, sb, NULL);

	if (rc)
		return rc;
	if (d->size < (sb->total_blocks << sb->block_shift))
		return -CSVFS_ETOOSMALL;
	return 0;
}

static int read_super_at(struct dev *d, uint64_t mblk, struct csvfs_super *sb)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	if ((mblk + 1) * CSVFS_MBLK_SIZE > d->size)
		rc = -CSVFS_ENOTCSVFS;
	else
		rc = dev_pread(d, raw, CSVFS_MBLK_SIZE,
			       mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = check_super(d, raw, mblk, sb);
	free(raw);
	return rc;
}

int fmt_read_super(struct dev *d, struct csvfs_super *sb)
{
	return read_super_at(d, CSVFS_SB_MBLK, sb);
}

int fmt_read_backup(struct dev *d, struct csvfs_super *sb)
{
	unsigned shift;
	int rc = -CSVFS_ENOTCSVFS;

	for (shift = CSVFS_MIN_BLOCK_SHIFT; shift <= CSVFS_MAX_BLOCK_SHIFT;
	     shift++) {
		uint64_t mblk = (1ull << (shift - CSVFS_MBLK_SHIFT)) - 1;

		rc = read_super_at(d, mblk, sb);
		if (!rc && sb->backup_mblk == mblk && sb->block_shift == shift)
			return 0;
		if (!rc)
			rc = -CSVFS_ECORRUPT;
	}
	return rc;
}

static void progress(const struct fmt_opts *o, uint64_t done, uint64_t total)
{
	if (o->progress)
		o->progress(o->progress_ctx, done, total);
}

/* Writes the blocks of the system regions (everything but the root). */
static int write_regions(struct dev *d, const struct csvfs_super *sb,
			 uint8_t *raw)
{
	const uint8_t *uuid = sb->hdr.uuid;
	uint64_t i, b;
	int rc = 0;

	{
		struct csvfs_vstate vs;

		memset(&vs, 0, sizeof(vs));
		od_hdr_init(&vs.hdr, CSVFS_MAGIC_STATE, CSVFS_STATE_MBLK, uuid);
		vs.next_generation = 2;
		od_vstate_encode(&vs, raw);
		rc = write_mblk(d, raw, CSVFS_STATE_MBLK);
	}
	for (i = 0; !rc && i < sb->max_nodes; i++) {
		struct csvfs_hb hb;
		struct csvfs_client cl;

		memset(&hb, 0, sizeof(hb));
		od_hb_slot_encode(&hb, sb->hb_mblk + i, uuid, raw);
		rc = write_mblk(d, raw, sb->hb_mblk + i);
		if (rc)
			break;
		memset(&cl, 0, sizeof(cl));
		od_hdr_init(&cl.hdr, CSVFS_MAGIC_CLIENT, sb->client_mblk + i,
			    uuid);
		od_client_encode(&cl, raw);
		rc = write_mblk(d, raw, sb->client_mblk + i);
	}
	if (!rc) {
		struct csvfs_jsb jsb;

		memset(&jsb, 0, sizeof(jsb));
		od_hdr_init(&jsb.hdr, CSVFS_MAGIC_JSB, sb->journal_mblk, uuid);
		jsb.start = 1;
		jsb.start_tid = 1;
		od_jsb_encode(&jsb, raw);
		rc = write_mblk(d, raw, sb->journal_mblk);
	}
	for (i = 0; !rc && i < sb->bitmap_len; i++) {
		struct csvfs_bitmap bm;

		memset(&bm, 0, sizeof(bm));
		od_hdr_init(&bm.hdr, CSVFS_MAGIC_BITMAP, sb->bitmap_mblk + i,
			    uuid);
		/* System blocks, the first chunk, and the bits past the end. */
		for (b = i * CSVFS_BITMAP_BITS;
		     b < (i + 1) * CSVFS_BITMAP_BITS; b++)
			if (b <= sb->first_chunk || b >= sb->total_blocks)
				bm.bits[(b % CSVFS_BITMAP_BITS) / 8] |=
					(uint8_t)(1u << (b % 8));
		od_bitmap_encode(&bm, raw);
		rc = write_mblk(d, raw, sb->bitmap_mblk + i);
	}
	if (!rc) {
		struct csvfs_chunk ch;
		uint64_t m = sb->first_chunk <<
			     (sb->block_shift - CSVFS_MBLK_SHIFT);

		memset(&ch, 0, sizeof(ch));
		od_hdr_init(&ch.hdr, CSVFS_MAGIC_CHUNK, m, uuid);
		ch.blk = sb->first_chunk;
		ch.nmblks = 1u << (sb->block_shift - CSVFS_MBLK_SHIFT);
		ch.nused = 2;		/* the header and the root inode */
		ch.used[0] = 0x3;
		od_chunk_encode(&ch, raw);
		rc = write_mblk(d, raw, m);
	}
	return rc;
}

static void now_ts(uint64_t *sec, uint32_t *nsec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = (uint64_t)ts.tv_sec;
	*nsec = (uint32_t)ts.tv_nsec;
}

/* Creates the root directory through the journal. */
static int make_root(struct dev *d, const struct csvfs_super *sb)
{
	struct csvfs_inode in;
	struct alloc *a = NULL;
	struct jrnl *j = NULL;
	struct mbuf *mb;
	struct jop op;
	int rc, rc2;

	rc = jrnl_open(d, sb, JRNL_NO_THREAD, &j);
	if (rc)
		return rc;
	jop_begin(j, &op);
	rc = alloc_load(&op, sb, &a);
	if (rc)
		goto end;
	rc = jop_new(&op, sb->root_ino, &mb);
	if (rc)
		goto end;
	memset(&in, 0, sizeof(in));
	od_hdr_init(&in.hdr, CSVFS_MAGIC_INODE, sb->root_ino, sb->hdr.uuid);
	in.mode = S_IFDIR | 0755;
	in.nlink = 2;
	in.parent = sb->root_ino;
	in.generation = 1;
	now_ts(&in.mtime_sec, &in.mtime_nsec);
	in.atime_sec = in.ctime_sec = in.btime_sec = in.mtime_sec;
	in.atime_nsec = in.ctime_nsec = in.btime_nsec = in.mtime_nsec;
	rc = dir_create(&op, a, sb->root_ino, &in);
	if (rc)
		goto end;
	od_inode_encode(&in, mb->data);
end:
	jop_end(&op, rc);
	alloc_release(a);
	rc2 = jrnl_close(j);
	return rc ? rc : rc2;
}

int fmt_volume(struct dev *d, const struct fmt_opts *o,
	       struct csvfs_super *out)
{
	struct csvfs_super sb;
	struct layout l;
	uint8_t *raw = NULL, uuid[CSVFS_UUID_SIZE];
	unsigned shift, nodes, s;
	uint64_t total, z, zstep, zsteps, ptotal;
	int rc;

	norm_opts(o, &shift, &nodes);
	if (shift < CSVFS_MIN_BLOCK_SHIFT || shift > CSVFS_MAX_BLOCK_SHIFT ||
	    nodes > CSVFS_MAX_NODES_LIMIT)
		return -EINVAL;
	if (o->journal_bytes && o->journal_bytes < MIN_JOURNAL)
		return -EINVAL;
	if (d->size < fmt_min_size(o))
		return -CSVFS_ETOOSMALL;
	total = d->size >> shift;
	plan(o, total, d->size, &l);
	if (l.data_start + 1 + MIN_DATA_BLOCKS > total)
		return -CSVFS_ETOOSMALL;

	memset(&sb, 0, sizeof(sb));
	if (o->uuid) {
		memcpy(uuid, o->uuid, CSVFS_UUID_SIZE);
	} else {
		if (RAND_bytes(uuid, CSVFS_UUID_SIZE) != 1)
			return -EIO;
		uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);	/* v4 */
		uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	}
	od_hdr_init(&sb.hdr, CSVFS_MAGIC_SUPER, CSVFS_SB_MBLK, uuid);
	sb.vmajor = CSVFS_VERSION_MAJOR;
	sb.vminor = CSVFS_VERSION_MINOR;
	sb.block_shift = shift;
	sb.total_blocks = total;
	sb.data_start = l.data_start;
	sb.max_nodes = nodes;
	sb.state = CSVFS_STATE_CLEAN;
	sb.hb_mblk = CSVFS_HB_MBLK;
	sb.client_mblk = l.client_mblk;
	sb.backup_mblk = l.mpb - 1;
	sb.journal_mblk = l.journal_mblk;
	sb.journal_len = l.journal_len;
	sb.bitmap_mblk = l.bitmap_mblk;
	sb.bitmap_len = l.bitmap_len;
	sb.first_chunk = l.data_start;
	sb.root_ino = (l.data_start * l.mpb) + 1;
	if (RAND_bytes((unsigned char *)&sb.hash_seed,
		       sizeof(sb.hash_seed)) != 1)
		return -EIO;
	sb.mkfs_time = (uint64_t)time(NULL);
	if (o->label)
		strncpy(sb.label, o->label, sizeof(sb.label) - 1);

	raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	if (!raw)
		return -ENOMEM;
	/*
	 * Kill the old superblock and every place a backup of any block
	 * size lives, so no older volume can be "recovered" later.
	 */
	rc = dev_pwrite(d, raw, CSVFS_MBLK_SIZE, 0);
	for (s = CSVFS_MIN_BLOCK_SHIFT; !rc && s <= CSVFS_MAX_BLOCK_SHIFT;
	     s++) {
		uint64_t m = (1ull << (s - CSVFS_MBLK_SHIFT)) - 1;

		if ((m + 1) * CSVFS_MBLK_SIZE <= d->size)
			rc = dev_pwrite(d, raw, CSVFS_MBLK_SIZE,
					m * CSVFS_MBLK_SIZE);
	}
	if (!rc)
		rc = dev_flush(d);
	/*
	 * Zero everything after block 0: journal, bitmap, data. In 100
	 * steps, so a terminal shows progress: on a large block device
	 * without offloaded zeroing this is most of mkfs's time. Progress
	 * counts blocks; the writes after it are its last 1 %.
	 */
	zsteps = 100;
	zstep = (total - 1 + zsteps - 1) / zsteps;
	ptotal = total - 1 + zstep;
	for (z = 1; !rc && z < total; z += zstep) {
		uint64_t n = total - z < zstep ? total - z : zstep;

		progress(o, z - 1, ptotal);
		rc = dev_zero(d, z * l.bsize, n * l.bsize);
	}
	if (!rc)
		rc = write_regions(d, &sb, raw);
	if (!rc)
		rc = dev_flush(d);
	if (!rc)
		rc = make_root(d, &sb);
	if (!rc)
		rc = fmt_write_super(d, &sb, 1);
	if (!rc)
		progress(o, ptotal, ptotal);
	free(raw);
	if (!rc && out)
		*out = sb;
	return rc;
}

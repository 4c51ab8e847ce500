/*
 * fsck_pass: the block helpers the passes share, pass 1 of fsck (see
 * fsck.h: the chunk list, the bitmap blocks, every metadata block in use
 * classified) and the collecting of ownership.
 *
 * Ownership is collected as runs of large blocks (file extents, meta
 * chunks, the system area) and references to metadata blocks (an inode's
 * own block, its extent leaves, its directory blocks). Sorted, the runs
 * show blocks owned twice (fsck_inode.c); compared with the bitmaps
 * (fsck_maps.c), they show blocks marked free that are in use and blocks
 * marked in use that nothing owns.
 *
 * Order of repairs. The allocator hands out whatever its maps say is free,
 * so before any repair that allocates (directory rebuild, extent salvage,
 * /lost+found) every block found in use is marked in use ("protect", end of
 * pass 2). Blocks marked in use that nothing owns are only freed in pass 5,
 * from ownership collected again after every repair, and only after they
 * are zeroed and the zeroes flushed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/blob.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/extent.h"
#include "meta/fsck/fsck_i.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

/* ---- small helpers ------------------------------------------------------- */

struct hset {
	uint64_t *v;
	size_t cap, n;
};

/* Adds k (never 0): 1 if new, 0 if already there, -ENOMEM. */
static int hset_add(struct hset *h, uint64_t k)
{
	size_t i;

	if (2 * (h->n + 1) > h->cap) {
		struct hset nh = { NULL, h->cap ? h->cap * 2 : 256, 0 };

		nh.v = calloc(nh.cap, sizeof(*nh.v));
		if (!nh.v)
			return -ENOMEM;
		for (i = 0; i < h->cap; i++)
			if (h->v[i])
				hset_add(&nh, h->v[i]);
		free(h->v);
		*h = nh;
	}
	for (i = (k * 0x9e3779b97f4a7c15ull) % h->cap; h->v[i];
	     i = (i + 1) % h->cap)
		if (h->v[i] == k)
			return 0;
	h->v[i] = k;
	h->n++;
	return 1;
}

int fk_hdr_ok(const struct fsck *f, const uint8_t *raw, uint32_t magic,
	      uint64_t mblk)
{
	struct csvfs_mhdr h;

	od_mhdr_decode(raw, &h);
	return h.magic == magic && h.mblk == mblk &&
	       h.version == CSVFS_VERSION_MAJOR &&
	       !memcmp(h.uuid, f->sb.hdr.uuid, CSVFS_UUID_SIZE);
}

int fk_ext_ok(const struct fsck *f, const struct csvfs_extent *e,
	      int in_area)
{
	if (e->len == 0 || e->lblk + e->len < e->lblk ||
	    e->pblk + e->len < e->pblk || (e->flags & ~(uint32_t)EXT_KNOWN))
		return 0;
	/* A sub-block run: 4 KiB units of the data area (fsck_sub.c). */
	if (e->flags & CSVFS_EXT_SUB)
		return e->flags == CSVFS_EXT_SUB && e->lblk == 0 &&
		       e->len < f->mpb && (!in_area ||
		       (e->pblk >= f->sb.data_start * f->mpb &&
			e->pblk + e->len <= f->sb.total_blocks * f->mpb));
	return !in_area || (e->pblk >= f->sb.data_start &&
			    e->pblk + e->len <= f->sb.total_blocks);
}

const char *fk_owner_name(uint64_t owner, char *buf, size_t len)
{
	if (owner == OWN_SYSTEM)
		return "the system area";
	if (owner == OWN_CHUNK)
		return "a meta chunk";
	snprintf(buf, len, "inode %llu", (unsigned long long)owner);
	return buf;
}

const char *fk_range_str(uint64_t start, uint64_t len, char *buf,
			 size_t n)
{
	if (len == 1)
		snprintf(buf, n, "%llu", (unsigned long long)start);
	else
		snprintf(buf, n, "%llu-%llu (%llu blocks)",
			 (unsigned long long)start,
			 (unsigned long long)(start + len - 1),
			 (unsigned long long)len);
	return buf;
}

/* Writes a raw block back as it is; the commit seals it. */
static int reseal(struct fsck *f, uint64_t mblk, const uint8_t *raw)
{
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = jop_new(&op, mblk, &mb);
	if (!rc)
		memcpy(mb->data, raw, CSVFS_MBLK_SIZE);
	jop_end(&op, rc);
	return rc;
}

int fk_put_inode(struct fsck *f, const struct csvfs_inode *in)
{
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = fk_write_inode(f, &op, in);
	jop_end(&op, rc);
	fk_maybe_commit(f);
	return rc;
}

void fk_resync(struct fsck *f)
{
	struct jop op;

	if (!f->a)
		return;
	jop_begin(f->j, &op);
	alloc_resync(f->a, &op);
	jop_end(&op, 0);
}

/* Sets or clears count chunk map bits from mblk on; recounts nused. */
int fk_chunk_bits(struct fsck *f, struct jop *op, uint64_t mblk,
		  uint64_t count, int v)
{
	uint64_t base = mblk / f->mpb * f->mpb, i;
	struct csvfs_chunk ch;
	struct mbuf *mb;
	int rc;

	rc = jop_read(op, base, CSVFS_MAGIC_CHUNK, &mb);
	if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	od_chunk_decode(mb->data, &ch);
	for (i = mblk - base; i < mblk - base + count; i++)
		fk_bit_put(ch.used, i, v);
	ch.nused = fk_popcount(ch.used, ch.nmblks);
	od_chunk_encode(&ch, mb->data);
	return 0;
}

/* Marks an inode dead (mode 0) and frees its block. */
int fk_clear_inode(struct fsck *f, uint64_t ino)
{
	struct csvfs_inode in;
	struct mbuf *mb;
	struct jop op;
	int rc, used = 0;

	jop_begin(f->j, &op);
	rc = jop_read(&op, ino, CSVFS_MAGIC_INODE, &mb);
	if (!rc) {
		rc = jop_write(&op, mb);
		od_inode_decode(mb->data, &in);
	} else {
		rc = jop_new(&op, ino, &mb);
		memset(&in, 0, sizeof(in));
		od_hdr_init(&in.hdr, CSVFS_MAGIC_INODE, ino, f->sb.hdr.uuid);
	}
	if (!rc) {
		in.mode = 0;
		in.nlink = 0;
		od_inode_encode(&in, mb->data);
	}
	if (!rc && f->a && !alloc_mblk_test(f->a, &op, ino, &used) && used)
		rc = alloc_free_mblk(f->a, &op, ino);
	else if (!rc && !f->a)
		rc = fk_rel_add(f, ino);	/* pass 5 frees it quietly */
	jop_end(&op, rc);
	if (rc)
		fk_resync(f);
	f->changed = 1;
	return rc;
}

/* ---- block sanity (reseal decisions) ------------------------------------- */

int fk_rent_at(const struct csvfs_dbucket *b, unsigned off,
	       unsigned used, struct rent *e)
{
	const uint8_t *p = b->entries + off;

	if (off + CSVFS_DIRENT_HDR > used)
		return -1;
	e->hash = od_get64(p);
	e->ino = od_get64(p + 8);
	e->rec_len = od_get16(p + 16);
	e->name_len = p[18];
	e->type = p[19];
	e->name = (const char *)p + CSVFS_DIRENT_HDR;
	if (e->rec_len != ((CSVFS_DIRENT_HDR + e->name_len + 7) & ~7u) ||
	    off + e->rec_len > used)
		return -1;
	return 0;
}

int fk_rent_valid(const struct fsck *f, const struct rent *e)
{
	if (e->name_len == 0 || e->ino == 0 ||
	    memchr(e->name, '/', e->name_len) ||
	    memchr(e->name, '\0', e->name_len) ||
	    (e->name_len == 1 && e->name[0] == '.') ||
	    (e->name_len == 2 && e->name[0] == '.' && e->name[1] == '.'))
		return 0;
	return dir_hash(f->sb.hash_seed, e->name, e->name_len) == e->hash;
}

static int block_sane(const struct fsck *f, uint32_t magic, uint64_t mblk,
		      const uint8_t *raw)
{
	union {
		struct csvfs_extblk x;
		struct csvfs_dindex ix;
		struct csvfs_dbucket b;
	} u;
	struct rent e;
	unsigned off, n = 0;
	uint64_t prev = 0;
	uint32_t i;

	if (!fk_hdr_ok(f, raw, magic, mblk))
		return 0;
	switch (magic) {
	case CSVFS_MAGIC_EXTENT:
		od_extblk_decode(raw, &u.x);
		if (u.x.count > CSVFS_EXTBLK_MAX)
			return 0;
		for (i = 0; i < u.x.count; i++)
			if (!fk_ext_ok(f, &u.x.ext[i], 0) ||
			    (i && u.x.ext[i].lblk < u.x.ext[i - 1].lblk +
						    u.x.ext[i - 1].len))
				return 0;
		return 1;
	case CSVFS_MAGIC_DINDEX:
		od_dindex_decode(raw, &u.ix);
		if (u.ix.first_slot % CSVFS_DINDEX_SLOTS || u.ix.nslots == 0 ||
		    u.ix.nslots > CSVFS_DINDEX_SLOTS)
			return 0;
		for (i = u.ix.nslots; i < CSVFS_DINDEX_SLOTS; i++)
			if (u.ix.slots[i])
				return 0;
		return 1;
	case CSVFS_MAGIC_DBUCKET:
		od_dbucket_decode(raw, &u.b);
		if (u.b.used > CSVFS_DBUCKET_SPACE)
			return 0;
		for (off = 0; off < u.b.used; off += e.rec_len, n++) {
			if (fk_rent_at(&u.b, off, u.b.used, &e) ||
			    !fk_rent_valid(f, &e) || e.hash < prev)
				return 0;
			prev = e.hash;
		}
		return n == u.b.nentries;
	}
	return 0;
}

int fk_inode_sane(const struct fsck *f, uint64_t mblk, const uint8_t *raw)
{
	struct csvfs_inode in;
	uint32_t depth, nindex;

	if (!fk_hdr_ok(f, raw, CSVFS_MAGIC_INODE, mblk))
		return 0;
	od_inode_decode(raw, &in);
	if (!fk_mode_valid(in.mode) || (in.flags & ~(uint32_t)IFL_KNOWN) ||
	    in.xattr_len > (in.flags & CSVFS_IFL_XBLOB ?
			    CSVFS_XATTR_TOTAL_MAX : CSVFS_INODE_XATTR_SIZE) ||
	    in.nlink > (1u << 20))
		return 0;
	switch (in.mode & S_IFMT) {
	case S_IFREG:
		if (in.flags & CSVFS_IFL_INLINE)
			return in.size <= ino_inline_cap(&in);
		if (in.flags & CSVFS_IFL_EXTBLOCKS)
			return in.nextents >= 1 &&
			       in.nextents <= CSVFS_EXTBLK_INDEX_MAX;
		return in.nextents <= CSVFS_INLINE_EXTENTS;
	case S_IFDIR:
		depth = od_get32(in.body);
		nindex = od_get32(in.body + 4);
		return depth <= DIR_DEPTH_MAX &&
		       nindex == ((1u << depth) + CSVFS_DINDEX_SLOTS - 1) /
				 CSVFS_DINDEX_SLOTS;
	case S_IFLNK:
		return in.size >= 1 && in.size <= (in.flags &
			CSVFS_IFL_LONGLINK ? CSVFS_SYMLINK_MAX :
			CSVFS_SYMLINK_INLINE_MAX);
	}
	return 1;
}

/* ---- pass 1: bitmap blocks, chunk list, metadata blocks ------------------ */

static int bitmap_rebuild(struct fsck *f, uint64_t m)
{
	struct csvfs_bitmap bm;
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = jop_new(&op, m, &mb);
	if (!rc) {
		memset(&bm, 0xff, sizeof(bm));
		od_hdr_init(&bm.hdr, CSVFS_MAGIC_BITMAP, m, f->sb.hdr.uuid);
		od_bitmap_encode(&bm, mb->data);
	}
	jop_end(&op, rc);
	return rc;
}

static int pass1_bitmap(struct fsck *f)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	uint64_t i;
	int rc;

	for (i = 0; i < f->sb.bitmap_len; i++) {
		uint64_t m = f->sb.bitmap_mblk + i;

		rc = fk_pread(f, raw, m);
		if (rc) {
			f->opfail = 1;
			return rc;
		}
		rc = od_check(raw, CSVFS_MAGIC_BITMAP, m, f->sb.hdr.uuid);
		if (!rc)
			continue;
		if (rc == -CSVFS_EBADCRC &&
		    fk_hdr_ok(f, raw, CSVFS_MAGIC_BITMAP, m)) {
			if (fk_problem(f, 0, "bitmap block %llu: bad checksum",
				       (unsigned long long)m))
				fk_result(f, reseal(f, m, raw), "checksum "
					  "rewritten; its bits are checked in "
					  "pass 5");
		} else if (fk_problem(f, 0, "bitmap block %llu: %s",
				      (unsigned long long)m,
				      csvfs_strerror(rc))) {
			fk_result(f, bitmap_rebuild(f, m), "rebuilt with every "
				  "block in use; pass 5 frees what nothing "
				  "owns");
		}
	}
	return 0;
}

/* A metadata block other than an inode whose checksum failed. */
static void bad_meta(struct fsck *f, uint32_t magic, uint64_t m,
		     const uint8_t *raw)
{
	const char *what = magic == CSVFS_MAGIC_EXTENT ? "extent block" :
			   magic == CSVFS_MAGIC_DINDEX ? "directory index" :
			   "directory bucket";

	if (!block_sane(f, magic, m, raw)) {
		fk_info(f, "%s %llu: bad checksum, contents invalid (repaired "
			"with its owner)", what, (unsigned long long)m);
		return;
	}
	if (fk_problem(f, 0, "%s %llu: bad checksum", what,
		       (unsigned long long)m))
		fk_result(f, reseal(f, m, raw), "contents are valid; checksum "
			  "rewritten");
}

/* Classifies every metadata block marked in use in the chunk at blk. */
static int classify(struct fsck *f, uint64_t blk, const uint8_t *buf,
		    const struct csvfs_chunk *ch)
{
	struct csvfs_inode in;
	struct csvfs_dbucket b;
	struct csvfs_dindex ix;
	uint64_t i;
	int rc;

	for (i = 1; i < ch->nmblks; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;
		uint64_t m = blk * f->mpb + i;
		uint32_t magic = od_get32(raw);
		struct fino *fi;

		if (!fk_bit(ch->used, i))
			continue;
		rc = od_check(raw, magic, m, f->sb.hdr.uuid);
		if (magic == CSVFS_MAGIC_INODE &&
		    (!rc || rc == -CSVFS_EBADCRC)) {
			od_inode_decode(raw, &in);
			if (in.mode == 0)
				continue;	/* dead: leaked, pass 5 */
			if (rc && !fk_inode_sane(f, m, raw)) {
				if (fk_problem(f, 0, "inode %llu: bad "
					       "checksum, contents invalid",
					       (unsigned long long)m))
					fk_result(f, fk_clear_inode(f, m),
						  "cleared; its entries and "
						  "blocks go in later passes");
				continue;
			}
			fi = fk_ino_append(f, m);
			if (!fi)
				return -ENOMEM;
			fi->mode = in.mode;
			if (in.generation > f->max_gen)
				f->max_gen = in.generation;
			if (rc && fk_problem(f, 0, "inode %llu: bad checksum",
					     (unsigned long long)m))
				fk_result(f, reseal(f, m, raw), "contents are "
					  "valid; checksum rewritten");
			else if (rc)
				fi->fl |= FI_BADCRC;
		} else if ((magic == CSVFS_MAGIC_EXTENT ||
			    magic == CSVFS_MAGIC_DINDEX ||
			    magic == CSVFS_MAGIC_DBUCKET) &&
			   rc == -CSVFS_EBADCRC) {
			bad_meta(f, magic, m, raw);
		}
		if (magic == CSVFS_MAGIC_DBUCKET &&
		    fk_hdr_ok(f, raw, magic, m)) {
			od_dbucket_decode(raw, &b);
			if (fk_bucket_add(f, m, b.ino))
				return -ENOMEM;
		} else if (magic == CSVFS_MAGIC_DINDEX &&
			   fk_hdr_ok(f, raw, magic, m)) {
			od_dindex_decode(raw, &ix);
			if (fk_bucket_add(f, m, ix.ino))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Whether large block b starts with a valid meta chunk header of ours. */
int fk_holds_chunk(struct fsck *f, uint64_t b)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_chunk ch;

	if (b < f->sb.data_start || b >= f->sb.total_blocks ||
	    fk_pread(f, raw, b * f->mpb) ||
	    od_check(raw, CSVFS_MAGIC_CHUNK, b * f->mpb, f->sb.hdr.uuid))
		return 0;
	od_chunk_decode(raw, &ch);
	return ch.blk == b;
}

/*
 * Rebuilds the header of the chunk read into buf: its block, its size,
 * as in use every block that holds valid metadata of ours (pass 5 frees
 * what nothing references), and the next chunk if one is really there.
 */
static void chunk_rebuild(struct fsck *f, uint64_t blk, uint8_t *buf,
			  struct csvfs_chunk *ch)
{
	uint64_t i, m = blk * f->mpb, next = ch->next;

	memset(ch, 0, sizeof(*ch));
	od_hdr_init(&ch->hdr, CSVFS_MAGIC_CHUNK, m, f->sb.hdr.uuid);
	ch->blk = blk;
	ch->nmblks = (uint32_t)f->mpb;
	fk_bit_put(ch->used, 0, 1);
	for (i = 1; i < f->mpb; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;
		uint32_t magic = od_get32(raw);

		if ((magic != CSVFS_MAGIC_INODE &&
		     magic != CSVFS_MAGIC_EXTENT &&
		     magic != CSVFS_MAGIC_DINDEX &&
		     magic != CSVFS_MAGIC_DBUCKET) ||
		    od_check(raw, magic, m + i, f->sb.hdr.uuid) ||
		    (magic == CSVFS_MAGIC_INODE && od_get32(raw + 0x40) == 0))
			continue;
		fk_bit_put(ch->used, i, 1);
	}
	ch->nused = fk_popcount(ch->used, f->mpb);
	ch->next = next != blk && fk_holds_chunk(f, next) ? next : 0;
	od_chunk_encode(ch, buf);
}

/* Points chunk blk's header at next (through the cache: may be new). */
int fk_chunk_link(struct fsck *f, uint64_t blk, uint64_t next)
{
	struct csvfs_chunk ch;
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = jop_read(&op, blk * f->mpb, CSVFS_MAGIC_CHUNK, &mb);
	if (!rc)
		rc = jop_write(&op, mb);
	if (!rc) {
		od_chunk_decode(mb->data, &ch);
		ch.next = next;
		od_chunk_encode(&ch, mb->data);
	}
	jop_end(&op, rc);
	return rc;
}

/*
 * Whether the large block read into buf holds a valid metadata block of
 * this volume at its own place: file data cannot (a block names its own
 * number and the volume), so the block is a meta chunk.
 */
static int has_meta(struct fsck *f, uint64_t blk, const uint8_t *buf)
{
	uint64_t i;

	for (i = 1; i < f->mpb; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;
		uint32_t magic = od_get32(raw);

		if ((magic == CSVFS_MAGIC_INODE ||
		     magic == CSVFS_MAGIC_EXTENT ||
		     magic == CSVFS_MAGIC_DINDEX ||
		     magic == CSVFS_MAGIC_DBUCKET) &&
		    !od_check(raw, magic, blk * f->mpb + i, f->sb.hdr.uuid))
			return 1;
	}
	return 0;
}

/*
 * Checks the header of the chunk at blk (read whole into buf) and leaves a
 * usable one in *ch. Returns 1 if the chunk is usable, 0 if the block is
 * no chunk (the list is cut before it), or an error.
 */
static int chunk_header(struct fsck *f, uint64_t blk, uint64_t prev,
			uint8_t *buf, struct csvfs_chunk *ch, int *damaged)
{
	uint64_t m = blk * f->mpb;
	const char *why;
	uint32_t pop;
	int rc, sane, ours;

	rc = od_check(buf, CSVFS_MAGIC_CHUNK, m, f->sb.hdr.uuid);
	od_chunk_decode(buf, ch);
	sane = ch->blk == blk && ch->nmblks == f->mpb;
	ours = fk_hdr_ok(f, buf, CSVFS_MAGIC_CHUNK, m);
	if (rc == -CSVFS_EBADCRC && sane && ours) {
		if (fk_problem(f, 0, "meta chunk at block %llu: bad checksum",
			       (unsigned long long)blk))
			fk_result(f, reseal(f, m, buf), "header is valid; "
				  "checksum rewritten");
	} else if ((rc || !sane) && (ours || !prev || has_meta(f, blk, buf))) {
		/* a chunk: the first one, or its header or blocks say so */
		why = rc ? csvfs_strerror(rc) : "header describes another "
		      "chunk";
		chunk_rebuild(f, blk, buf, ch);
		*damaged = 1;	/* its next pointer is a guess */
		if (fk_problem(f, 0, "meta chunk at block %llu: %s",
			       (unsigned long long)blk, why))
			fk_result(f, reseal(f, m, buf), "header rebuilt from "
				  "its metadata blocks");
		return 1;
	} else if (rc || !sane) {
		*damaged = 1;
		if (fk_problem(f, 0, "meta chunk list: chunk %llu points to "
			       "block %llu, which is no meta chunk (%s)",
			       (unsigned long long)prev,
			       (unsigned long long)blk, rc ?
			       csvfs_strerror(rc) :
			       "header describes another chunk"))
			fk_result(f, fk_chunk_link(f, prev, 0), "the list ends "
				  "at chunk %llu", (unsigned long long)prev);
		return 0;
	}
	pop = fk_popcount(ch->used, ch->nmblks);
	if (ch->nused != pop &&
	    fk_problem(f, 1, "meta chunk at block %llu: header counts %u "
		       "metadata blocks in use, its map %u",
		       (unsigned long long)blk, ch->nused, pop)) {
		struct jop op;

		jop_begin(f->j, &op);
		rc = fk_chunk_bits(f, &op, m, 0, 1);
		jop_end(&op, rc);
		fk_result(f, rc, NULL);
	}
	return 1;
}

/* Reads chunk blk whole, checks its header, classifies its blocks. */
static int chunk_visit(struct fsck *f, uint64_t blk, uint64_t prev,
		       uint8_t *buf, struct csvfs_chunk *ch, int *damaged)
{
	int rc = dev_pread(f->d, buf, f->bsize, blk * f->bsize);

	if (rc) {
		f->opfail = 1;
		return rc;
	}
	rc = chunk_header(f, blk, prev, buf, ch, damaged);
	if (rc <= 0)
		return rc;
	rc = fk_chunk_add(f, blk);
	if (!rc)
		rc = classify(f, blk, buf, ch);
	return rc ? rc : 1;
}

/*
 * A meta chunk goes back to the free space only zeroed (meta/subblk.h), so
 * a block marked in use that starts with a valid chunk header of this
 * volume is a chunk -- or the one being given back (vstate.release_blk):
 * after damage to the list, the ones it lost are found that way and
 * linked at its end.
 */
static int stray_chunks(struct fsck *f, struct hset *seen, uint64_t last,
			uint8_t *buf)
{
	uint8_t bm[CSVFS_MBLK_SIZE];
	struct csvfs_chunk ch;
	uint64_t b, k = UINT64_MAX, releasing = 0;
	int rc = 0, dummy = 0;

	if (fk_pread(f, bm, CSVFS_STATE_MBLK) == 0 &&
	    od_get32(bm) == CSVFS_MAGIC_STATE)
		releasing = od_get64(bm + offsetof(struct csvfs_vstate,
						   release_blk));

	for (b = f->sb.data_start; b < f->sb.total_blocks && rc >= 0; b++) {
		uint64_t i = b % CSVFS_BITMAP_BITS;

		if (b / CSVFS_BITMAP_BITS != k) {
			k = b / CSVFS_BITMAP_BITS;
			rc = fk_pread(f, bm, f->sb.bitmap_mblk + k);
			if (rc)
				break;
		}
		if (!fk_bit(bm + CSVFS_MHDR_SIZE, i) || b == releasing ||
		    !fk_holds_chunk(f, b) || (rc = hset_add(seen, b)) <= 0)
			continue;
		if (fk_problem(f, 0, "meta chunk at block %llu is not on the "
			       "chunk list", (unsigned long long)b)) {
			rc = fk_chunk_link(f, last, b);
			if (!rc)
				rc = fk_chunk_link(f, b, 0);
			fk_result(f, rc, "linked after chunk %llu",
				  (unsigned long long)last);
		}
		rc = chunk_visit(f, b, last, buf, &ch, &dummy);
		if (rc > 0)
			last = b;
	}
	return rc < 0 ? rc : 0;
}

static int pass1_chunks(struct fsck *f)
{
	struct hset seen = { NULL, 0, 0 };
	struct csvfs_chunk ch;
	uint64_t blk = f->sb.first_chunk, prev = 0;
	int rc = 0, damaged = 0, out;
	uint8_t *buf;

	buf = dev_alloc_buf(f->bsize);
	if (!buf)
		return -ENOMEM;
	while (blk && rc >= 0) {
		out = blk < f->sb.data_start || blk >= f->sb.total_blocks;
		if (out || (rc = hset_add(&seen, blk)) == 0) {
			damaged = 1;
			if (fk_problem(f, 0, "meta chunk list: %s block %llu "
				       "after chunk %llu", out ?
				       "points outside the data area, to" :
				       "loops back to",
				       (unsigned long long)blk,
				       (unsigned long long)prev))
				fk_result(f, fk_chunk_link(f, prev, 0),
					  "the list ends at chunk %llu",
					  (unsigned long long)prev);
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		rc = chunk_visit(f, blk, prev, buf, &ch, &damaged);
		if (rc <= 0)
			break;
		prev = blk;
		blk = ch.next;
	}
	if (rc >= 0 && damaged && prev)
		rc = stray_chunks(f, &seen, prev, buf);
	free(seen.v);
	free(buf);
	return rc < 0 ? rc : 0;
}

int fk_pass1(struct fsck *f)
{
	int rc;

	fk_pass(f, "Pass 1: checking meta chunks, bitmap blocks and "
		"metadata blocks");
	rc = pass1_bitmap(f);
	if (!rc)
		rc = pass1_chunks(f);
	fk_ino_sort(f);
	if (rc == -ENOMEM)
		f->opfail = 1;
	if (!rc && f->nchunk == 0) {
		fk_info(f, "no usable meta chunk: cannot check further");
		return -CSVFS_ECORRUPT;
	}
	if (!rc)
		rc = fk_commit(f);
	return rc;
}

/* ---- collecting ownership ------------------------------------------------ */

void fk_ref_cb(void *ctx, uint64_t mblk)
{
	struct refctx *c = ctx;

	if (fk_ref_add(c->f, mblk, c->owner))
		c->rc = -ENOMEM;
}

static int blob_noop_cb(void *ctx, uint64_t mblk)
{
	(void)ctx;
	(void)mblk;
	return 0;
}

static int blob_ref_cb(void *ctx, uint64_t mblk)
{
	struct refctx *c = ctx;

	return fk_ref_add(c->f, mblk, c->owner);
}

int fk_blob_refs(struct fsck *f, struct jop *op, uint64_t ino,
		 const struct csvfs_inode *in, char *why, size_t wlen)
{
	struct refctx c = { f, ino, 0 };
	uint32_t kind[2] = { 0, 0 }, i;
	uint64_t head[2] = { 0, 0 };
	size_t len[2] = { 0, 0 };
	int rc;

	if (S_ISLNK(in->mode) && (in->flags & CSVFS_IFL_LONGLINK)) {
		kind[0] = CSVFS_BLOB_SYMLINK;
		head[0] = od_get64(in->body);
		len[0] = in->size;
	}
	if (in->flags & CSVFS_IFL_XBLOB) {
		kind[1] = CSVFS_BLOB_XATTR;
		head[1] = od_get64(in->xattr);
		len[1] = in->xattr_len;
	}
	for (i = 0; i < 2; i++) {
		if (!kind[i])
			continue;
		/* Whole chain first: a broken one adds no reference. */
		rc = blob_check(op, head[i], ino, kind[i], len[i],
				blob_noop_cb, NULL, why, wlen);
		if (!rc)
			rc = blob_check(op, head[i], ino, kind[i], len[i],
					blob_ref_cb, &c, why, wlen);
		if (rc == -ENOMEM || rc == -EIO)
			return rc;
		if (rc)
			return (int)kind[i];
	}
	return 0;
}

static int cmp_ext(const void *x, const void *y)
{
	uint64_t a = ((const struct csvfs_extent *)x)->lblk;
	uint64_t b = ((const struct csvfs_extent *)y)->lblk;

	return a < b ? -1 : a > b;
}

/*
 * The extents of a regular file that can still be read (raw, no checksum
 * needed): valid ones inside the data area, from leaves that name the file,
 * sorted, overlaps dropped. *e is malloc'd.
 */
int fk_collect_extents(struct fsck *f, uint64_t ino,
		       const struct csvfs_inode *in,
		       struct csvfs_extent **e, size_t *n)
{
	struct csvfs_extblk x;
	struct csvfs_extent *v = NULL, one;
	uint8_t raw[CSVFS_MBLK_SIZE];
	size_t nv = 0, cap = 0, k, i, nleaf;

	nleaf = in->flags & CSVFS_IFL_EXTBLOCKS ?
		(in->nextents < CSVFS_EXTBLK_INDEX_MAX ? in->nextents :
		 CSVFS_EXTBLK_INDEX_MAX) : 1;
	for (k = 0; k < nleaf; k++) {
		size_t cnt;

		if (in->flags & CSVFS_IFL_EXTBLOCKS) {
			uint64_t m = od_get64(in->body + k * 16 + 8);

			if (m == 0 || m >= f->d->size / CSVFS_MBLK_SIZE ||
			    fk_pread(f, raw, m) ||
			    !fk_hdr_ok(f, raw, CSVFS_MAGIC_EXTENT, m))
				continue;
			od_extblk_decode(raw, &x);
			if (x.ino != ino)
				continue;
			cnt = x.count < CSVFS_EXTBLK_MAX ? x.count :
			      CSVFS_EXTBLK_MAX;
		} else {
			cnt = in->nextents < CSVFS_INLINE_EXTENTS ?
			      in->nextents : CSVFS_INLINE_EXTENTS;
		}
		for (i = 0; i < cnt; i++) {
			if (in->flags & CSVFS_IFL_EXTBLOCKS)
				one = x.ext[i];
			else
				od_extent_decode(in->body + i * 24, &one);
			if (!fk_ext_ok(f, &one, 1))
				continue;
			if (nv == cap) {
				struct csvfs_extent *nw;

				cap = cap ? cap * 2 : 32;
				nw = realloc(v, cap * sizeof(*v));
				if (!nw) {
					free(v);
					return -ENOMEM;
				}
				v = nw;
			}
			v[nv++] = one;
		}
	}
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_ext);
	for (i = 0, k = 0; i < nv; i++)
		if (!k || v[i].lblk >= v[k - 1].lblk + v[k - 1].len)
			v[k++] = v[i];
	*e = v;
	*n = k;
	return 0;
}

/* Runs and leaves of a file whose map does not load: what can be read. */
int fk_collect_broken(struct fsck *f, uint64_t ino,
		      const struct csvfs_inode *in)
{
	struct csvfs_extent *v = NULL;
	size_t i, n = 0;
	int rc = fk_collect_extents(f, ino, in, &v, &n);

	for (i = 0; i < n && !rc; i++)
		rc = fk_run_add(f, v[i].pblk, v[i].len, v[i].lblk, ino);
	for (i = 0; (in->flags & CSVFS_IFL_EXTBLOCKS) && !rc &&
	     i < in->nextents && i < CSVFS_EXTBLK_INDEX_MAX; i++)
		rc = fk_ref_add(f, od_get64(in->body + i * 16 + 8), ino);
	free(v);
	return rc;
}

/*
 * References of a directory that failed dir_check: its index blocks and
 * the buckets pass 1 saw naming it (dir_check stops at the first fault).
 */
int fk_dir_refs_broken(struct fsck *f, uint64_t ino,
		       const struct csvfs_inode *in)
{
	uint32_t k, n = od_get32(in->body + 4);
	size_t i;
	int rc = 0;

	for (k = 0; k < n && k < CSVFS_DIR_MAX_INDEX && !rc; k++)
		if (od_get64(in->body + 8 + 8 * (size_t)k))
			rc = fk_ref_add(f, od_get64(in->body + 8 +
						    8 * (size_t)k), ino);
	for (i = 0; i < f->nbk && !rc; i++)
		if (f->bk[i].dir == ino)
			rc = fk_ref_add(f, f->bk[i].mblk, ino);
	return rc;
}

/* Adds the runs and references of one inode, without checking it. */
static int collect_inode(struct fsck *f, uint64_t ino)
{
	struct refctx rc_ = { f, ino, 0 };
	struct csvfs_inode in;
	struct extmap m;
	struct jop op;
	size_t i;
	int rc;

	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, ino, &in);
	if (!rc)
		rc = fk_ref_add(f, ino, ino);
	if (!rc) {
		char why[160];

		rc = fk_blob_refs(f, &op, ino, &in, why, sizeof(why));
		rc = rc < 0 ? rc : 0;
	}
	if (!rc && S_ISDIR(in.mode)) {
		if (dir_check(&op, &in, f->sb.hash_seed, fk_ref_cb, &rc_, NULL,
			      0) && !rc_.rc)
			rc_.rc = fk_dir_refs_broken(f, ino, &in);
		rc = rc_.rc;
	} else if (!rc && S_ISREG(in.mode) &&
		   !(in.flags & CSVFS_IFL_INLINE)) {
		if (ext_load(&op, ino, &in, &m) == 0) {
			for (i = 0; i < m.n && !rc; i++)
				if (m.e[i].flags & CSVFS_EXT_SUB)
					rc = fk_ext_ok(f, &m.e[i], 1) ?
					     fk_sub_run_add(f, ino, &m.e[i]) :
					     0;
				else if (fk_ext_ok(f, &m.e[i], 1))
					rc = fk_run_add(f, m.e[i].pblk,
							m.e[i].len,
							m.e[i].lblk, ino);
			for (i = 0; i < m.nleaf && !rc; i++)
				rc = fk_ref_add(f, m.leaf[i].mblk, ino);
			ext_free(&m);
		} else {
			rc = fk_collect_broken(f, ino, &in);
		}
	}
	jop_end(&op, 0);
	return rc == -ESTALE ? 0 : rc;
}

/* The system area and the meta chunks. */
int fk_add_fixed_runs(struct fsck *f)
{
	size_t i;
	int rc = fk_run_add(f, 0, f->sb.data_start, 0, OWN_SYSTEM);

	for (i = 0; i < f->nchunk && !rc; i++)
		rc = fk_run_add(f, f->chunk[i], 1, 0, OWN_CHUNK);
	if (!rc)
		rc = fk_sub_collect(f);
	return rc;
}

/* Collects everything again from the volume as repaired so far. */
int fk_recollect(struct fsck *f)
{
	struct hset seen = { NULL, 0, 0 };
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_chunk ch;
	uint64_t blk = f->sb.first_chunk;
	struct jop op;
	size_t i;
	int rc = 0;

	f->nrun = f->nref = f->nchunk = 0;
	fk_sub_reset_runs(f);
	f->csorted = 0;
	while (blk && blk >= f->sb.data_start && blk < f->sb.total_blocks &&
	       hset_add(&seen, blk) == 1) {
		jop_begin(f->j, &op);
		rc = fk_read(f, &op, blk * f->mpb, CSVFS_MAGIC_CHUNK, raw);
		jop_end(&op, 0);
		od_chunk_decode(raw, &ch);
		if ((rc && rc != -CSVFS_EBADCRC) || ch.blk != blk)
			break;
		rc = fk_chunk_add(f, blk);
		if (rc)
			break;
		blk = ch.next;
	}
	free(seen.v);
	rc = fk_add_fixed_runs(f);
	for (i = 0; i < f->nino && !rc; i++)
		if (!(f->ino[i].fl & FI_BAD))
			rc = collect_inode(f, f->ino[i].ino);
	f->changed = 0;
	if (rc)
		f->opfail = 1;
	return rc;
}

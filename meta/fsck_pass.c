/*
 * fsck_pass: passes 1 to 5 of fsck (see fsck.h).
 *
 * Ownership is collected as runs of large blocks (file extents, meta
 * chunks, the system area) and references to metadata blocks (an inode's
 * own block, its extent leaves, its directory blocks). Sorted, the runs
 * show blocks owned twice; compared with the bitmaps, they show blocks
 * marked free that are in use and blocks marked in use that nothing owns.
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
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/extent.h"
#include "meta/fsck_i.h"
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

static int bit(const uint8_t *map, uint64_t i)
{
	return (map[i / 8] >> (i % 8)) & 1;
}

static void bit_put(uint8_t *map, uint64_t i, int v)
{
	if (v)
		map[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		map[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static uint32_t popcount(const uint8_t *map, uint64_t nbits)
{
	uint64_t i;
	uint32_t n = 0;

	for (i = 0; i < nbits; i++)
		n += (uint32_t)bit(map, i);
	return n;
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
		bit_put(ch.used, i, v);
	ch.nused = popcount(ch.used, ch.nmblks);
	od_chunk_encode(&ch, mb->data);
	return 0;
}

/* Sets or clears the allocation bits of [start, start + len). */
static int bm_bits(struct fsck *f, uint64_t start, uint64_t len, int v)
{
	struct mbuf *mb = NULL;
	struct jop op;
	uint64_t b;
	int rc = 0;

	jop_begin(f->j, &op);
	for (b = start; b < start + len && !rc; b++) {
		if (!mb || b % CSVFS_BITMAP_BITS == 0) {
			rc = jop_read(&op, f->sb.bitmap_mblk +
				      b / CSVFS_BITMAP_BITS,
				      CSVFS_MAGIC_BITMAP, &mb);
			if (!rc)
				rc = jop_write(&op, mb);
			if (rc)
				break;
		}
		bit_put(mb->data + CSVFS_MHDR_SIZE, b % CSVFS_BITMAP_BITS, v);
	}
	jop_end(&op, rc);
	fk_maybe_commit(f);
	return rc;
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
	    in.xattr_len > CSVFS_INODE_XATTR_SIZE || in.nlink > (1u << 20))
		return 0;
	switch (in.mode & S_IFMT) {
	case S_IFREG:
		if (in.flags & CSVFS_IFL_INLINE)
			return in.size <= CSVFS_INLINE_MAX;
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
		return in.size >= 1 && in.size <= CSVFS_SYMLINK_MAX;
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
	uint64_t i;
	int rc;

	for (i = 1; i < ch->nmblks; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;
		uint64_t m = blk * f->mpb + i;
		uint32_t magic = od_get32(raw);
		struct fino *fi;

		if (!bit(ch->used, i))
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
		}
	}
	return 0;
}

/* Whether large block b starts with a valid meta chunk header of ours. */
static int holds_chunk(struct fsck *f, uint64_t b)
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
	bit_put(ch->used, 0, 1);
	for (i = 1; i < f->mpb; i++) {
		const uint8_t *raw = buf + i * CSVFS_MBLK_SIZE;
		uint32_t magic = od_get32(raw);

		if ((magic != CSVFS_MAGIC_INODE && magic != CSVFS_MAGIC_EXTENT &&
		     magic != CSVFS_MAGIC_DINDEX &&
		     magic != CSVFS_MAGIC_DBUCKET) ||
		    od_check(raw, magic, m + i, f->sb.hdr.uuid) ||
		    (magic == CSVFS_MAGIC_INODE && od_get32(raw + 0x40) == 0))
			continue;
		bit_put(ch->used, i, 1);
	}
	ch->nused = popcount(ch->used, f->mpb);
	ch->next = next != blk && holds_chunk(f, next) ? next : 0;
	od_chunk_encode(ch, buf);
}

/* Points chunk blk's header at next (through the cache: may be new). */
static int chunk_link(struct fsck *f, uint64_t blk, uint64_t next)
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

		if ((magic == CSVFS_MAGIC_INODE || magic == CSVFS_MAGIC_EXTENT ||
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
		if (fk_problem(f, 1, "meta chunk list: chunk %llu points to "
			       "block %llu, which is no meta chunk (%s)",
			       (unsigned long long)prev,
			       (unsigned long long)blk, rc ?
			       csvfs_strerror(rc) :
			       "header describes another chunk"))
			fk_result(f, chunk_link(f, prev, 0), "the list ends at "
				  "chunk %llu", (unsigned long long)prev);
		return 0;
	}
	pop = popcount(ch->used, ch->nmblks);
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
 * Meta chunks are never given back, so a block marked in use that starts
 * with a valid chunk header of this volume is a chunk: after damage to the
 * list, the ones it lost are found that way and linked at its end.
 */
static int stray_chunks(struct fsck *f, struct hset *seen, uint64_t last,
			uint8_t *buf)
{
	uint8_t bm[CSVFS_MBLK_SIZE];
	struct csvfs_chunk ch;
	uint64_t b, k = UINT64_MAX;
	int rc = 0, dummy = 0;

	for (b = f->sb.data_start; b < f->sb.total_blocks && rc >= 0; b++) {
		uint64_t i = b % CSVFS_BITMAP_BITS;

		if (b / CSVFS_BITMAP_BITS != k) {
			k = b / CSVFS_BITMAP_BITS;
			rc = fk_pread(f, bm, f->sb.bitmap_mblk + k);
			if (rc)
				break;
		}
		if (!bit(bm + CSVFS_MHDR_SIZE, i) || !holds_chunk(f, b) ||
		    (rc = hset_add(seen, b)) <= 0)
			continue;
		if (fk_problem(f, 0, "meta chunk at block %llu is not on the "
			       "chunk list", (unsigned long long)b)) {
			rc = chunk_link(f, last, b);
			if (!rc)
				rc = chunk_link(f, b, 0);
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
			if (fk_problem(f, 1, "meta chunk list: %s block %llu "
				       "after chunk %llu", out ?
				       "points outside the data area, to" :
				       "loops back to",
				       (unsigned long long)blk,
				       (unsigned long long)prev))
				fk_result(f, chunk_link(f, prev, 0), "the list "
					  "ends at chunk %llu",
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
	if (!rc && S_ISDIR(in.mode)) {
		if (dir_check(&op, &in, f->sb.hash_seed, fk_ref_cb, &rc_, NULL,
			      0) && !rc_.rc)
			rc_.rc = fk_dir_refs_broken(f, ino, &in);
		rc = rc_.rc;
	} else if (!rc && S_ISREG(in.mode) &&
		   !(in.flags & CSVFS_IFL_INLINE)) {
		if (ext_load(&op, ino, &in, &m) == 0) {
			for (i = 0; i < m.n && !rc; i++)
				if (fk_ext_ok(f, &m.e[i], 1))
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

/* ---- comparing ownership with the maps (passes 2 and 5) ------------------ */

int fk_cmp_run(const void *x, const void *y)
{
	const struct frun *a = x, *b = y;

	if (a->pblk != b->pblk)
		return a->pblk < b->pblk ? -1 : 1;
	if (a->owner != b->owner)
		return a->owner < b->owner ? -1 : 1;
	return a->lblk < b->lblk ? -1 : a->lblk > b->lblk;
}

int fk_cmp_ref(const void *x, const void *y)
{
	const struct fref *a = x, *b = y;

	if (a->mblk != b->mblk)
		return a->mblk < b->mblk ? -1 : 1;
	return a->owner < b->owner ? -1 : a->owner > b->owner;
}

/* The owner of large block b (runs sorted). */
static uint64_t owner_of(const struct fsck *f, uint64_t b, int *found)
{
	size_t lo = 0, hi = f->nrun, i;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->run[mid].pblk <= b)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i-- > 0 && lo - i <= 64;)
		if (b < f->run[i].pblk + f->run[i].len) {
			*found = 1;
			return f->run[i].owner;
		}
	*found = 0;
	return 0;
}

static uint64_t ref_owner(const struct fsck *f, uint64_t mblk)
{
	size_t lo = 0, hi = f->nref;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->ref[mid].mblk < mblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nref ? f->ref[lo].owner : 0;
}

enum { D_OWNED_FREE = 1, D_LEAKED, D_PAST_END, D_CHUNK };

struct bdiff {
	uint64_t start, len, owner;
	int kind;
};

struct bdiffv {
	struct bdiff *d;
	size_t n, cap;
};

static int bdiff_add(struct bdiffv *v, int kind, uint64_t b, uint64_t owner)
{
	struct bdiff *l = v->n ? &v->d[v->n - 1] : NULL, *nd;

	if (l && l->kind == kind && l->start + l->len == b &&
	    l->owner == owner) {
		l->len++;
		return 0;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		nd = realloc(v->d, v->cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		v->d = nd;
	}
	v->d[v->n++] = (struct bdiff){ b, 1, owner, kind };
	return 0;
}

/* Reports and fixes one run of bitmap bits that differ. */
static void block_diff(struct fsck *f, const struct bdiff *d, int stray)
{
	char rs[80], on[40];
	int rc;

	fk_range_str(d->start, d->len, rs, sizeof(rs));
	switch (d->kind) {
	case D_PAST_END:
		if (fk_problem(f, 1, "bitmap: blocks %s past the end of the "
			       "volume marked free", rs))
			fk_result(f, bm_bits(f, d->start, d->len, 1), NULL);
		break;
	case D_OWNED_FREE:
		if (fk_problem(f, 1, "block %s in use by %s but marked free",
			       rs,
			       fk_owner_name(d->owner, on, sizeof(on))))
			fk_result(f, bm_bits(f, d->start, d->len, 1),
				  "marked in use");
		break;
	case D_CHUNK:
		if (fk_problem(f, 0, "block %s holds a meta chunk that is not "
			       "on the chunk list", rs))
			fk_result(f, -CSVFS_ECORRUPT, "kept for manual "
				  "recovery");
		break;
	default:
		if (!fk_problem(f, 1, "leaked block %s: marked in use, owned by "
				"nothing", rs))
			break;
		/* Files in a meta chunk that fell off the list may own it. */
		if (stray) {
			fk_result(f, -CSVFS_ECORRUPT, "kept: meta chunks are "
				  "missing and their files may own it");
			break;
		}
		rc = dev_zero(f->d, d->start * f->bsize, d->len * f->bsize);
		if (!rc)
			rc = dev_flush(f->d);
		if (!rc)
			rc = bm_bits(f, d->start, d->len, 0);
		fk_result(f, rc, rc ? NULL : "zeroed and freed");
	}
}

static void set_bits(uint8_t *map, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i < to && i % 8; i++)
		bit_put(map, i, 1);
	if (to - i >= 8) {
		memset(map + i / 8, 0xff, (to - i) / 8);
		i += (to - i) / 8 * 8;
	}
	for (; i < to; i++)
		bit_put(map, i, 1);
}

/* The bits the bitmap block at base should hold (runs sorted). */
static void expected_bits(struct fsck *f, uint64_t base, uint64_t *r0,
			  uint8_t *exp)
{
	uint64_t end = base + CSVFS_BITMAP_BITS, r;

	memset(exp, 0, CSVFS_BITMAP_BYTES);
	/* every run before *r0 ends before this bitmap block */
	while (*r0 < f->nrun && f->run[*r0].pblk + f->run[*r0].len <= base)
		(*r0)++;
	for (r = *r0; r < f->nrun && f->run[r].pblk < end; r++) {
		uint64_t s = f->run[r].pblk, e = s + f->run[r].len;

		if (e > base)
			set_bits(exp, (s > base ? s : base) - base,
				 (e < end ? e : end) - base);
	}
	if (f->sb.total_blocks < end)
		set_bits(exp, f->sb.total_blocks > base ?
			 f->sb.total_blocks - base : 0, CSVFS_BITMAP_BITS);
}

/*
 * Compares the allocation bitmap with the runs (sorted here): bits of
 * owned blocks that are clear are reported and set; with leaks, set bits
 * of blocks nothing owns are reported, zeroed and cleared, unless one of
 * them still holds a meta chunk header (then none is freed).
 */
int fk_compare_blocks(struct fsck *f, int leaks)
{
	uint8_t raw[CSVFS_MBLK_SIZE], exp[CSVFS_BITMAP_BYTES];
	struct bdiffv v = { NULL, 0, 0 }, w = { NULL, 0, 0 };
	uint64_t i, r0 = 0;
	int rc = 0, found, stray = 0;
	struct jop op;

	if (f->nrun)
		qsort(f->run, f->nrun, sizeof(*f->run), fk_cmp_run);
	for (i = 0; i < f->sb.bitmap_len && !rc; i++) {
		uint64_t base = i * CSVFS_BITMAP_BITS, k;

		fk_progress(f, "checking the bitmap", i, f->sb.bitmap_len);
		jop_begin(f->j, &op);
		rc = fk_read(f, &op, f->sb.bitmap_mblk + i, CSVFS_MAGIC_BITMAP,
			     raw);
		jop_end(&op, 0);
		if (rc && rc != -CSVFS_EBADCRC) {
			rc = 0;
			continue;	/* reported in pass 1 */
		}
		rc = 0;
		expected_bits(f, base, &r0, exp);
		for (k = 0; k < CSVFS_BITMAP_BITS && !rc; k++) {
			uint64_t b = base + k;
			int want = bit(exp, k), have, kind;

			if (k % 8 == 0 && exp[k / 8] ==
			    raw[CSVFS_MHDR_SIZE + k / 8]) {
				k += 7;
				continue;
			}
			have = bit(raw + CSVFS_MHDR_SIZE, k);
			if (want == have || (!want && !leaks))
				continue;
			kind = !want ? D_LEAKED : b >= f->sb.total_blocks ?
			       D_PAST_END : D_OWNED_FREE;
			rc = bdiff_add(&v, kind, b, kind == D_OWNED_FREE ?
				       owner_of(f, b, &found) : 0);
		}
	}
	fk_progress(f, "", 1, 1);
	/* Leaked blocks that still start with a chunk header stand apart. */
	for (i = 0; i < v.n && !rc; i++) {
		uint64_t b;

		for (b = v.d[i].start; !rc && b < v.d[i].start + v.d[i].len;
		     b++) {
			int chunk = v.d[i].kind == D_LEAKED &&
				    holds_chunk(f, b);

			stray |= chunk;
			rc = bdiff_add(&w, chunk ? D_CHUNK : v.d[i].kind, b,
				       v.d[i].owner);
		}
	}
	for (i = 0; i < w.n && !rc; i++)
		block_diff(f, &w.d[i], stray);
	free(v.d);
	free(w.d);
	if (rc)
		f->opfail = 1;
	return rc;
}

static const char *mblk_kind(struct fsck *f, uint64_t m)
{
	uint8_t raw[CSVFS_MBLK_SIZE];

	if (fk_pread(f, raw, m))
		return "unreadable";
	switch (od_get32(raw)) {
	case CSVFS_MAGIC_INODE:
		return od_get32(raw + 0x40) ? "inode" : "freed inode";
	case CSVFS_MAGIC_EXTENT: return "extent block";
	case CSVFS_MAGIC_DINDEX: return "directory index";
	case CSVFS_MAGIC_DBUCKET: return "directory bucket";
	case 0: return "empty";
	}
	return "unrecognized contents";
}

/*
 * Reports and fixes a run of chunk map bits: set 1 = in use but marked
 * free, 0 = leaked, 2 = replaced by a repair of ours (freed, not an error).
 */
static void chunk_diff(struct fsck *f, int set, uint64_t m, uint64_t n)
{
	char rs[80];
	struct jop op;
	int rc;

	if (set == 2) {
		if (!f->rw)
			return;
		jop_begin(f->j, &op);
		rc = fk_chunk_bits(f, &op, m, n, 0);
		jop_end(&op, rc);
		fk_maybe_commit(f);
		return;
	}
	if (set ? !fk_problem(f, 1, "metadata block %s (%s of inode %llu) in "
			      "use but marked free",
			      fk_range_str(m, n, rs, sizeof(rs)),
			      m % f->mpb ? mblk_kind(f, m) : "chunk header",
			      (unsigned long long)ref_owner(f, m)) :
		  !fk_problem(f, 1, "leaked metadata block %s (%s): marked in "
			      "use, referenced by nothing",
			      fk_range_str(m, n, rs, sizeof(rs)),
			      mblk_kind(f, m)))
		return;
	jop_begin(f->j, &op);
	rc = fk_chunk_bits(f, &op, m, n, set);
	jop_end(&op, rc);
	fk_maybe_commit(f);
	fk_result(f, rc, set ? "marked in use" : "freed");
}

/* Clears the map bits past the chunk's own blocks. */
static int chunk_tail_clear(struct fsck *f, struct jop *op, uint64_t base)
{
	struct csvfs_chunk ch;
	struct mbuf *mb;
	uint64_t i;
	int rc;

	rc = jop_read(op, base, CSVFS_MAGIC_CHUNK, &mb);
	if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	od_chunk_decode(mb->data, &ch);
	for (i = f->mpb; i < CSVFS_CHUNK_MAX_MBLKS; i++)
		bit_put(ch.used, i, 0);
	od_chunk_encode(&ch, mb->data);
	return 0;
}

/* The chunk maps against the references (sorted here); see compare_blocks. */
int fk_compare_chunks(struct fsck *f, int leaks)
{
	struct csvfs_chunk ch;
	uint8_t raw[CSVFS_MBLK_SIZE], exp[CSVFS_CHUNK_MAX_MBLKS / 8];
	size_t c, r;
	struct jop op;
	int rc;

	if (f->nref)
		qsort(f->ref, f->nref, sizeof(*f->ref), fk_cmp_ref);
	for (c = 0; c < f->nchunk && !f->opfail; c++) {
		uint64_t base = f->chunk[c] * f->mpb, i, ds = 0, dn = 0;
		int dk = -1;

		jop_begin(f->j, &op);
		rc = fk_read(f, &op, base, CSVFS_MAGIC_CHUNK, raw);
		jop_end(&op, 0);
		if (rc && rc != -CSVFS_EBADCRC)
			continue;
		od_chunk_decode(raw, &ch);
		memset(exp, 0, sizeof(exp));
		bit_put(exp, 0, 1);
		r = 0;
		{
			size_t lo = 0, hi = f->nref;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (f->ref[mid].mblk < base)
					lo = mid + 1;
				else
					hi = mid;
			}
			r = lo;
		}
		for (; r < f->nref && f->ref[r].mblk < base + f->mpb; r++)
			bit_put(exp, f->ref[r].mblk - base, 1);
		for (i = 0; i <= f->mpb; i++) {
			int want = i < f->mpb ? bit(exp, i) : 0;
			int have = i < f->mpb ? bit(ch.used, i) : 0, kind;

			kind = want == have || (!want && !leaks) ? -1 : want;
			if (kind == 0 && fk_released(f, base + i))
				kind = 2;
			if (kind == dk && kind >= 0) {
				dn++;
				continue;
			}
			if (dk >= 0)
				chunk_diff(f, dk, base + ds, dn);
			dk = kind;
			ds = i;
			dn = 1;
		}
		if (!leaks || popcount(ch.used, CSVFS_CHUNK_MAX_MBLKS) ==
		    popcount(ch.used, f->mpb) ||
		    !fk_problem(f, 1, "meta chunk at block %llu: map bits set "
				"past its %llu metadata blocks",
				(unsigned long long)f->chunk[c],
				(unsigned long long)f->mpb))
			continue;
		jop_begin(f->j, &op);
		rc = chunk_tail_clear(f, &op, base);
		jop_end(&op, rc);
		fk_result(f, rc, NULL);
	}
	return 0;
}

/* ---- pass 5: the maps ---------------------------------------------------- */

int fk_pass5(struct fsck *f)
{
	size_t i;
	uint64_t used = 0, end = 0;

	fk_pass(f, "Pass 5: checking the allocation bitmap and chunk maps");
	if (f->changed && fk_recollect(f))
		return -ENOMEM;
	fk_compare_blocks(f, 1);
	fk_compare_chunks(f, 1);
	for (i = 0; i < f->nref; i++) {
		uint64_t m = f->ref[i].mblk;

		if ((i && m == f->ref[i - 1].mblk) ||
		    (fk_chunk_of(f, m) >= 0 && m % f->mpb))
			continue;
		if (fk_problem(f, 0, "metadata block %llu (inode %llu) lies "
			       "outside every meta chunk",
			       (unsigned long long)m,
			       (unsigned long long)f->ref[i].owner))
			fk_result(f, -CSVFS_ECORRUPT, "no safe repair");
	}
	for (i = 0; i < f->nrun; i++) {
		uint64_t s = f->run[i].pblk, e = s + f->run[i].len;

		if (s < end)
			s = end;
		if (s < f->sb.data_start)
			s = f->sb.data_start;
		if (e > s)
			used += e - s;
		if (e > end)
			end = e;
	}
	f->r->blocks_used = used;
	fk_resync(f);
	return fk_commit(f);
}

/*
 * dir: directories as extendible hash tables.
 *
 * Structure. A name hashes (dir_hash, keyed by the volume's seed) to 62
 * bits. The directory inode's body holds the table's global depth d and
 * the mblks of its index blocks; the table has 2^d slots, slot s living in
 * index block s / CSVFS_DINDEX_SLOTS. A name belongs to slot hash >> (62-d),
 * the slot names its bucket. A bucket of local depth l holds every name
 * whose top l hash bits are its own, so 2^(d-l) consecutive, aligned slots
 * point to it. Inside a bucket the entries are packed in hash order.
 *
 * Why this shape:
 *   - a lookup costs the inode (already decoded by the caller), one index
 *     block and one bucket, at any directory size: no tree to descend and
 *     no linear scan of blocks;
 *   - a full bucket splits in two by its next hash bit and only that
 *     bucket's entries move; the table doubles (every slot i becomes 2i and
 *     2i+1, buckets untouched) only when the bucket already spans a single
 *     slot. Growth is a handful of blocks per operation, except doubling,
 *     which rewrites the index blocks: at most 262 (the largest table),
 *     well inside one journaled operation (JOP_MAX_BLOCKS);
 *   - walking the slots in order and each bucket in order visits the names
 *     in increasing hash order, so a readdir cookie is simply "next hash"
 *     (hash + 1): it stays valid across inserts, removals, splits and
 *     merges, which move names between blocks but never change their hash.
 *     Cookies 0..2 are left to ".", ".." (dir_hash never returns them).
 *
 * Limits. The table is a power of two that must fit CSVFS_DIR_MAX_INDEX
 * index blocks, so the global depth stops at DIR_MAX_DEPTH (17: 131072
 * slots in 262 index blocks). A bucket that overflows while all its names
 * share their top DIR_MAX_DEPTH hash bits cannot be split: -ENOSPC, found
 * before anything changes. Two names with the same 62-bit hash share a
 * cookie; a readdir that stops between them skips the second (about one
 * chance in 2^62 per pair).
 *
 * Every block goes through the caller's operation: jop_read checks magic
 * and checksum, jop_write declares a change before the decoded struct is
 * encoded back, new blocks come from alloc_mblk + jop_new. Index blocks and
 * buckets are decoded into their structs; the packed entries inside a
 * bucket's entries[] are read and written with od_get / od_put.
 *
 * Removal keeps the entry order and folds an emptied bucket into its buddy
 * when both have the same local depth; the table itself never shrinks.
 * dir_add refuses "." and ".." and inode 0 (-EINVAL). Functions without a
 * directory inode number argument take it from dir->hdr.mblk (dir_check).
 * A failed dir_add / dir_remove may leave blocks changed: the caller ends
 * the operation with the error (jop_end undoes them) and resyncs the
 * allocator; dir_add puts the body of *dir back as it found it. Errors
 * found before any change: -EINVAL, -ENAMETOOLONG, -EEXIST, -ENOENT and
 * dir_add's -ENOSPC for an unsplittable bucket.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/dir.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define HASH_BITS	62
#define DIR_MAX_DEPTH	17
#define IX_SLOTS	CSVFS_DINDEX_SLOTS

_Static_assert((1ull << DIR_MAX_DEPTH) <=
	       (unsigned long long)CSVFS_DIR_MAX_INDEX * IX_SLOTS,
	       "largest table fits the inode body");
_Static_assert((1ull << (DIR_MAX_DEPTH + 1)) >
	       (unsigned long long)CSVFS_DIR_MAX_INDEX * IX_SLOTS,
	       "DIR_MAX_DEPTH is the largest that fits");

/* Body: le32 depth, le32 nindex, nindex x le64 index mblks. */
#define BODY_DEPTH	0
#define BODY_NINDEX	4
#define BODY_INDEX	8

/* Entry: {le64 hash, le64 ino, le16 rec_len, u8 name_len, u8 type, name}. */
#define DE_HASH		0
#define DE_INO		8
#define DE_RECLEN	16
#define DE_NAMELEN	18
#define DE_TYPE		19
#define DE_NAME		CSVFS_DIRENT_HDR

struct dtab {
	uint32_t depth, nindex;
};

struct dent {
	uint64_t hash, ino;
	unsigned rec_len, name_len;
	uint8_t type;
	const uint8_t *name;
};

/* One decoded index block, kept across slot reads; changes batched. */
struct ixc {
	struct jop *op;
	const struct csvfs_inode *dir;
	struct dtab t;
	int64_t k;			/* decoded block, -1 for none */
	int dirty;			/* ix changed, not yet encoded */
	struct mbuf *mb;
	struct csvfs_dindex ix;
};

/* A name's place: its table, slot, decoded bucket and position there. */
struct loc {
	struct dtab t;
	uint64_t h, slot, bmblk;
	struct mbuf *bmb;
	struct csvfs_dbucket b;
	long found;			/* offset of the name, -1 if absent */
	unsigned ins;			/* offset of the first larger hash */
	unsigned prefix;		/* hash bits shared by all and name */
	struct ixc c;
};

static unsigned rec_len_of(size_t name_len)
{
	return (unsigned)((CSVFS_DIRENT_HDR + name_len + 7) & ~(size_t)7);
}

static uint64_t nslots_of(uint32_t depth)
{
	return 1ull << depth;
}

static uint32_t nindex_of(uint32_t depth)
{
	return (uint32_t)((nslots_of(depth) + IX_SLOTS - 1) / IX_SLOTS);
}

static uint32_t ix_nslots(uint32_t depth, uint32_t k)
{
	uint64_t left = nslots_of(depth) - (uint64_t)k * IX_SLOTS;

	return left < IX_SLOTS ? (uint32_t)left : IX_SLOTS;
}

static uint64_t slot_of(uint64_t hash, uint32_t depth)
{
	return depth ? hash >> (HASH_BITS - depth) : 0;
}

static int is_dot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

static int name_check(const char *name, size_t len)
{
	if (len > CSVFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

uint64_t dir_hash(uint64_t seed, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;	/* FNV-1a 64 */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	/* murmur3 fmix64: FNV alone mixes the top bits (the table index)
	 * poorly for short names. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h >>= 64 - HASH_BITS;
	return h < DIR_COOKIE_FIRST ? DIR_COOKIE_FIRST : h;
}

/* ---- inode body and index blocks ----------------------------------------- */

static int tab_get(const struct csvfs_inode *dir, struct dtab *t)
{
	t->depth = od_get32(dir->body + BODY_DEPTH);
	t->nindex = od_get32(dir->body + BODY_NINDEX);
	if (t->depth > DIR_MAX_DEPTH || t->nindex != nindex_of(t->depth))
		return -CSVFS_ECORRUPT;
	return 0;
}

static void tab_set(struct csvfs_inode *dir, const struct dtab *t)
{
	od_put32(dir->body + BODY_DEPTH, t->depth);
	od_put32(dir->body + BODY_NINDEX, t->nindex);
}

static uint64_t tab_index(const struct csvfs_inode *dir, uint32_t k)
{
	return od_get64(dir->body + BODY_INDEX + 8 * (size_t)k);
}

static void tab_set_index(struct csvfs_inode *dir, uint32_t k, uint64_t m)
{
	od_put64(dir->body + BODY_INDEX + 8 * (size_t)k, m);
}

static void ixc_init(struct ixc *c, struct jop *op,
		     const struct csvfs_inode *dir, const struct dtab *t)
{
	c->op = op;
	c->dir = dir;
	c->t = *t;
	c->k = -1;
	c->dirty = 0;
	c->mb = NULL;
}

static void ixc_flush(struct ixc *c)
{
	if (c->dirty)
		od_dindex_encode(&c->ix, c->mb->data);
	c->dirty = 0;
}

static int ixc_load(struct ixc *c, uint32_t k)
{
	int rc;

	if (c->k == (int64_t)k)
		return 0;
	ixc_flush(c);
	c->k = -1;
	if (k >= c->t.nindex)
		return -CSVFS_ECORRUPT;
	rc = jop_read(c->op, tab_index(c->dir, k), CSVFS_MAGIC_DINDEX, &c->mb);
	if (rc)
		return rc;
	od_dindex_decode(c->mb->data, &c->ix);
	if (c->ix.first_slot != k * IX_SLOTS ||
	    c->ix.nslots != ix_nslots(c->t.depth, k))
		return -CSVFS_ECORRUPT;
	c->k = k;
	return 0;
}

static int ixc_get(struct ixc *c, uint64_t s, uint64_t *mblk)
{
	int rc = ixc_load(c, (uint32_t)(s / IX_SLOTS));

	if (!rc)
		*mblk = c->ix.slots[s % IX_SLOTS];
	return rc;
}

/* Points slots [first, first + n) at mblk; ixc_flush when done. */
static int ixc_set(struct ixc *c, uint64_t first, uint64_t n, uint64_t mblk)
{
	uint64_t s;
	int rc;

	for (s = first; s < first + n; s++) {
		rc = ixc_load(c, (uint32_t)(s / IX_SLOTS));
		if (!rc && !c->dirty)
			rc = jop_write(c->op, c->mb);
		if (rc)
			return rc;
		c->dirty = 1;
		c->ix.slots[s % IX_SLOTS] = mblk;
	}
	return 0;
}

/*
 * Doubles the table: slot i becomes slots 2i and 2i+1. Index blocks are
 * rewritten in place, new ones appended to the body.
 */
static int table_double(struct jop *op, struct alloc *a, uint64_t dir_ino,
			struct csvfs_inode *dir, struct ixc *c)
{
	struct dtab nt = { c->t.depth + 1, nindex_of(c->t.depth + 1) };
	uint64_t old = nslots_of(c->t.depth), i, m, *slots;
	struct csvfs_dindex ix;
	struct mbuf *mb;
	uint32_t k;
	int rc = 0;

	if (c->t.depth >= DIR_MAX_DEPTH)	/* only a corrupt bucket asks */
		return -CSVFS_ECORRUPT;
	slots = malloc(2 * old * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < old && !rc; i++)
		rc = ixc_get(c, i, &slots[i]);
	for (i = old; !rc && i-- > 0;)
		slots[2 * i] = slots[2 * i + 1] = slots[i];
	for (k = 0; k < nt.nindex && !rc; k++) {
		if (k < c->t.nindex) {
			m = tab_index(dir, k);
			rc = jop_read(op, m, CSVFS_MAGIC_DINDEX, &mb);
			if (!rc)
				rc = jop_write(op, mb);
			if (!rc)
				od_dindex_decode(mb->data, &ix);
		} else {
			rc = alloc_mblk(a, op, &m);
			if (!rc)
				rc = jop_new(op, m, &mb);
			if (!rc)
				od_hdr_init(&ix.hdr, CSVFS_MAGIC_DINDEX, m,
					    jrnl_uuid(op->j));
		}
		if (rc)
			break;
		ix.ino = dir_ino;
		ix.first_slot = k * IX_SLOTS;
		ix.nslots = ix_nslots(nt.depth, k);
		memset(ix.slots, 0, sizeof(ix.slots));
		memcpy(ix.slots, slots + (size_t)k * IX_SLOTS,
		       ix.nslots * sizeof(*slots));
		od_dindex_encode(&ix, mb->data);
		tab_set_index(dir, k, m);
	}
	if (!rc)
		tab_set(dir, &nt);
	free(slots);
	return rc;
}

/* ---- buckets ------------------------------------------------------------- */

/* Parses the entry at off, bounds-checked against the bucket's used. */
static int ent_at(const struct csvfs_dbucket *b, unsigned off, struct dent *e)
{
	const uint8_t *p = b->entries + off;

	if (off + CSVFS_DIRENT_HDR > b->used)
		return -CSVFS_ECORRUPT;
	e->hash = od_get64(p + DE_HASH);
	e->ino = od_get64(p + DE_INO);
	e->rec_len = od_get16(p + DE_RECLEN);
	e->name_len = p[DE_NAMELEN];
	e->type = p[DE_TYPE];
	e->name = p + DE_NAME;
	if (e->rec_len != rec_len_of(e->name_len) ||
	    off + e->rec_len > b->used)
		return -CSVFS_ECORRUPT;
	return 0;
}

static int bucket_read(struct jop *op, uint64_t m, const struct dtab *t,
		       struct mbuf **mb, struct csvfs_dbucket *b)
{
	int rc = jop_read(op, m, CSVFS_MAGIC_DBUCKET, mb);

	if (rc)
		return rc;
	od_dbucket_decode((*mb)->data, b);
	if (b->local_depth > t->depth || b->used > CSVFS_DBUCKET_SPACE)
		return -CSVFS_ECORRUPT;
	return 0;
}

/*
 * Reads the bucket name belongs to (inode body, one index block, one
 * bucket) and finds name's place in it. L->prefix gets the hash bits name
 * shares with every entry there: a split can only separate them beyond it.
 */
static int find(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
		const char *name, size_t len, struct loc *L)
{
	unsigned off = 0;
	uint64_t x = 0;
	struct dent e;
	int rc;

	rc = name_check(name, len);
	if (!rc)
		rc = tab_get(dir, &L->t);
	if (rc)
		return rc;
	L->h = dir_hash(seed, name, len);
	L->slot = slot_of(L->h, L->t.depth);
	L->found = -1;
	L->ins = 0;
	ixc_init(&L->c, op, dir, &L->t);
	rc = ixc_get(&L->c, L->slot, &L->bmblk);
	if (!rc)
		rc = bucket_read(op, L->bmblk, &L->t, &L->bmb, &L->b);
	for (; !rc && off < L->b.used; off += e.rec_len) {
		rc = ent_at(&L->b, off, &e);
		if (rc)
			break;
		if (e.hash <= L->h)
			L->ins = off + e.rec_len;
		if (e.hash == L->h && e.name_len == len &&
		    !memcmp(e.name, name, len))
			L->found = off;
		x |= e.hash ^ L->h;
	}
	L->prefix = x ? (unsigned)__builtin_clzll(x) - (64 - HASH_BITS)
		      : HASH_BITS;
	return rc;
}

/*
 * Splits the bucket at L (local depth l < global depth) by hash bit l:
 * entries with the bit set, a tail of the hash order, move to a new
 * bucket, which takes the upper half of the slots.
 */
static int bucket_split(struct jop *op, struct alloc *a, uint64_t dir_ino,
			struct loc *L)
{
	uint32_t l = L->b.local_depth;
	uint64_t span = nslots_of(L->t.depth - l);
	uint64_t s0 = L->slot & ~(span - 1), nm;
	unsigned off, n0 = 0;
	struct csvfs_dbucket nb;
	struct mbuf *nmb;
	struct dent e;
	int rc = 0;

	for (off = 0; off < L->b.used; off += e.rec_len, n0++) {
		rc = ent_at(&L->b, off, &e);
		if (rc)
			return rc;
		if ((e.hash >> (HASH_BITS - 1 - l)) & 1)
			break;
	}
	rc = alloc_mblk(a, op, &nm);
	if (!rc)
		rc = jop_new(op, nm, &nmb);
	if (!rc)
		rc = jop_write(op, L->bmb);
	if (rc)
		return rc;
	memset(&nb, 0, sizeof(nb));
	od_hdr_init(&nb.hdr, CSVFS_MAGIC_DBUCKET, nm, jrnl_uuid(op->j));
	nb.ino = dir_ino;
	nb.local_depth = l + 1;
	nb.nentries = (uint16_t)(L->b.nentries - n0);
	nb.used = (uint16_t)(L->b.used - off);
	memcpy(nb.entries, L->b.entries + off, L->b.used - off);
	memset(L->b.entries + off, 0, L->b.used - off);
	L->b.local_depth = l + 1;
	L->b.nentries = (uint16_t)n0;
	L->b.used = (uint16_t)off;
	od_dbucket_encode(&nb, nmb->data);
	od_dbucket_encode(&L->b, L->bmb->data);
	rc = ixc_set(&L->c, s0 + span / 2, span / 2, nm);
	ixc_flush(&L->c);
	return rc;
}

/*
 * While the bucket at L is empty, folds it into its buddy (the other half
 * of the slots of local depth l - 1) if the buddy has the same local depth.
 */
static int bucket_merge(struct jop *op, struct alloc *a, struct loc *L)
{
	struct csvfs_dbucket ub;
	int rc = 0;

	while (!rc && L->b.nentries == 0 && L->b.local_depth > 0) {
		uint32_t l = L->b.local_depth;
		uint64_t span = nslots_of(L->t.depth - l);
		uint64_t s0 = L->slot & ~(span - 1), um;
		struct mbuf *umb;

		rc = ixc_get(&L->c, s0 ^ span, &um);
		if (!rc && um == L->bmblk)
			rc = -CSVFS_ECORRUPT;
		if (!rc)
			rc = bucket_read(op, um, &L->t, &umb, &ub);
		if (rc || ub.local_depth != l)
			break;
		rc = ixc_set(&L->c, s0, span, um);
		if (!rc)
			rc = jop_write(op, umb);
		if (!rc)
			rc = alloc_free_mblk(a, op, L->bmblk);
		if (rc)
			break;
		ub.local_depth = l - 1;
		od_dbucket_encode(&ub, umb->data);
		L->bmblk = um;
		L->bmb = umb;
		L->b = ub;
	}
	ixc_flush(&L->c);
	return rc;
}

/* ---- operations ---------------------------------------------------------- */

int dir_create(struct jop *op, struct alloc *a, uint64_t ino,
	       struct csvfs_inode *dir)
{
	struct dtab t = { 0, 1 };
	struct csvfs_dindex ix;
	struct csvfs_dbucket b;
	struct mbuf *imb, *bmb;
	uint64_t im, bm;
	int rc;

	rc = alloc_mblk(a, op, &im);
	if (!rc)
		rc = alloc_mblk(a, op, &bm);
	if (!rc)
		rc = jop_new(op, im, &imb);
	if (!rc)
		rc = jop_new(op, bm, &bmb);
	if (rc)
		return rc;
	memset(&ix, 0, sizeof(ix));
	od_hdr_init(&ix.hdr, CSVFS_MAGIC_DINDEX, im, jrnl_uuid(op->j));
	ix.ino = ino;
	ix.nslots = 1;
	ix.slots[0] = bm;
	od_dindex_encode(&ix, imb->data);
	memset(&b, 0, sizeof(b));
	od_hdr_init(&b.hdr, CSVFS_MAGIC_DBUCKET, bm, jrnl_uuid(op->j));
	b.ino = ino;
	od_dbucket_encode(&b, bmb->data);
	memset(dir->body, 0, sizeof(dir->body));
	tab_set(dir, &t);
	tab_set_index(dir, 0, im);
	return 0;
}

int dir_lookup(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
	       const char *name, size_t len, uint64_t *ino, uint8_t *type)
{
	struct dent e;
	struct loc L;
	int rc;

	rc = find(op, dir, seed, name, len, &L);
	if (!rc && L.found < 0)
		rc = -ENOENT;
	if (!rc)
		rc = ent_at(&L.b, (unsigned)L.found, &e);
	if (rc)
		return rc;
	if (ino)
		*ino = e.ino;
	if (type)
		*type = e.type;
	return 0;
}

int dir_add(struct jop *op, struct alloc *a, uint64_t dir_ino,
	    struct csvfs_inode *dir, uint64_t seed, const char *name,
	    size_t len, uint64_t ino, uint8_t type)
{
	unsigned rl = rec_len_of(len);
	struct dtab t0;
	struct loc L;
	int rc, grew = 0;
	uint32_t k;
	uint8_t *p;

	if (len <= CSVFS_NAME_MAX && (is_dot(name, len) || ino == 0))
		return -EINVAL;
	rc = tab_get(dir, &t0);
	if (rc)
		return rc;
	/* Each round splits a bucket or doubles the table; the prefix check
	 * bounds the rounds and fails before anything changed. */
	while (!rc) {
		rc = find(op, dir, seed, name, len, &L);
		if (!rc && L.found >= 0)
			rc = -EEXIST;
		if (rc || L.b.used + rl <= CSVFS_DBUCKET_SPACE)
			break;
		if (L.prefix >= DIR_MAX_DEPTH) {
			rc = -ENOSPC;
			break;
		}
		if (L.b.local_depth < L.t.depth) {
			rc = bucket_split(op, a, dir_ino, &L);
		} else {
			grew = 1;
			rc = table_double(op, a, dir_ino, dir, &L.c);
		}
	}
	if (!rc)
		rc = jop_write(op, L.bmb);
	if (rc && grew) {
		/* Doubling only appends index blocks past t0's. */
		for (k = t0.nindex; k < nindex_of(DIR_MAX_DEPTH); k++)
			tab_set_index(dir, k, 0);
		tab_set(dir, &t0);
	}
	if (rc)
		return rc;
	memmove(L.b.entries + L.ins + rl, L.b.entries + L.ins,
		L.b.used - L.ins);
	p = L.b.entries + L.ins;
	memset(p, 0, rl);
	od_put64(p + DE_HASH, L.h);
	od_put64(p + DE_INO, ino);
	od_put16(p + DE_RECLEN, (uint16_t)rl);
	p[DE_NAMELEN] = (uint8_t)len;
	p[DE_TYPE] = type;
	memcpy(p + DE_NAME, name, len);
	L.b.nentries++;
	L.b.used = (uint16_t)(L.b.used + rl);
	od_dbucket_encode(&L.b, L.bmb->data);
	dir->size += rl;
	return 0;
}

int dir_remove(struct jop *op, struct alloc *a, struct csvfs_inode *dir,
	       uint64_t seed, const char *name, size_t len, uint64_t *ino)
{
	struct dent e;
	struct loc L;
	unsigned off;
	int rc;

	rc = find(op, dir, seed, name, len, &L);
	if (!rc && L.found < 0)
		rc = -ENOENT;
	off = (unsigned)L.found;
	if (!rc)
		rc = ent_at(&L.b, off, &e);
	if (!rc)
		rc = jop_write(op, L.bmb);
	if (rc)
		return rc;
	if (ino)
		*ino = e.ino;
	memmove(L.b.entries + off, L.b.entries + off + e.rec_len,
		L.b.used - off - e.rec_len);
	L.b.used = (uint16_t)(L.b.used - e.rec_len);
	memset(L.b.entries + L.b.used, 0, e.rec_len);
	L.b.nentries--;
	od_dbucket_encode(&L.b, L.bmb->data);
	/* Directories made before sizes were kept start at 0. */
	dir->size = dir->size > e.rec_len ? dir->size - e.rec_len : 0;
	return bucket_merge(op, a, &L);
}

int dir_replace(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
		const char *name, size_t len, uint64_t ino, uint8_t type)
{
	struct loc L;
	uint8_t *p;
	int rc;

	rc = find(op, dir, seed, name, len, &L);
	if (!rc && L.found < 0)
		rc = -ENOENT;
	if (!rc && ino == 0)
		rc = -EINVAL;
	if (!rc)
		rc = jop_write(op, L.bmb);
	if (rc)
		return rc;
	p = L.b.entries + L.found;
	od_put64(p + DE_INO, ino);
	p[DE_TYPE] = type;
	od_dbucket_encode(&L.b, L.bmb->data);
	return 0;
}

/* ---- walking ------------------------------------------------------------- */

/* Called once per distinct bucket, in slot order; non-zero stops. */
typedef int (*bucket_fn)(void *ctx, struct jop *op, uint64_t mblk,
			 const struct csvfs_dbucket *b);

/*
 * Visits the buckets from the one holding slot first to the end. A bucket
 * of local depth l covers 2^(depth-l) aligned slots: the walk jumps past
 * them, so each is seen once. fn must not change the directory.
 */
static int walk_buckets(struct jop *op, const struct csvfs_inode *dir,
			uint64_t first, bucket_fn fn, void *ctx)
{
	struct csvfs_dbucket b;
	struct mbuf *mb;
	struct dtab t;
	struct ixc c;
	uint64_t s, m;
	int rc;

	rc = tab_get(dir, &t);
	ixc_init(&c, op, dir, &t);
	for (s = first; !rc && s < nslots_of(t.depth);) {
		rc = ixc_get(&c, s, &m);
		if (!rc)
			rc = bucket_read(op, m, &t, &mb, &b);
		if (rc)
			break;
		s = (s | (nslots_of(t.depth - b.local_depth) - 1)) + 1;
		rc = fn(ctx, op, m, &b);
	}
	return rc;
}

struct iter_ctx {
	uint64_t cookie;
	dir_iter_fn cb;
	void *ctx;
};

static int iter_bucket(void *ctx, struct jop *op, uint64_t mblk,
		       const struct csvfs_dbucket *b)
{
	struct iter_ctx *ic = ctx;
	char name[CSVFS_NAME_MAX + 1];
	unsigned off;
	struct dent e;
	int rc = 0;

	(void)op;
	(void)mblk;
	for (off = 0; off < b->used && !rc; off += e.rec_len) {
		rc = ent_at(b, off, &e);
		if (rc || e.hash < ic->cookie)
			continue;
		memcpy(name, e.name, e.name_len);
		name[e.name_len] = '\0';
		rc = ic->cb(ic->ctx, name, e.name_len, e.ino, e.type,
			    e.hash + 1);
	}
	return rc;
}

int dir_iterate(struct jop *op, const struct csvfs_inode *dir,
		uint64_t cookie, dir_iter_fn cb, void *ctx)
{
	struct iter_ctx ic = { cookie, cb, ctx };
	struct dtab t;
	int rc;

	rc = tab_get(dir, &t);
	if (rc)
		return rc;
	if (cookie < DIR_COOKIE_FIRST)
		ic.cookie = 0;
	if (ic.cookie >> HASH_BITS)
		return 0;		/* past the largest hash */
	return walk_buckets(op, dir, slot_of(ic.cookie, t.depth),
			    iter_bucket, &ic);
}

static int nonempty_bucket(void *ctx, struct jop *op, uint64_t mblk,
			   const struct csvfs_dbucket *b)
{
	(void)ctx;
	(void)op;
	(void)mblk;
	return b->nentries ? 1 : 0;
}

int dir_is_empty(struct jop *op, const struct csvfs_inode *dir, int *empty)
{
	int rc = walk_buckets(op, dir, 0, nonempty_bucket, NULL);

	if (rc < 0)
		return rc;
	*empty = rc == 0;
	return 0;
}

static int free_bucket(void *ctx, struct jop *op, uint64_t mblk,
		       const struct csvfs_dbucket *b)
{
	(void)b;
	return alloc_free_mblk(ctx, op, mblk);
}

int dir_destroy(struct jop *op, struct alloc *a, struct csvfs_inode *dir)
{
	struct dtab t;
	uint32_t k;
	int empty, rc;

	rc = tab_get(dir, &t);
	if (!rc)
		rc = dir_is_empty(op, dir, &empty);
	if (!rc && !empty)
		rc = -ENOTEMPTY;
	if (!rc)
		rc = walk_buckets(op, dir, 0, free_bucket, a);
	for (k = 0; !rc && k < t.nindex; k++)
		rc = alloc_free_mblk(a, op, tab_index(dir, k));
	if (!rc)
		memset(dir->body, 0, BODY_INDEX + 8 * (size_t)t.nindex);
	return rc;
}

/* ---- fsck ---------------------------------------------------------------- */

struct chk {
	struct jop *op;
	const struct csvfs_inode *dir;
	uint64_t ino, seed;
	struct dtab t;
	uint64_t *slots;		/* the whole table */
	char *why;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static int chk_fail(struct chk *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (k->why && k->len) {
		n = snprintf(k->why, k->len, "dir %llu: ",
			     (unsigned long long)k->ino);
		if (n < 0 || (size_t)n >= k->len)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(k->why + n, k->len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -CSVFS_ECORRUPT;
}

/* A block that does not read back as its type is corruption; I/O is not. */
static int chk_read(struct chk *k, uint64_t m, uint32_t magic,
		    const char *what, struct mbuf **mb)
{
	int rc = jop_read(k->op, m, magic, mb), f;

	if (rc) {
		f = chk_fail(k, "%s %llu: %s", what, (unsigned long long)m,
			     csvfs_strerror(rc));
		if (rc <= -CSVFS_EBASE && rc >= -CSVFS_ECORRUPT)
			rc = f;
	}
	return rc;
}

static int chk_index(struct chk *k, uint32_t j)
{
	unsigned long long m = tab_index(k->dir, j);
	struct csvfs_dindex ix;
	struct mbuf *mb;
	uint32_t i;
	int rc;

	rc = chk_read(k, m, CSVFS_MAGIC_DINDEX, "index block", &mb);
	if (rc)
		return rc;
	od_dindex_decode(mb->data, &ix);
	if (ix.ino != k->ino)
		return chk_fail(k, "index block %llu belongs to inode %llu",
				m, (unsigned long long)ix.ino);
	if (ix.first_slot != j * IX_SLOTS ||
	    ix.nslots != ix_nslots(k->t.depth, j))
		return chk_fail(k, "index block %llu: slots %u+%u, expected "
				"%u+%u", m, ix.first_slot, ix.nslots,
				j * IX_SLOTS, ix_nslots(k->t.depth, j));
	for (i = ix.nslots; i < IX_SLOTS; i++)
		if (ix.slots[i])
			return chk_fail(k, "index block %llu: slot %u set "
					"past the table", m, i);
	memcpy(k->slots + (size_t)j * IX_SLOTS, ix.slots,
	       ix.nslots * sizeof(*k->slots));
	return 0;
}

static int chk_entries(struct chk *k, unsigned long long m,
		       const struct csvfs_dbucket *b, uint64_t s,
		       uint64_t span)
{
	unsigned off, run = 0, n = 0, o;
	uint64_t prev = 0, h;
	struct dent e, r;

	for (off = 0; off < b->used; off += e.rec_len, n++) {
		if (ent_at(b, off, &e))
			return chk_fail(k, "bucket %llu: entry at %u: bad "
					"record length", m, off);
		if (name_check((const char *)e.name, e.name_len) ||
		    is_dot((const char *)e.name, e.name_len) || !e.ino)
			return chk_fail(k, "bucket %llu: entry at %u: bad "
					"name or inode", m, off);
		h = dir_hash(k->seed, (const char *)e.name, e.name_len);
		if (h != e.hash)
			return chk_fail(k, "bucket %llu: entry '%.*s': stored "
					"hash %llx, name hashes to %llx", m,
					(int)e.name_len, e.name,
					(unsigned long long)e.hash,
					(unsigned long long)h);
		if (slot_of(h, k->t.depth) - s >= span)
			return chk_fail(k, "bucket %llu: entry '%.*s' belongs "
					"to slot %llu", m, (int)e.name_len,
					e.name, (unsigned long long)
					slot_of(h, k->t.depth));
		if (n && h < prev)
			return chk_fail(k, "bucket %llu: entry '%.*s' out of "
					"hash order", m, (int)e.name_len,
					e.name);
		if (!n || h != prev)
			run = off;
		/* entries before off were read above: ent_at cannot fail */
		for (o = run; o < off && !ent_at(b, o, &r); o += r.rec_len)
			if (r.name_len == e.name_len &&
			    !memcmp(r.name, e.name, e.name_len))
				return chk_fail(k, "bucket %llu: name '%.*s' "
						"twice", m, (int)e.name_len,
						e.name);
		prev = h;
	}
	if (n != b->nentries)
		return chk_fail(k, "bucket %llu: %u entries, header says %u",
				m, n, b->nentries);
	return 0;
}

/* Checks the bucket starting at slot s; *span gets the slots it covers. */
static int chk_bucket(struct chk *k, uint64_t s, uint64_t *span)
{
	unsigned long long m = k->slots[s];
	struct csvfs_dbucket b;
	struct mbuf *mb;
	uint64_t i;
	int rc;

	rc = chk_read(k, m, CSVFS_MAGIC_DBUCKET, "bucket", &mb);
	if (rc)
		return rc;
	od_dbucket_decode(mb->data, &b);
	if (b.ino != k->ino)
		return chk_fail(k, "bucket %llu belongs to inode %llu", m,
				(unsigned long long)b.ino);
	if (b.local_depth > k->t.depth)
		return chk_fail(k, "bucket %llu: local depth %u over %u", m,
				b.local_depth, k->t.depth);
	if (b.used > CSVFS_DBUCKET_SPACE)
		return chk_fail(k, "bucket %llu: %u bytes used", m, b.used);
	*span = nslots_of(k->t.depth - b.local_depth);
	if (s & (*span - 1))
		return chk_fail(k, "bucket %llu at slot %llu: not aligned to "
				"local depth %u", m, (unsigned long long)s,
				b.local_depth);
	for (i = s; i < s + *span; i++)
		if (k->slots[i] != m)
			return chk_fail(k, "slot %llu points to %llu inside "
					"bucket %llu", (unsigned long long)i,
					(unsigned long long)k->slots[i], m);
	return chk_entries(k, m, &b, s, *span);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int dir_check(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
	      void (*cb)(void *ctx, uint64_t mblk), void *ctx, char *why,
	      size_t len)
{
	struct chk k = { op, dir, dir->hdr.mblk, seed, { 0, 0 }, NULL, why,
			 len };
	uint64_t *seen = NULL, nseen = 0, s, span = 1, i;
	uint32_t j;
	int rc = 0;

	if (why && len)
		why[0] = '\0';
	k.t.depth = od_get32(dir->body + BODY_DEPTH);
	k.t.nindex = od_get32(dir->body + BODY_NINDEX);
	if (k.t.depth > DIR_MAX_DEPTH || k.t.nindex != nindex_of(k.t.depth))
		return chk_fail(&k, "depth %u with %u index blocks",
				k.t.depth, k.t.nindex);
	k.slots = malloc(nslots_of(k.t.depth) * sizeof(*k.slots));
	seen = malloc((nslots_of(k.t.depth) + k.t.nindex) * sizeof(*seen));
	if (!k.slots || !seen)
		rc = -ENOMEM;
	for (j = 0; !rc && j < k.t.nindex; j++) {
		rc = chk_index(&k, j);
		seen[nseen++] = tab_index(dir, j);
	}
	for (s = 0; !rc && s < nslots_of(k.t.depth); s += span) {
		rc = chk_bucket(&k, s, &span);
		seen[nseen++] = k.slots[s];
	}
	/* A bucket met again further on is not contiguous (or is shared).
	 * cb sees each block reached once, even in a faulty directory. */
	if (seen)
		qsort(seen, nseen, sizeof(*seen), cmp_u64);
	for (i = 0; seen && i < nseen; i++) {
		if (i && seen[i] == seen[i - 1]) {
			if (!rc)
				rc = chk_fail(&k, "block %llu used twice",
					      (unsigned long long)seen[i]);
		} else if (cb) {
			cb(ctx, seen[i]);
		}
	}
	free(seen);
	free(k.slots);
	return rc;
}

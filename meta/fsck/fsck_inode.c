/*
 * fsck_inode: pass 2 of fsck (see fsck.h): every inode on its own (type,
 * flags, extended attributes, extent map, block count, directory
 * structure, symlink size), the repairs that rebuild a structure from what
 * can still be read (directories, extent maps), and blocks owned twice.
 * Repairs that allocate run after the maps were protected (fsck_pass.c).
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
#include "meta/fsck/fsck_i.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"
#include "meta/subblk.h"

/* ---- pass 2: inodes ------------------------------------------------------ */

static int todo_add(struct todov *v, uint64_t ino, int kind, const char *why)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct todo *nt = realloc(v->t, cap * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		v->t = nt;
		v->cap = cap;
	}
	v->t[v->n].ino = ino;
	v->t[v->n].kind = kind;
	snprintf(v->t[v->n].why, sizeof(v->t[v->n].why), "%s", why);
	v->n++;
	return 0;
}

/*
 * A tail (include/csvfs/ondisk.h): the inode's one sub-block run, no
 * xattrs, 1 to CSVFS_TAIL_MAX bytes past the run, zeroes after them.
 * What cannot be a tail any more loses the flag: the file then reads
 * zeroes past its run (its size stays).
 */
static void check_tail(struct fsck *f, uint64_t ino, struct csvfs_inode *in,
		       const struct extmap *m)
{
	static const uint8_t zero[CSVFS_TAIL_MAX];
	static uint8_t area[CSVFS_TAIL_MAX];
	struct csvfs_extent e;
	uint64_t run, t;

	if (!(in->flags & CSVFS_IFL_TAIL))
		return;
	if (m->n != 1 || !(m->e[0].flags & CSVFS_EXT_SUB) ||
	    (in->flags & CSVFS_IFL_XBLOB)) {
		if (fk_problem(f, 0, "inode %llu: a tail without a sub-block "
			       "run, or with xattrs in a blob",
			       (unsigned long long)ino)) {
			in->flags &= ~(uint32_t)CSVFS_IFL_TAIL;
			if (!(in->flags & CSVFS_IFL_XBLOB))
				memset(in->xattr, 0, sizeof(in->xattr));
			fk_result(f, fk_put_inode(f, in), "tail dropped");
		}
		return;
	}
	e = m->e[0];
	run = (uint64_t)e.len * CSVFS_SUB_UNIT;
	if (in->xattr_len &&
	    fk_problem(f, 0, "inode %llu: xattr records of %u bytes where "
		       "its tail is", (unsigned long long)ino,
		       in->xattr_len)) {
		in->xattr_len = 0;
		fk_result(f, fk_put_inode(f, in), "records dropped");
	}
	t = in->size > run ? in->size - run : 0;
	if (t == 0 || t > CSVFS_TAIL_MAX) {
		if (fk_problem(f, 0, "inode %llu: tail of %llu bytes (1 to %u)",
			       (unsigned long long)ino,
			       (unsigned long long)t, CSVFS_TAIL_MAX)) {
			if (t)
				in->size = run + CSVFS_TAIL_MAX;
			else
				in->flags &= ~(uint32_t)CSVFS_IFL_TAIL;
			if (!t)
				subblk_tail_clear(in);
			fk_result(f, fk_put_inode(f, in), t ? "size cut" :
				  "tail dropped");
		}
		if (!t)
			return;
		t = CSVFS_TAIL_MAX;
	}
	subblk_tail_read(in, 0, area, CSVFS_TAIL_MAX);
	if (memcmp(area + t, zero, CSVFS_TAIL_MAX - t) &&
	    fk_problem(f, 1, "inode %llu: bytes past its %llu-byte tail are "
		       "not zero", (unsigned long long)ino,
		       (unsigned long long)t)) {
		subblk_tail_write(in, (uint32_t)t, zero,
				  (uint32_t)(CSVFS_TAIL_MAX - t));
		fk_result(f, fk_put_inode(f, in), "zeroed");
	}
}

static int check_reg(struct fsck *f, struct todov *tv, uint64_t ino,
		     struct csvfs_inode *in)
{
	struct extmap m;
	char why[240];
	size_t i, outside = 0;
	uint64_t sum;
	struct jop op;
	int rc;

	if (in->flags & CSVFS_IFL_INLINE) {
		uint32_t cap = ino_inline_cap(in);

		if (in->size > cap &&
		    fk_problem(f, 0, "inode %llu: inline file of %llu bytes "
			       "(at most %u)", (unsigned long long)ino,
			       (unsigned long long)in->size, cap)) {
			in->size = cap;
			fk_result(f, fk_put_inode(f, in), "size cut to %u",
				  cap);
		}
		if (in->nblocks &&
		    fk_problem(f, 1, "inode %llu: block count %llu, an inline "
			       "file has none", (unsigned long long)ino,
			       (unsigned long long)in->nblocks)) {
			in->nblocks = 0;
			fk_result(f, fk_put_inode(f, in), NULL);
		}
		return 0;
	}
	jop_begin(f->j, &op);
	rc = ext_load(&op, ino, in, &m);
	jop_end(&op, 0);
	if (rc == -ENOMEM || rc == -EIO)
		return rc;
	if (rc) {
		snprintf(why, sizeof(why), "inode %llu: extent map unreadable "
			 "(%s)", (unsigned long long)ino, csvfs_strerror(rc));
		rc = todo_add(tv, ino, T_SALVAGE, why);
		return rc ? rc : fk_collect_broken(f, ino, in);
	}
	for (i = 0; i < m.n && !rc; i++) {
		if (!fk_ext_ok(f, &m.e[i], 1))
			outside++;
		else if (m.e[i].flags & CSVFS_EXT_SUB)
			rc = fk_sub_run_add(f, ino, &m.e[i]);
		else
			rc = fk_run_add(f, m.e[i].pblk, m.e[i].len,
					m.e[i].lblk, ino);
	}
	for (i = 0; i < m.nleaf && !rc; i++)
		rc = fk_ref_add(f, m.leaf[i].mblk, ino);
	if (!rc && !outside)
		check_tail(f, ino, in, &m);
	sum = ext_blocks(&m);
	ext_free(&m);
	if (rc)
		return rc;
	if (outside) {
		snprintf(why, sizeof(why), "inode %llu: %zu extent%s map "
			 "blocks outside the data area",
			 (unsigned long long)ino,
			 outside, outside == 1 ? "" : "s");
		return todo_add(tv, ino, T_OUTSIDE, why);
	}
	if (in->nblocks != sum &&
	    fk_problem(f, 1, "inode %llu: block count %llu, its extents map "
		       "%llu", (unsigned long long)ino,
		       (unsigned long long)in->nblocks,
		       (unsigned long long)sum)) {
		in->nblocks = sum;
		fk_result(f, fk_put_inode(f, in), NULL);
	}
	return 0;
}

static int check_dir(struct fsck *f, struct todov *tv, struct fino *fi,
		     const struct csvfs_inode *in)
{
	struct refctx c = { f, fi->ino, 0 };
	char why[200], msg[240];
	const char *p = why;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = dir_check(&op, in, f->sb.hash_seed, fk_ref_cb, &c, why,
		       sizeof(why));
	jop_end(&op, 0);
	if (rc == -ENOMEM || rc == -EIO || c.rc)
		return rc ? rc : c.rc;
	if (!rc)
		return 0;
	fi->fl |= FI_DIRBAD;
	rc = fk_dir_refs_broken(f, fi->ino, in);
	if (rc)
		return rc;
	if (!strncmp(why, "dir ", 4) && strstr(why, ": "))
		p = strstr(why, ": ") + 2;
	snprintf(msg, sizeof(msg), "directory %llu: %s",
		 (unsigned long long)fi->ino, why[0] ? p : csvfs_strerror(rc));
	return todo_add(tv, fi->ino, T_DIR, msg);
}

/* Bytes of whole records at the start of recs[0, len). */
static uint32_t xattr_whole(const uint8_t *recs, uint32_t len)
{
	uint32_t off = 0;

	while (off + 4 <= len) {
		uint32_t rn = recs[off];
		uint32_t rv = od_get16(recs + off + 2) |
			      (uint32_t)recs[off + 1] << 16;

		if (rn == 0 || rv > CSVFS_XATTR_VALUE_MAX ||
		    off + 4 + rn + rv > len)
			break;
		off += 4 + rn + rv;
	}
	return off;
}

/* Drops xattr records from byte off on (all of them in a blob). */
static void xattr_cut(struct fsck *f, uint64_t ino, struct csvfs_inode *in,
		      uint32_t off, const char *why)
{
	if (!fk_problem(f, 0, "inode %llu: extended attributes %s",
			(unsigned long long)ino, why))
		return;
	if (in->flags & CSVFS_IFL_XBLOB) {
		/* its blocks are unreferenced now: pass 5 frees them */
		memset(in->xattr, 0, CSVFS_INODE_XATTR_SIZE);
		in->flags &= ~(uint32_t)CSVFS_IFL_XBLOB;
		in->xattr_len = 0;
		fk_result(f, fk_put_inode(f, in), "all dropped");
		return;
	}
	memset(in->xattr + off, 0, CSVFS_INODE_XATTR_SIZE - off);
	in->xattr_len = off;
	fk_result(f, fk_put_inode(f, in), "the damaged tail is dropped");
}

/*
 * The xattr records (in the area, or in a blob chain) and a long
 * symlink's chain; the chains' blocks become ino's references. Returns
 * 1 when the inode was cleared (a long symlink whose target is lost).
 */
static int check_xattr_blobs(struct fsck *f, uint64_t ino,
			     struct csvfs_inode *in, int *rcp)
{
	char why[160], msg[200];
	struct ino_xattrs x;
	struct jop op;
	uint32_t off;
	int rc;

	*rcp = 0;
	jop_begin(f->j, &op);
	rc = fk_blob_refs(f, &op, ino, in, why, sizeof(why));
	jop_end(&op, 0);
	if (rc < 0) {
		*rcp = rc;
		return 0;
	}
	if (rc == CSVFS_BLOB_SYMLINK) {
		if (fk_problem(f, 0, "symlink %llu: its %llu-byte target is "
			       "lost: %s", (unsigned long long)ino,
			       (unsigned long long)in->size, why))
			fk_result(f, fk_clear_inode(f, ino), "cleared");
		return 1;
	}
	if (rc == CSVFS_BLOB_XATTR) {
		snprintf(msg, sizeof(msg), "lost: %s", why);
		xattr_cut(f, ino, in, 0, msg);
		return 0;
	}
	if (!(in->flags & CSVFS_IFL_XBLOB)) {
		if (in->xattr_len > CSVFS_INODE_XATTR_SIZE)
			in->xattr_len = CSVFS_INODE_XATTR_SIZE;
		off = xattr_whole(in->xattr, in->xattr_len);
		if (off != in->xattr_len) {
			snprintf(msg, sizeof(msg), "damaged after byte %u",
				 off);
			xattr_cut(f, ino, in, off, msg);
		}
		return 0;
	}
	jop_begin(f->j, &op);
	rc = ino_xattr_load(&op, ino, in, 0, &x);
	jop_end(&op, 0);
	if (rc == -ENOMEM || rc == -EIO) {
		*rcp = rc;
		return 0;
	}
	off = rc ? 0 : xattr_whole(x.p, x.len);
	if (rc || off != x.len) {
		snprintf(msg, sizeof(msg), "in a blob damaged after byte %u",
			 off);
		xattr_cut(f, ino, in, 0, msg);
	}
	ino_xattr_done(&x);
	return 0;
}

/* Pass 2 on inode f->ino[k]: checks, small fixes, ownership. */
int fk_check_inode(struct fsck *f, struct todov *tv, size_t k)
{
	struct csvfs_inode in;
	struct fino *fi = &f->ino[k];
	uint64_t ino = fi->ino;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, ino, &in);
	jop_end(&op, 0);
	if (rc == -EIO || rc == -ENOMEM)
		return rc;
	if (rc) {
		fi->fl |= FI_BAD;
		return 0;
	}
	if (!fk_mode_valid(in.mode)) {
		if (fk_problem(f, 0, "inode %llu: invalid file type (mode 0%o)",
			       (unsigned long long)ino, in.mode))
			fk_result(f, fk_clear_inode(f, ino), "cleared");
		fi->fl |= FI_BAD;
		return 0;
	}
	if ((in.flags & ~(uint32_t)IFL_KNOWN) &&
	    fk_problem(f, 1, "inode %llu: unknown flags 0x%x",
		       (unsigned long long)ino,
		       in.flags & ~(uint32_t)IFL_KNOWN)) {
		in.flags &= IFL_KNOWN;
		fk_result(f, fk_put_inode(f, &in), "cleared");
	}
	if ((in.flags & CSVFS_IFL_TAIL) &&
	    (!S_ISREG(in.mode) || (in.flags & (CSVFS_IFL_INLINE |
					       CSVFS_IFL_EXTBLOCKS))) &&
	    fk_problem(f, 0, "inode %llu: tail flag on a file that cannot "
		       "have one (mode 0%o, flags 0x%x)",
		       (unsigned long long)ino, in.mode, in.flags)) {
		in.flags &= ~(uint32_t)CSVFS_IFL_TAIL;
		fk_result(f, fk_put_inode(f, &in), "cleared");
	}
	if (S_ISLNK(in.mode) && (in.size == 0 || in.size >
	    (in.flags & CSVFS_IFL_LONGLINK ? CSVFS_SYMLINK_MAX :
	     CSVFS_SYMLINK_INLINE_MAX))) {
		if (fk_problem(f, 0, "symlink %llu: target of %llu bytes (1 to "
			       "%u allowed)", (unsigned long long)ino,
			       (unsigned long long)in.size,
			       in.flags & CSVFS_IFL_LONGLINK ?
			       CSVFS_SYMLINK_MAX : CSVFS_SYMLINK_INLINE_MAX))
			fk_result(f, fk_clear_inode(f, ino), "cleared");
		fi->fl |= FI_BAD;
		return 0;
	}
	if (check_xattr_blobs(f, ino, &in, &rc)) {
		fi->fl |= FI_BAD;
		return 0;
	}
	if (rc)
		return rc;
	if (S_ISREG(in.mode))
		rc = check_reg(f, tv, ino, &in);
	else if (S_ISDIR(in.mode))
		rc = check_dir(f, tv, fi, &in);
	if (!rc)
		rc = fk_ref_add(f, ino, ino);
	fi->mode = in.mode;
	fi->nlink = in.nlink;
	fi->parent = in.parent;
	fi->size = in.size;
	if (S_ISREG(in.mode)) {
		fi->resv = in.reserve_blocks;
		fi->held = in.reserve_blocks > in.nblocks ?
			   in.reserve_blocks - in.nblocks : 0;
	}
	if (in.flags & CSVFS_IFL_ORPHAN)
		fi->fl |= FI_OFLAG;
	if (in.generation > f->max_gen)
		f->max_gen = in.generation;
	return rc;
}

/*
 * Remembers the metadata blocks an inode owned before a rebuild replaces
 * them: pass 5 frees them without calling them leaks.
 */
static int release_old(struct fsck *f, uint64_t owner)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < f->nref && !rc; i++)
		if (f->ref[i].owner == owner && f->ref[i].mblk != owner)
			rc = fk_rel_add(f, f->ref[i].mblk);
	for (i = 0; i < f->nbk && !rc; i++)
		if (f->bk[i].dir == owner)
			rc = fk_rel_add(f, f->bk[i].mblk);
	return rc;
}

/* Rebuilds a regular file's map from the extents that can be read. */
static int ext_salvage(struct fsck *f, uint64_t ino, size_t *nout)
{
	struct csvfs_inode in;
	struct extmap m;
	struct jop op;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = release_old(f, ino);
	if (rc)
		return rc;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, ino, &in);
	if (!rc)
		rc = fk_collect_extents(f, ino, &in, &m.e, &m.n);
	m.cap = m.n;
	if (!rc && !f->a && m.n > CSVFS_INLINE_EXTENTS)
		rc = FK_ENOALLOC;
	if (!rc) {
		in.flags &= ~(uint32_t)CSVFS_IFL_EXTBLOCKS;
		in.nextents = 0;
		memset(in.body, 0, sizeof(in.body));
		rc = ext_store(&op, f->a, ino, &in, &m);
	}
	in.nblocks = ext_blocks(&m);
	*nout = m.n;
	if (!rc)
		rc = fk_write_inode(f, &op, &in);
	jop_end(&op, rc);
	ext_free(&m);
	if (rc)
		fk_resync(f);
	f->changed = 1;
	return rc;
}

/*
 * Takes [lblk, lblk + count) out of a file's map without freeing the
 * blocks (they are someone else's); with lblk UINT64_MAX, every extent
 * outside the data area. *lost gets the blocks taken.
 */
static int ext_cut(struct fsck *f, uint64_t ino, uint64_t lblk,
		   uint64_t count, uint64_t *lost)
{
	struct csvfs_inode in;
	struct ext_run *runs = NULL;
	size_t nruns = 0, i;
	struct extmap m;
	struct jop op;
	int rc;

	*lost = 0;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, ino, &in);
	if (!rc && !f->a && (in.flags & CSVFS_IFL_EXTBLOCKS))
		rc = FK_ENOALLOC;
	if (!rc)
		rc = ext_load(&op, ino, &in, &m);
	if (rc) {
		jop_end(&op, rc);
		return rc;
	}
	if (lblk != UINT64_MAX) {
		rc = ext_remove(&m, lblk, count, &runs, &nruns);
	} else {
		for (i = m.n; i-- > 0 && !rc;)
			if (!fk_ext_ok(f, &m.e[i], 1))
				rc = ext_remove(&m, m.e[i].lblk, m.e[i].len,
						&runs, &nruns);
	}
	for (i = 0; i < nruns; i++)
		*lost += runs[i].len;
	free(runs);
	if (!rc)
		rc = ext_store(&op, f->a, ino, &in, &m);
	in.nblocks = ext_blocks(&m);
	if (!rc)
		rc = fk_write_inode(f, &op, &in);
	jop_end(&op, rc);
	ext_free(&m);
	if (rc)
		fk_resync(f);
	f->changed = 1;
	fk_maybe_commit(f);
	return rc;
}

static int cmp_ent(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);

	return c ? c : (int)a->len - (int)b->len;
}

/*
 * The entries of directory dir that can still be read from its buckets
 * (those pass 1 saw naming dir), with a valid name and the right hash,
 * sorted by name, without duplicates: what a rebuild puts back.
 */
int fk_dir_salvage(struct fsck *f, uint64_t dir, struct ent **out,
		   size_t *nout)
{
	struct csvfs_dbucket b;
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct ent *v = NULL;
	size_t n = 0, cap = 0, i, k;
	unsigned off, used;
	struct rent e;

	for (i = 0; i < f->nbk; i++) {
		if (f->bk[i].dir != dir || fk_pread(f, raw, f->bk[i].mblk) ||
		    !fk_hdr_ok(f, raw, CSVFS_MAGIC_DBUCKET, f->bk[i].mblk))
			continue;
		od_dbucket_decode(raw, &b);
		if (b.ino != dir)
			continue;
		used = b.used < CSVFS_DBUCKET_SPACE ? b.used :
		       CSVFS_DBUCKET_SPACE;
		for (off = 0; !fk_rent_at(&b, off, used, &e);
		     off += e.rec_len) {
			if (!fk_rent_valid(f, &e))
				continue;
			if (n == cap) {
				struct ent *nv;

				cap = cap ? cap * 2 : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n].ino = e.ino;
			v[n].type = e.type;
			v[n].len = (uint8_t)e.name_len;
			memcpy(v[n].name, e.name, e.name_len);
			v[n].name[e.name_len] = '\0';
			n++;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_ent);
	for (i = 0, k = 0; i < n; i++)
		if (!k || cmp_ent(&v[i], &v[k - 1]))
			v[k++] = v[i];
	*out = v;
	*nout = k;
	return 0;
}

/* Rebuilds a directory from scratch with the entries that can be read. */
int fk_dir_rebuild(struct fsck *f, uint64_t dir, size_t *added)
{
	struct csvfs_inode in;
	struct ent *v = NULL;
	size_t n = 0, i;
	struct jop op;
	int rc;

	*added = 0;
	if (!f->a)
		return FK_ENOALLOC;
	rc = release_old(f, dir);
	if (!rc)
		rc = fk_dir_salvage(f, dir, &v, &n);
	if (rc)
		return rc;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, dir, &in);
	if (!rc)
		rc = dir_create(&op, f->a, dir, &in);
	if (!rc)
		rc = fk_write_inode(f, &op, &in);
	jop_end(&op, rc);
	f->changed = 1;
	for (i = 0; i < n && !rc; i++) {
		int r;

		jop_begin(f->j, &op);
		r = fk_read_inode(f, &op, dir, &in);
		if (!r)
			r = dir_add(&op, f->a, dir, &in, f->sb.hash_seed,
				    v[i].name, v[i].len, v[i].ino, v[i].type);
		if (!r)
			r = fk_write_inode(f, &op, &in);
		jop_end(&op, r);
		if (r)
			fk_resync(f);
		else
			(*added)++;
		if (r == -ENOMEM || r == -EIO)
			rc = r;
		fk_maybe_commit(f);
	}
	if (rc)
		fk_resync(f);
	free(v);
	return rc;
}

void fk_do_todo(struct fsck *f, const struct todo *t)
{
	struct fino *fi = fk_ino(f, t->ino);
	uint64_t lost;
	size_t n = 0;
	int rc;

	if (!fk_problem(f, 0, "%s", t->why))
		return;
	switch (t->kind) {
	case T_DIR:
		rc = fk_dir_rebuild(f, t->ino, &n);
		if (!rc && fi)
			fi->fl &= ~(uint32_t)FI_DIRBAD;
		fk_result(f, rc, rc ? NULL : "rebuilt from the %zu entries "
			  "that could be read", n);
		break;
	case T_SALVAGE:
		rc = ext_salvage(f, t->ino, &n);
		fk_result(f, rc, rc ? NULL : "rebuilt with the %zu extents "
			  "that could be read", n);
		break;
	default:
		rc = ext_cut(f, t->ino, UINT64_MAX, 0, &lost);
		fk_result(f, rc, rc ? NULL : "removed; the file loses %llu "
			  "blocks of data", (unsigned long long)lost);
	}
}

/* A metadata block referenced by two inodes: the second gets its own. */
static int dup_refs(struct fsck *f)
{
	size_t i;
	size_t n = 0;
	int rc, any = 0;

	if (f->nref)
		qsort(f->ref, f->nref, sizeof(*f->ref), fk_cmp_ref);
	for (i = 1; i < f->nref; i++) {
		struct fref a = f->ref[i - 1], b = f->ref[i];
		struct fino *lf;

		if (a.mblk != b.mblk || a.owner == b.owner)
			continue;
		if (b.owner == b.mblk) {	/* an inode keeps its block */
			struct fref t = a;

			a = b;
			b = t;
		}
		lf = fk_ino(f, b.owner);
		if (!lf || lf->mark)
			continue;
		lf->mark = 1;
		if (!fk_problem(f, 0, "metadata block %llu used by inode %llu "
				"and inode %llu", (unsigned long long)a.mblk,
				(unsigned long long)a.owner,
				(unsigned long long)b.owner))
			continue;
		any = 1;
		if (S_ISDIR(lf->mode))
			rc = fk_dir_rebuild(f, b.owner, &n);
		else if (S_ISREG(lf->mode))
			rc = ext_salvage(f, b.owner, &n);
		else
			rc = -CSVFS_ECORRUPT;
		fk_result(f, rc, rc ? NULL : "inode %llu rebuilt with blocks "
			  "of its own", (unsigned long long)b.owner);
	}
	for (i = 0; i < f->nino; i++)
		f->ino[i].mark = 0;
	if (any && !fk_commit(f))
		return fk_recollect(f);
	return 0;
}

struct dup {
	uint64_t pstart, plen, keeper, loser, llblk;
};

/* Blocks owned twice: the first owner keeps them, the other gets a hole. */
static int dup_blocks(struct fsck *f)
{
	struct dup *d = NULL, *nd;
	size_t n = 0, cap = 0, i, top = 0;
	char rs[80], on[40];
	uint64_t lost;
	int rc;

	if (f->nrun)
		qsort(f->run, f->nrun, sizeof(*f->run), fk_cmp_run);
	for (i = 1; i < f->nrun; i++) {
		const struct frun *t = &f->run[top], *r = &f->run[i], *keep,
				  *lose;
		uint64_t tend = t->pblk + t->len, end;

		if (r->pblk < tend) {
			end = r->pblk + r->len < tend ? r->pblk + r->len : tend;
			/* system area, chunks, then the lower inode; in one
			 * file, the lower offset */
			if (t->owner != r->owner)
				keep = t->owner < r->owner ? t : r;
			else
				keep = t->lblk <= r->lblk ? t : r;
			lose = keep == t ? r : t;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nd = realloc(d, cap * sizeof(*d));
				if (!nd) {
					free(d);
					return -ENOMEM;
				}
				d = nd;
			}
			d[n].pstart = r->pblk;
			d[n].plen = end - r->pblk;
			d[n].keeper = keep->owner;
			d[n].loser = lose->owner;
			d[n].llblk = lose->lblk + (r->pblk - lose->pblk);
			n++;
		}
		if (r->pblk + r->len > tend)
			top = i;
	}
	for (i = 0; i < n; i++) {
		if (!fk_problem(f, 0, "block %s used by %s and by inode %llu",
				fk_range_str(d[i].pstart, d[i].plen, rs,
					  sizeof(rs)),
				fk_owner_name(d[i].keeper, on, sizeof(on)),
				(unsigned long long)d[i].loser))
			continue;
		if (d[i].loser <= OWN_CHUNK) {
			fk_result(f, -CSVFS_ECORRUPT, "no safe repair");
			continue;
		}
		rc = ext_cut(f, d[i].loser, d[i].llblk, d[i].plen, &lost);
		fk_result(f, rc, rc ? NULL : "removed from inode %llu, which "
			  "loses %llu MiB at offset %llu MiB (now a hole)",
			  (unsigned long long)d[i].loser,
			  (unsigned long long)((d[i].plen * f->bsize) >> 20),
			  (unsigned long long)((d[i].llblk * f->bsize) >> 20));
	}
	free(d);
	return 0;
}

static int run_todo(struct fsck *f, struct todov *tv)
{
	size_t i;

	for (i = 0; i < tv->n && !f->opfail; i++)
		fk_do_todo(f, &tv->t[i]);
	tv->n = 0;
	return f->changed && !fk_commit(f) ? fk_recollect(f) : 0;
}

int fk_pass2(struct fsck *f)
{
	struct todov tv = { NULL, 0, 0 };
	size_t k;
	int rc = 0;

	fk_pass(f, "Pass 2: checking inodes, extent maps and directories");
	for (k = 0; k < f->nino && !rc; k++) {
		fk_progress(f, "checking inodes", k, f->nino);
		if (!(f->ino[k].fl & FI_BAD))
			rc = fk_check_inode(f, &tv, k);
	}
	fk_progress(f, "", 1, 1);
	if (!rc)
		rc = fk_add_fixed_runs(f);
	if (!rc && f->rw) {
		/* Protect what is in use before anything allocates. */
		fk_compare_blocks(f, 0);
		fk_compare_chunks(f, 0);
		rc = fk_commit(f);
		fk_resync(f);
	}
	if (!rc)
		rc = run_todo(f, &tv);
	if (!rc)
		rc = dup_refs(f);
	if (!rc)
		rc = dup_blocks(f);
	free(tv.t);
	if (rc)
		f->opfail = 1;
	return rc ? rc : fk_commit(f);
}


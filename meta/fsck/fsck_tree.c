/*
 * fsck_tree: passes 3 and 4 of fsck (see fsck.h): the orphan list, the
 * directory tree from the root (entries, types, one name per directory,
 * ".."), inodes in no directory (reconnected under /lost+found), link
 * counts, and the reclaim of orphans as the next mount would do it.
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

static int vstate_op(struct fsck *f, struct jop *op, struct csvfs_vstate *vs,
		     int write);

/* ---- pass 3: the tree ---------------------------------------------------- */

/* Reads or writes the state block, each in an operation of its own. */
static int vstate_rw(struct fsck *f, struct csvfs_vstate *vs, int write)
{
	uint8_t raw[CSVFS_MBLK_SIZE] = { 0 };
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	if (!write) {
		rc = fk_read(f, &op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, raw);
		od_vstate_decode(raw, vs);
	} else {
		rc = jop_new(&op, CSVFS_STATE_MBLK, &mb);
		if (!rc) {
			od_hdr_init(&vs->hdr, CSVFS_MAGIC_STATE,
				    CSVFS_STATE_MBLK, f->sb.hdr.uuid);
			od_vstate_encode(vs, mb->data);
		}
	}
	jop_end(&op, write ? rc : 0);
	return rc;
}

/* Ends the orphan list after inode prev (0: empties it). */
static int orphan_cut(struct fsck *f, uint64_t prev)
{
	struct csvfs_inode in;
	struct csvfs_vstate vs;
	struct jop op;
	int rc;

	if (!prev) {
		rc = vstate_rw(f, &vs, 0);
		vs.orphan_head = 0;
		return rc ? rc : vstate_rw(f, &vs, 1);
	}
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, prev, &in);
	in.next_orphan = 0;
	if (!rc)
		rc = fk_write_inode(f, &op, &in);
	jop_end(&op, rc);
	return rc;
}

static int orphan_walk(struct fsck *f)
{
	struct csvfs_inode in;
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_vstate vs;
	uint64_t prev = 0, cur;
	struct jop op;
	int rc;

	rc = fk_pread(f, raw, CSVFS_STATE_MBLK);
	if (rc)
		return rc;
	rc = od_check(raw, CSVFS_MAGIC_STATE, CSVFS_STATE_MBLK, f->sb.hdr.uuid);
	od_vstate_decode(raw, &vs);
	if (rc) {
		int sane = rc == -CSVFS_EBADCRC &&
			   fk_hdr_ok(f, raw, CSVFS_MAGIC_STATE,
				     CSVFS_STATE_MBLK);

		if (!sane) {
			memset(&vs, 0, sizeof(vs));
			vs.next_generation = f->max_gen + 1;
		}
		if (fk_problem(f, 0, "volume state block: %s",
			       csvfs_strerror(rc)))
			fk_result(f, vstate_rw(f, &vs, 1), sane ? "checksum "
				  "rewritten" : "rebuilt; the orphan list is "
				  "lost");
	}
	for (cur = vs.orphan_head; cur;) {
		struct fino *fi = fk_ino(f, cur);
		const char *bad = !fi || (fi->fl & FI_BAD) ?
				  "is not an inode in use" :
				  (fi->fl & FI_ORPHAN) ? "comes again" :
				  S_ISDIR(fi->mode) ? "is a directory" : NULL;

		if (bad) {
			if (fk_problem(f, 1, "orphan list: inode %llu (after "
				       "%llu) %s", (unsigned long long)cur,
				       (unsigned long long)prev, bad))
				fk_result(f, orphan_cut(f, prev), "the list "
					  "ends there");
			break;
		}
		fi->fl |= FI_ORPHAN;
		f->r->orphans++;
		jop_begin(f->j, &op);
		rc = fk_read_inode(f, &op, cur, &in);
		jop_end(&op, 0);
		if (rc)
			break;
		prev = cur;
		cur = in.next_orphan;
	}
	return 0;
}

static void now_ts(struct csvfs_inode *in)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	in->atime_sec = in->mtime_sec = in->ctime_sec = in->btime_sec =
		(uint64_t)ts.tv_sec;
	in->atime_nsec = in->mtime_nsec = in->ctime_nsec = in->btime_nsec =
		(uint32_t)ts.tv_nsec;
}

/*
 * Writes a new root directory inode, then rebuilds its directory from the
 * buckets that still name it (fk_dir_rebuild makes the structure).
 */
static int recreate_root(struct fsck *f, size_t *added)
{
	struct csvfs_vstate vs;
	struct csvfs_inode in;
	struct fino *fi;
	struct mbuf *mb;
	struct jop op;
	int rc, used = 0;

	*added = 0;
	if (!f->a)
		return FK_ENOALLOC;
	jop_begin(f->j, &op);
	rc = vstate_op(f, &op, &vs, 0);
	if (!rc)
		rc = jop_new(&op, f->root, &mb);
	memset(&in, 0, sizeof(in));
	od_hdr_init(&in.hdr, CSVFS_MAGIC_INODE, f->root, f->sb.hdr.uuid);
	in.mode = S_IFDIR | 0755;
	in.nlink = 2;
	in.parent = f->root;
	in.generation = vs.next_generation > f->max_gen ? vs.next_generation :
			f->max_gen + 1;
	f->max_gen = in.generation;
	vs.next_generation = in.generation + 1;
	now_ts(&in);
	if (!rc) {
		od_inode_encode(&in, mb->data);
		rc = vstate_op(f, &op, &vs, 1);
	}
	if (!rc)
		rc = alloc_mblk_test(f->a, &op, f->root, &used);
	if (!rc && !used)
		rc = fk_chunk_bits(f, &op, f->root, 1, 1);
	jop_end(&op, rc);
	fk_resync(f);
	if (!rc)
		rc = fk_dir_rebuild(f, f->root, added);
	if (rc)
		return rc;
	fi = fk_ino_add(f, f->root);
	if (!fi)
		return -ENOMEM;
	memset(fi, 0, sizeof(*fi));
	fi->ino = f->root;
	fi->mode = in.mode;
	fi->nlink = 2;
	fi->parent = f->root;
	fi->fl = FI_NEW;	/* its link count is ours to set */
	f->changed = 1;
	return fk_commit(f);
}

static int ent_cb(void *ctx, const char *name, size_t len, uint64_t ino,
		  uint8_t type, uint64_t next)
{
	struct entv *v = ctx;

	(void)next;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct ent *ne = realloc(v->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		v->e = ne;
		v->cap = cap;
	}
	v->e[v->n].ino = ino;
	v->e[v->n].type = type;
	v->e[v->n].len = (uint8_t)len;
	memcpy(v->e[v->n].name, name, len);
	v->e[v->n].name[len] = '\0';
	v->n++;
	return 0;
}

/* Removes (type 0) or retypes a directory entry. */
static int entry_fix(struct fsck *f, uint64_t dir, const struct ent *e,
		     uint8_t type)
{
	struct csvfs_inode in;
	struct jop op;
	uint64_t x;
	int rc;

	if (!type && !f->a)
		return FK_ENOALLOC;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, dir, &in);
	if (!rc && type)
		rc = dir_replace(&op, &in, f->sb.hash_seed, e->name, e->len,
				 e->ino, type);
	else if (!rc)
		rc = dir_remove(&op, f->a, &in, f->sb.hash_seed, e->name,
				e->len, &x);
	if (!rc)
		rc = fk_write_inode(f, &op, &in);
	jop_end(&op, rc);
	if (rc || !type)
		fk_resync(f);
	f->changed = 1;
	fk_maybe_commit(f);
	return rc;
}

/* An inode named by an entry whose block is marked free, but valid. */
static struct fino *adopt(struct fsck *f, uint64_t x)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct todov tv = { NULL, 0, 0 };
	struct fino *fi;
	size_t i;

	if (x % f->mpb == 0 || fk_chunk_of(f, x) < 0 || fk_pread(f, raw, x) ||
	    od_check(raw, CSVFS_MAGIC_INODE, x, f->sb.hdr.uuid) ||
	    !fk_inode_sane(f, x, raw))
		return NULL;
	fi = fk_ino_add(f, x);
	if (!fi || fk_check_inode(f, &tv, (size_t)(fi - f->ino))) {
		free(tv.t);
		return NULL;
	}
	for (i = 0; i < tv.n; i++)
		fk_do_todo(f, &tv.t[i]);
	free(tv.t);
	f->changed = 1;
	/* its blocks may be marked free: protect them before anything
	 * allocates (the repair is reported there) */
	if (f->rw) {
		fk_compare_blocks(f, 0);
		fk_compare_chunks(f, 0);
		fk_commit(f);
		fk_resync(f);
	}
	return fk_ino(f, x);
}

/* Walks the tree below directory start (already marked reached). */
static int walk_tree(struct fsck *f, uint64_t start)
{
	struct csvfs_inode din;
	struct entv v = { NULL, 0, 0 };
	uint64_t *stack = NULL, d;
	size_t ns = 1, cap = 16, i;
	struct jop op;
	int rc = 0;

	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[0] = start;
	while (ns && !rc) {
		d = stack[--ns];
		v.n = 0;
		if (fk_ino(f, d)->fl & FI_DIRBAD) {
			/* not rebuilt (-n): walk what a rebuild keeps */
			free(v.e);
			v.e = NULL;
			rc = fk_dir_salvage(f, d, &v.e, &v.n);
			v.cap = v.n;
		} else {
			jop_begin(f->j, &op);
			rc = fk_read_inode(f, &op, d, &din);
			if (!rc)
				rc = dir_iterate(&op, &din, 0, ent_cb, &v);
			jop_end(&op, 0);
		}
		if (rc == -ENOMEM || rc == -EIO)
			break;
		if (rc && !(fk_ino(f, d)->fl & FI_DIRBAD) &&
		    fk_problem(f, 0, "directory %llu: entries unreadable (%s)",
			       (unsigned long long)d, csvfs_strerror(rc)))
			fk_result(f, rc, NULL);
		rc = 0;
		for (i = 0; i < v.n && !rc; i++) {
			const struct ent *e = &v.e[i];
			struct fino *fx = fk_ino(f, e->ino);
			uint8_t dt;

			if (!fx)
				fx = adopt(f, e->ino);
			if (!fx || (fx->fl & FI_BAD) || e->ino == f->root ||
			    e->ino == d) {
				if (fk_problem(f, 0, "directory %llu: entry "
					       "'%s' points to %s %llu",
					       (unsigned long long)d, e->name,
					       !fx || (fx->fl & FI_BAD) ?
					       "unused inode" : e->ino == d ?
					       "itself," : "the root,",
					       (unsigned long long)e->ino))
					fk_result(f, entry_fix(f, d, e, 0),
						  "entry removed");
				continue;
			}
			dt = ino_dtype(fx->mode);
			if (e->type != dt &&
			    fk_problem(f, 1, "directory %llu: entry '%s' has "
				       "type %u, inode %llu is a %s",
				       (unsigned long long)d, e->name, e->type,
				       (unsigned long long)e->ino,
				       fk_type_name(fx->mode)))
				fk_result(f, entry_fix(f, d, e, dt), NULL);
			fx = fk_ino(f, e->ino);
			if (!S_ISDIR(fx->mode)) {
				fx->links++;
				fx->fl |= FI_REACHED;
				continue;
			}
			if (fx->fl & FI_REACHED) {
				if (fk_problem(f, 0, "directory %llu: entry "
					       "'%s' is a second link to "
					       "directory %llu (first in %llu)",
					       (unsigned long long)d, e->name,
					       (unsigned long long)e->ino,
					       (unsigned long long)
					       fx->found_parent))
					fk_result(f, entry_fix(f, d, e, 0),
						  "entry removed");
				continue;
			}
			fx->fl |= FI_REACHED;
			fx->found_parent = d;
			fk_ino(f, d)->subdirs++;
			if (ns == cap) {
				uint64_t *nsk;

				cap *= 2;
				nsk = realloc(stack, cap * sizeof(*stack));
				if (!nsk) {
					rc = -ENOMEM;
					break;
				}
				stack = nsk;
			}
			stack[ns++] = e->ino;
		}
	}
	free(stack);
	free(v.e);
	return rc;
}

/* Finds /lost+found, creating it if needed. */
static int lost_found(struct fsck *f)
{
	struct csvfs_inode root, in;
	struct csvfs_vstate vs;
	struct fino *fi;
	struct mbuf *mb;
	struct jop op;
	uint64_t x = 0;
	uint8_t t;
	int rc;

	if (f->lost_found)
		return 0;
	if (!f->a)
		return FK_ENOALLOC;
	jop_begin(f->j, &op);
	rc = fk_read_inode(f, &op, f->root, &root);
	if (!rc)
		rc = dir_lookup(&op, &root, f->sb.hash_seed, LOST_FOUND,
				strlen(LOST_FOUND), &x, &t);
	jop_end(&op, 0);
	if (!rc) {
		fi = fk_ino(f, x);
		if (!fi || (fi->fl & FI_BAD) || !S_ISDIR(fi->mode))
			return -EEXIST;
		f->lost_found = x;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	jop_begin(f->j, &op);
	rc = vstate_op(f, &op, &vs, 0);
	if (!rc)
		rc = ino_alloc(&op, f->a, &x, &in, &mb);
	if (!rc) {
		in.mode = S_IFDIR | 0700;
		in.nlink = 2;
		in.parent = f->root;
		in.generation = vs.next_generation > f->max_gen ?
				vs.next_generation : f->max_gen + 1;
		f->max_gen = in.generation;
		vs.next_generation = in.generation + 1;
		now_ts(&in);
		rc = vstate_op(f, &op, &vs, 1);
	}
	if (!rc)
		rc = dir_create(&op, f->a, x, &in);
	if (!rc) {
		od_inode_encode(&in, mb->data);
		rc = fk_read_inode(f, &op, f->root, &root);
	}
	if (!rc)
		rc = dir_add(&op, f->a, f->root, &root, f->sb.hash_seed,
			     LOST_FOUND, strlen(LOST_FOUND), x, CSVFS_DT_DIR);
	if (!rc) {
		root.nlink++;
		rc = fk_write_inode(f, &op, &root);
	}
	jop_end(&op, rc);
	fk_resync(f);
	if (rc)
		return rc;
	fi = fk_ino_add(f, x);
	if (!fi)
		return -ENOMEM;
	fi->mode = in.mode;
	fi->nlink = 2;
	fi->parent = fi->found_parent = f->root;
	fi->fl = FI_REACHED;
	fk_ino(f, f->root)->subdirs++;
	fk_ino(f, f->root)->nlink++;
	f->lost_found = x;
	f->changed = 1;
	fk_info(f, "created /lost+found (inode %llu)", (unsigned long long)x);
	return fk_commit(f);
}

/* Links inode x into /lost+found as "#x". */
static int reconnect(struct fsck *f, uint64_t x)
{
	struct csvfs_inode lf, in;
	struct fino *fx;
	char name[40];
	struct jop op;
	int rc, i;

	rc = lost_found(f);
	if (rc)
		return rc;
	fx = fk_ino(f, x);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), i ? "#%llu.%d" : "#%llu",
			 (unsigned long long)x, i);
		jop_begin(f->j, &op);
		rc = fk_read_inode(f, &op, f->lost_found, &lf);
		if (!rc)
			rc = dir_add(&op, f->a, f->lost_found, &lf,
				     f->sb.hash_seed, name, strlen(name), x,
				     ino_dtype(fx->mode));
		if (!rc && S_ISDIR(fx->mode)) {
			lf.nlink++;
			rc = fk_read_inode(f, &op, x, &in);
			in.parent = f->lost_found;
			if (!rc)
				rc = fk_write_inode(f, &op, &in);
		}
		if (!rc)
			rc = fk_write_inode(f, &op, &lf);
		jop_end(&op, rc);
		if (rc != -EEXIST)
			break;
	}
	fk_resync(f);
	fk_maybe_commit(f);
	if (rc)
		return rc;
	f->changed = 1;
	fx = fk_ino(f, x);
	if (S_ISDIR(fx->mode)) {
		fx->parent = fx->found_parent = f->lost_found;
		fk_ino(f, f->lost_found)->subdirs++;
		fk_ino(f, f->lost_found)->nlink++;
	} else {
		fx->links++;
	}
	return 0;
}

/* The highest unreached directory above unreached directory x. */
static uint64_t top_of(struct fsck *f, uint64_t x, uint32_t stamp)
{
	struct fino *fi = fk_ino(f, x), *p;

	for (;;) {
		fi->mark = stamp;
		p = fk_ino(f, fi->parent);
		if (!p || p == fi || (p->fl & (FI_BAD | FI_REACHED)) ||
		    !S_ISDIR(p->mode) || p->mark == stamp)
			return fi->ino;
		fi = p;
	}
}

static int unreachable(struct fsck *f)
{
	uint32_t stamp = 0;
	size_t k;
	int rc = 0, done;

	for (k = 0; k < f->nino && !rc; k++) {
		struct fino *fi = &f->ino[k];
		uint64_t top;

		/* a directory removed while open: freed at its last close */
		if ((fi->fl & (FI_BAD | FI_REACHED)) || !S_ISDIR(fi->mode) ||
		    ((fi->fl & FI_ORPHAN) && fi->nlink == 0))
			continue;
		top = top_of(f, fi->ino, ++stamp);
		fi = fk_ino(f, top);
		done = 0;
		if (fk_problem(f, 0, "directory %llu is not in the tree (its "
			       "'..' says %llu)", (unsigned long long)top,
			       (unsigned long long)fi->parent)) {
			rc = reconnect(f, top);
			fk_result(f, rc, rc ? NULL : "moved to "
				  "/lost+found/#%llu", (unsigned long long)top);
			done = !rc;
		}
		fi = fk_ino(f, top);
		fi->fl |= FI_REACHED;
		if (!done)
			fi->found_parent = UINT64_MAX; /* not in the tree */
		rc = rc == -ENOMEM || rc == -EIO ? rc : walk_tree(f, top);
	}
	for (k = 0; k < f->nino && !rc; k++) {
		struct fino *fi = &f->ino[k];
		uint64_t x = fi->ino;

		if ((fi->fl & (FI_BAD | FI_REACHED)) || S_ISDIR(fi->mode) ||
		    ((fi->fl & FI_ORPHAN) && fi->nlink == 0))
			continue;
		if (fk_problem(f, 0, "inode %llu (%s, %llu bytes) is in no "
			       "directory", (unsigned long long)x,
			       fk_type_name(fi->mode),
			       (unsigned long long)fi->size)) {
			rc = reconnect(f, x);
			fk_result(f, rc, rc ? NULL : "linked as "
				  "/lost+found/#%llu", (unsigned long long)x);
			if (!rc)
				fk_ino(f, x)->fl |= FI_REACHED;
			if (rc != -ENOMEM && rc != -EIO)
				rc = 0;
		}
	}
	return rc;
}

static void check_dotdot(struct fsck *f)
{
	struct csvfs_inode in;
	struct jop op;
	size_t k;
	int rc;

	for (k = 0; k < f->nino; k++) {
		struct fino *fi = &f->ino[k];
		uint64_t want = fi->ino == f->root ? f->root : fi->found_parent;

		if ((fi->fl & FI_BAD) || !S_ISDIR(fi->mode) ||
		    !(fi->fl & FI_REACHED) || want == UINT64_MAX ||
		    fi->parent == want)
			continue;
		if (!fk_problem(f, 1, "directory %llu: '..' is %llu, should be "
				"%llu", (unsigned long long)fi->ino,
				(unsigned long long)fi->parent,
				(unsigned long long)want))
			continue;
		jop_begin(f->j, &op);
		rc = fk_read_inode(f, &op, fi->ino, &in);
		in.parent = want;
		if (!rc)
			rc = fk_write_inode(f, &op, &in);
		jop_end(&op, rc);
		fk_result(f, rc, NULL);
		if (!rc)
			fi->parent = want;
	}
}

int fk_pass3(struct fsck *f)
{
	struct fino *root;
	size_t n = 0;
	int rc;

	fk_pass(f, "Pass 3: checking the directory tree and the orphan list");
	rc = orphan_walk(f);
	if (rc)
		goto out;
	root = fk_ino(f, f->root);
	if (!root || (root->fl & FI_BAD) || !S_ISDIR(root->mode)) {
		if (!fk_problem(f, 0, "root directory (inode %llu) %s",
				(unsigned long long)f->root, root &&
				!(root->fl & FI_BAD) ? "is not a directory" :
				"is missing")) {
			fk_info(f, "directory tree not checked");
			return 0;
		}
		rc = recreate_root(f, &n);
		fk_result(f, rc, rc ? NULL : "recreated with the %zu entries "
			  "that could be read; what else was below it goes "
			  "to /lost+found", n);
		if (rc)
			return 0;
	}
	root = fk_ino(f, f->root);
	root->fl |= FI_REACHED;
	root->found_parent = f->root;
	rc = walk_tree(f, f->root);
	if (!rc)
		rc = unreachable(f);
	if (!rc)
		check_dotdot(f);
out:
	if (rc)
		f->opfail = 1;
	return rc ? rc : fk_commit(f);
}

/* ---- pass 4: link counts and orphans ------------------------------------- */

/* The state block through op (to change it: write). */
static int vstate_op(struct fsck *f, struct jop *op, struct csvfs_vstate *vs,
		     int write)
{
	struct mbuf *mb;
	int rc = jop_read(op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);

	if (!rc && write)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	if (write)
		od_vstate_encode(vs, mb->data);
	else
		od_vstate_decode(mb->data, vs);
	(void)f;
	return 0;
}

/*
 * What orphan ino gives back: everything (no link left) or the blocks
 * past EOF (a truncation in progress). Fills *runs (malloc'd).
 */
static int orphan_runs(struct fsck *f, struct jop *op, uint64_t ino,
		       struct csvfs_inode *in, struct extmap *m,
		       struct ext_run **runs, size_t *nruns)
{
	uint64_t from;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = fk_read_inode(f, op, ino, in);
	from = in->nlink == 0 ? 0 : (in->size + f->bsize - 1) / f->bsize;
	if (!rc && S_ISREG(in->mode) && !(in->flags & CSVFS_IFL_INLINE))
		rc = ext_load(op, ino, in, m);
	if (!rc)
		rc = ext_remove(m, from, UINT64_MAX, runs, nruns);
	return rc;
}

/*
 * Frees orphan ino (no link left) or, still linked, drops its blocks past
 * EOF, and takes it off the list (it must be the head). The blocks are
 * zeroed and the zeroes flushed before the transaction that frees them.
 */
static int orphan_reclaim(struct fsck *f, uint64_t ino, uint64_t *blocks)
{
	struct csvfs_inode in;
	struct csvfs_vstate vs;
	struct ext_run *runs = NULL;
	size_t nruns = 0, i;
	struct extmap m;
	struct jop op;
	int rc;

	*blocks = 0;
	if (!f->a)
		return FK_ENOALLOC;
	jop_begin(f->j, &op);
	rc = orphan_runs(f, &op, ino, &in, &m, &runs, &nruns);
	jop_end(&op, 0);
	/* A truncation in progress: the tail of the last block reads 0. */
	if (!rc && in.nlink && in.size % f->bsize && m.n) {
		uint64_t lblk = in.size / f->bsize;
		long e = ext_find(&m, lblk, NULL);

		if (e >= 0 && !(m.e[e].flags & CSVFS_EXT_UNWRITTEN)) {
			rc = dev_zero_bytes(f->d, (m.e[e].pblk + lblk -
						   m.e[e].lblk) * f->bsize +
					    in.size % f->bsize,
					    f->bsize - in.size % f->bsize);
			if (!rc)
				rc = dev_flush(f->d);
		}
	}
	ext_free(&m);
	for (i = 0; !rc && i < nruns; i++)
		rc = dev_zero(f->d, runs[i].pblk * f->bsize,
			      runs[i].len * f->bsize);
	if (!rc && nruns)
		rc = dev_flush(f->d);
	free(runs);
	runs = NULL;
	nruns = 0;
	if (rc)
		return rc;
	jop_begin(f->j, &op);
	rc = orphan_runs(f, &op, ino, &in, &m, &runs, &nruns);
	for (i = 0; !rc && i < nruns; i++) {
		rc = alloc_free(f->a, &op, runs[i].pblk, runs[i].len);
		*blocks += runs[i].len;
	}
	/* an inline file keeps its body: only a block map is stored back */
	if (!rc && in.nlink == 0)
		rc = ext_drop_leaves(&op, f->a, &m);
	else if (!rc && S_ISREG(in.mode) && !(in.flags & CSVFS_IFL_INLINE))
		rc = ext_store(&op, f->a, ino, &in, &m);
	if (!rc)
		rc = vstate_op(f, &op, &vs, 0);
	if (!rc && vs.orphan_head != ino)
		rc = -CSVFS_ECORRUPT;
	if (!rc) {
		vs.orphan_head = in.next_orphan;
		rc = vstate_op(f, &op, &vs, 1);
	}
	if (!rc) {
		in.flags &= ~(uint32_t)CSVFS_IFL_ORPHAN;
		in.next_orphan = 0;
		if (S_ISREG(in.mode) && !(in.flags & CSVFS_IFL_INLINE))
			in.nblocks = ext_blocks(&m);
		rc = fk_write_inode(f, &op, &in);
	}
	if (!rc && in.nlink == 0 && S_ISDIR(in.mode))
		rc = dir_destroy(&op, f->a, &in);
	if (!rc && in.nlink == 0)
		rc = ino_free(&op, f->a, ino);
	jop_end(&op, rc);
	ext_free(&m);
	free(runs);
	fk_resync(f);
	f->changed = 1;
	if (!rc)
		rc = fk_commit(f);
	return rc;
}

/*
 * The volume holds back, for every file, its unused reservation
 * (max(0, reserve_blocks - nblocks)); the state block keeps the sum, which
 * the coordinator's allocator trusts. Files reclaimed above are gone; an
 * orphan truncated above is read again.
 */
static void check_reserved(struct fsck *f)
{
	struct csvfs_inode in;
	struct csvfs_vstate vs;
	uint64_t want = 0;
	struct jop op;
	size_t k;

	for (k = 0; k < f->nino; k++) {
		struct fino *fi = &f->ino[k];
		uint64_t held = fi->held;

		if ((fi->fl & FI_BAD) || !S_ISREG(fi->mode) || !fi->resv)
			continue;
		if (f->rw && (fi->fl & FI_ORPHAN)) {
			jop_begin(f->j, &op);
			if (!fk_read_inode(f, &op, fi->ino, &in))
				held = in.reserve_blocks > in.nblocks ?
				       in.reserve_blocks - in.nblocks : 0;
			jop_end(&op, 0);
		}
		want += held;
	}
	if (vstate_rw(f, &vs, 0) || vs.reserved_blocks == want)
		return;
	if (fk_problem(f, 1, "volume state block: %llu blocks held back for "
		       "reservations, the files' unused reservations add up "
		       "to %llu", (unsigned long long)vs.reserved_blocks,
		       (unsigned long long)want)) {
		vs.reserved_blocks = want;
		fk_result(f, vstate_rw(f, &vs, 1), "set to %llu",
			  (unsigned long long)want);
	}
}

int fk_pass4(struct fsck *f)
{
	struct csvfs_inode in;
	struct csvfs_vstate vs;
	struct jop op;
	uint64_t head, blocks, n = 0;
	size_t k;
	int rc;

	fk_pass(f, "Pass 4: checking link counts and orphans");
	for (k = 0; k < f->nino; k++) {
		struct fino *fi = &f->ino[k];
		uint32_t want = S_ISDIR(fi->mode) ? 2 + fi->subdirs : fi->links;
		uint32_t flags;

		if (fi->fl & FI_BAD)
			continue;
		if (!!(fi->fl & FI_OFLAG) != !!(fi->fl & FI_ORPHAN) &&
		    fk_problem(f, 1, "inode %llu: %s", (unsigned long long)
			       fi->ino, fi->fl & FI_ORPHAN ? "on the orphan "
			       "list but not marked" : "marked as an orphan "
			       "but not on the orphan list")) {
			jop_begin(f->j, &op);
			rc = fk_read_inode(f, &op, fi->ino, &in);
			flags = in.flags & ~(uint32_t)CSVFS_IFL_ORPHAN;
			in.flags = flags |
				   (fi->fl & FI_ORPHAN ? CSVFS_IFL_ORPHAN : 0);
			if (!(fi->fl & FI_ORPHAN))
				in.next_orphan = 0;
			if (!rc)
				rc = fk_write_inode(f, &op, &in);
			jop_end(&op, rc);
			fk_result(f, rc, NULL);
		}
		/* not in the tree: reported by pass 3, nothing to count */
		if (!(fi->fl & FI_REACHED) ||
		    (S_ISDIR(fi->mode) && fi->found_parent == UINT64_MAX))
			continue;
		if (fi->nlink != want && ((fi->fl & FI_NEW) ||
		    fk_problem(f, 1, "inode %llu: link count %u, should be %u",
			       (unsigned long long)fi->ino, fi->nlink, want))) {
			jop_begin(f->j, &op);
			rc = fk_read_inode(f, &op, fi->ino, &in);
			in.nlink = want;
			if (!rc)
				rc = fk_write_inode(f, &op, &in);
			jop_end(&op, rc);
			if (!(fi->fl & FI_NEW))
				fk_result(f, rc, NULL);
			if (!rc)
				fi->nlink = want;
			fk_maybe_commit(f);
		}
	}
	fk_commit(f);
	if (f->r->orphans && !f->rw)
		fk_info(f, "%llu orphan inode%s (unlinked while open) will be "
			"freed at the next mount", (unsigned long long)
			f->r->orphans, f->r->orphans == 1 ? "" : "s");
	while (f->rw && f->r->orphans && n++ <= f->r->orphans) {
		if (vstate_rw(f, &vs, 0))
			break;
		head = vs.orphan_head;
		if (!head)
			break;
		rc = orphan_reclaim(f, head, &blocks);
		if (rc) {
			fk_info(f, "orphan inode %llu: not reclaimed (%s)",
				(unsigned long long)head, rc == FK_ENOALLOC ?
				"allocation maps unusable" :
				csvfs_strerror(rc));
			break;
		}
		f->r->orphans_freed++;
		if (fk_ino(f, head) && fk_ino(f, head)->nlink == 0)
			fk_ino(f, head)->fl |= FI_BAD;
		fk_info(f, "orphan inode %llu: reclaimed (%llu blocks freed)",
			(unsigned long long)head, (unsigned long long)blocks);
	}
	check_reserved(f);
	if (!vstate_rw(f, &vs, 0) && vs.next_generation <= f->max_gen &&
	    fk_problem(f, 1, "volume state block: next inode generation %llu, "
		       "inodes already use %llu",
		       (unsigned long long)vs.next_generation,
		       (unsigned long long)f->max_gen)) {
		vs.next_generation = f->max_gen + 1;
		fk_result(f, vstate_rw(f, &vs, 1), NULL);
	}
	return fk_commit(f);
}


/*
 * mds_ns: namespace and attribute requests of the coordinator.
 *
 * POSIX rules that live here (the kernel's default_permissions does the
 * permission and sticky-bit checks before a request is sent): a new inode
 * takes the caller's uid and gid, or the parent's gid under a setgid
 * directory (and a new directory inherits the setgid bit); every change
 * stamps ctime, and mtime where content changes; st_nlink of a directory
 * is 2 + its subdirectories.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "lockd/lockd.h"
#include "meta/alloc.h"
#include "meta/blob.h"
#include "meta/dir.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"

#define LINK_MAX_COUNT 65000

static int get_dir(struct mds_req *r, uint64_t ino, struct csvfs_inode *in,
		   struct mbuf **mb)
{
	int rc = mds_get(r, ino, in, mb);

	if (!rc && !S_ISDIR(in->mode))
		rc = -ENOTDIR;
	/* Removed while open (drop_dir): nothing is found or goes in. */
	else if (!rc && in->nlink == 0)
		rc = -ENOENT;
	return rc;
}

static int read_name(struct mds_req *r, char *name, size_t *len)
{
	*len = msg_get_str(&r->in, name, CSVFS_NAME_MAX + 2);
	if (r->in.err)
		return -EPROTO;
	return mds_name_ok(name, *len);
}

int mds_h_lookup(struct mds_req *r)
{
	uint64_t parent = msg_get_u64(&r->in), ino;
	char name[CSVFS_NAME_MAX + 2];
	struct csvfs_inode dir, in;
	size_t len;
	uint8_t type;
	int rc;

	len = msg_get_str(&r->in, name, sizeof(name));
	if (msg_rd_end(&r->in))
		return len > CSVFS_NAME_MAX ? -ENAMETOOLONG : -EPROTO;
	rc = get_dir(r, parent, &dir, NULL);
	if (!rc)
		rc = mds_interest(r, parent);
	if (rc)
		return rc;
	if (len == 1 && name[0] == '.')
		ino = parent;
	else if (len == 2 && name[0] == '.' && name[1] == '.')
		ino = dir.parent;
	else {
		rc = mds_name_ok(name, len);
		if (!rc)
			rc = dir_lookup(r->op, &dir, r->m->sb.hash_seed, name,
					len, &ino, &type);
		if (rc)
			return rc;
	}
	rc = mds_get(r, ino, &in, NULL);
	if (rc)
		return rc == -ESTALE ? -CSVFS_ECORRUPT : rc;
	rc = mds_interest(r, ino);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

int mds_h_getattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	struct csvfs_inode in;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = mds_get(r, ino, &in, NULL);
	if (!rc)
		rc = mds_interest(r, ino);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

static void set_time(uint64_t *sec, uint32_t *nsec, int64_t s, uint32_t ns)
{
	*sec = (uint64_t)s;
	*nsec = ns;
}

int mds_h_setattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), size;
	uint32_t valid = msg_get_u32(&r->in), mode, uid, gid, ansec, mnsec;
	int64_t asec, msec;
	struct csvfs_inode in;
	struct mbuf *mb;
	struct timespec now;
	int rc;

	mode = msg_get_u32(&r->in);
	uid = msg_get_u32(&r->in);
	gid = msg_get_u32(&r->in);
	size = msg_get_u64(&r->in);
	asec = (int64_t)msg_get_u64(&r->in);
	ansec = msg_get_u32(&r->in);
	msec = (int64_t)msg_get_u64(&r->in);
	mnsec = msg_get_u32(&r->in);
	if (msg_rd_end(&r->in) || ansec >= 1000000000u ||
	    mnsec >= 1000000000u)
		return -EPROTO;
	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	clock_gettime(CLOCK_REALTIME, &now);
	if (valid & CSVFS_SA_SIZE) {
		if (S_ISDIR(in.mode))
			return -EISDIR;
		if (!S_ISREG(in.mode))
			return -EINVAL;
		rc = mds_may_modify(r, ino, &in, size < in.size);
		if (rc)
			return rc;
		rc = mds_set_size(r, ino, &in, mb, size);
		if (rc)
			return rc;
		in.mtime_sec = (uint64_t)now.tv_sec;
		in.mtime_nsec = (uint32_t)now.tv_nsec;
	}
	if (valid & CSVFS_SA_MODE)
		in.mode = (in.mode & S_IFMT) | (mode & 07777);
	if (valid & CSVFS_SA_UID)
		in.uid = uid;
	if (valid & CSVFS_SA_GID)
		in.gid = gid;
	if ((valid & CSVFS_SA_KILL_SUIDGID) && !S_ISDIR(in.mode)) {
		in.mode &= ~(uint32_t)S_ISUID;
		if (in.mode & S_IXGRP)
			in.mode &= ~(uint32_t)S_ISGID;
	}
	if (valid & CSVFS_SA_ATIME_NOW)
		set_time(&in.atime_sec, &in.atime_nsec, now.tv_sec,
			 (uint32_t)now.tv_nsec);
	else if (valid & CSVFS_SA_ATIME)
		set_time(&in.atime_sec, &in.atime_nsec, asec, ansec);
	if (valid & CSVFS_SA_MTIME_NOW)
		set_time(&in.mtime_sec, &in.mtime_nsec, now.tv_sec,
			 (uint32_t)now.tv_nsec);
	else if (valid & CSVFS_SA_MTIME)
		set_time(&in.mtime_sec, &in.mtime_nsec, msec, mnsec);
	in.ctime_sec = (uint64_t)now.tv_sec;
	in.ctime_nsec = (uint32_t)now.tv_nsec;
	rc = ino_put(r->op, mb, &in);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

static int next_generation(struct mds_req *r, uint64_t *gen)
{
	struct csvfs_vstate vs;
	struct mbuf *mb;
	int rc;

	rc = jop_read(r->op, CSVFS_STATE_MBLK, CSVFS_MAGIC_STATE, &mb);
	if (!rc)
		rc = jop_write(r->op, mb);
	if (rc)
		return rc;
	od_vstate_decode(mb->data, &vs);
	*gen = vs.next_generation++;
	od_vstate_encode(&vs, mb->data);
	return 0;
}

/* A new inode of mode (nlink 1) for directory *dir, not yet written. */
static int new_inode(struct mds_req *r, const struct csvfs_inode *dir,
		     uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid,
		     uint64_t *ino, struct csvfs_inode *in, struct mbuf **mb)
{
	int rc;

	r->alloc_touched = 1;
	rc = ino_alloc(r->op, r->m->a, ino, in, mb);
	if (rc)
		return rc;
	in->mode = mode;
	in->uid = uid;
	in->gid = gid;
	if (dir->mode & S_ISGID) {
		in->gid = dir->gid;
		if (S_ISDIR(mode))
			in->mode |= S_ISGID;
	}
	in->rdev = rdev;
	in->nlink = 1;
	rc = next_generation(r, &in->generation);
	if (rc)
		return rc;
	ino_touch(in, 1);
	in->atime_sec = in->btime_sec = in->mtime_sec;
	in->atime_nsec = in->btime_nsec = in->mtime_nsec;
	return 0;
}

/*
 * O_TMPFILE: a regular file without a name, opened. It lives on the
 * orphan list like an unlinked open file (freed at its last close, or by
 * the next start after a crash) until LINK gives it a first name.
 */
int mds_h_tmpfile(struct mds_req *r)
{
	uint64_t parent = msg_get_u64(&r->in), ino;
	uint32_t mode = msg_get_u32(&r->in), uid = msg_get_u32(&r->in);
	uint32_t gid = msg_get_u32(&r->in), open_flags = msg_get_u32(&r->in);
	struct csvfs_inode dir, in;
	struct mbuf *mb;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = get_dir(r, parent, &dir, NULL);
	if (!rc)
		rc = new_inode(r, &dir, S_IFREG | (mode & 07777), 0, uid, gid,
			       &ino, &in, &mb);
	if (rc)
		return rc;
	in.nlink = 0;
	in.flags |= CSVFS_IFL_INLINE | CSVFS_IFL_TMPFILE;
	rc = mds_orphan_add(r, ino, &in);
	if (!rc)
		rc = ino_put(r->op, mb, &in);
	if (!rc)
		rc = mds_open_ino(r, ino, &in, mb, open_flags);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

/*
 * Creates an inode of mode under parent/name. For a directory it is made
 * empty and the parent's link count grows; a symlink gets its target.
 */
static int make_node(struct mds_req *r, uint64_t parent, const char *name,
		     size_t len, uint32_t mode, uint64_t rdev, uint32_t uid,
		     uint32_t gid, const char *target, size_t tlen,
		     int open, uint32_t open_flags)
{
	struct csvfs_inode dir, in;
	struct mbuf *dmb, *mb;
	uint64_t ino, exist;
	uint8_t type;
	int rc;

	rc = get_dir(r, parent, &dir, &dmb);
	if (rc)
		return rc;
	if (dir.nlink == 0)
		return -ENOENT;
	rc = dir_lookup(r->op, &dir, r->m->sb.hash_seed, name, len, &exist,
			&type);
	if (rc != -ENOENT)
		return rc ? rc : -EEXIST;
	if (S_ISDIR(mode) && dir.nlink >= LINK_MAX_COUNT)
		return -EMLINK;
	rc = new_inode(r, &dir, mode, rdev, uid, gid, &ino, &in, &mb);
	if (rc)
		return rc;
	if (S_ISDIR(mode)) {
		in.nlink = 2;
		in.parent = parent;
		rc = dir_create(r->op, r->m->a, ino, &in);
		if (rc)
			return rc;
		dir.nlink++;
	} else if (S_ISLNK(mode) && tlen > CSVFS_SYMLINK_INLINE_MAX) {
		/* A long target lives in a blob chain (ext4's slow link). */
		uint64_t head;

		rc = blob_store(r->op, r->m->a, ino, CSVFS_BLOB_SYMLINK,
				target, tlen, &head);
		if (rc)
			return rc;
		od_put64(in.body, head);
		in.size = tlen;
		in.flags |= CSVFS_IFL_LONGLINK;
	} else if (S_ISLNK(mode)) {
		memcpy(in.body, target, tlen);
		in.size = tlen;
		in.flags |= CSVFS_IFL_INLINE;
	} else if (S_ISREG(mode)) {
		in.flags |= CSVFS_IFL_INLINE;
	}
	rc = dir_add(r->op, r->m->a, parent, &dir, r->m->sb.hash_seed, name,
		     len, ino, ino_dtype(mode));
	if (rc)
		return rc;
	ino_touch(&dir, 1);
	rc = ino_put(r->op, dmb, &dir);
	if (!rc)
		rc = ino_put(r->op, mb, &in);
	if (!rc && open)
		rc = mds_open_ino(r, ino, &in, mb, open_flags);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

static int h_create(struct mds_req *r, int dir, int open)
{
	uint64_t parent = msg_get_u64(&r->in), rdev = 0;
	char name[CSVFS_NAME_MAX + 2];
	uint32_t mode, uid, gid, open_flags = 0;
	size_t len;
	int rc;

	rc = read_name(r, name, &len);
	mode = msg_get_u32(&r->in);
	if (!dir)
		rdev = msg_get_u64(&r->in);
	uid = msg_get_u32(&r->in);
	gid = msg_get_u32(&r->in);
	if (open)
		open_flags = msg_get_u32(&r->in);
	if (msg_rd_end(&r->in))
		return len > CSVFS_NAME_MAX ? -ENAMETOOLONG : -EPROTO;
	if (rc)
		return rc;
	if (open && !S_ISREG(mode))
		return -EINVAL;
	if (dir)
		mode = S_IFDIR | (mode & 07777);
	else if (!S_ISREG(mode) && !S_ISCHR(mode) && !S_ISBLK(mode) &&
		 !S_ISFIFO(mode) && !S_ISSOCK(mode))
		return -EINVAL;
	return make_node(r, parent, name, len, mode, rdev, uid, gid, NULL, 0,
			 open, open_flags);
}

int mds_h_mknod(struct mds_req *r)
{
	return h_create(r, 0, 0);
}

int mds_h_create(struct mds_req *r)
{
	return h_create(r, 0, 1);
}

int mds_h_mkdir(struct mds_req *r)
{
	return h_create(r, 1, 0);
}

int mds_h_symlink(struct mds_req *r)
{
	uint64_t parent = msg_get_u64(&r->in);
	char name[CSVFS_NAME_MAX + 2], *target;
	uint32_t uid, gid;
	size_t len, tlen;
	int rc, rc2;

	target = malloc(CSVFS_SYMLINK_MAX + 2);
	if (!target)
		return -ENOMEM;
	rc = read_name(r, name, &len);
	tlen = msg_get_str(&r->in, target, CSVFS_SYMLINK_MAX + 2);
	uid = msg_get_u32(&r->in);
	gid = msg_get_u32(&r->in);
	rc2 = msg_rd_end(&r->in);
	if (rc2)
		rc = len > CSVFS_NAME_MAX ? -ENAMETOOLONG : -EPROTO;
	else if (!rc && tlen > CSVFS_SYMLINK_MAX)
		rc = -ENAMETOOLONG;
	else if (!rc && tlen == 0)
		rc = -ENOENT;
	if (!rc)
		rc = make_node(r, parent, name, len, S_IFLNK | 0777, 0, uid,
			       gid, target, tlen, 0, 0);
	free(target);
	return rc;
}

/*
 * Drops one link of ino (already taken out of its directory). A file left
 * without links is freed now, or when its last opener closes it.
 */
static int drop_link(struct mds_req *r, uint64_t ino)
{
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc, busy;

	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (in.nlink)
		in.nlink--;
	ino_touch(&in, 0);
	if (in.nlink == 0) {
		busy = mds_ino_busy(r->m, ino, &in);
		if (!busy && in.nblocks == 0 &&
		    !(in.flags & CSVFS_IFL_EXTBLOCKS)) {
			/*
			 * No blocks to zero: the inode goes in this op (a
			 * sub-block run is freed dirty, nothing to zero).
			 */
			r->alloc_touched = 1;
			rc = S_ISREG(in.mode) ? mds_sub_trim(r, &in, 1, 0) : 0;
			if (!rc)
				rc = mds_resv_update(r, &in, 0, 0);
			if (rc)
				return rc;
			if (S_ISREG(in.mode))
				r->m->provisioned -= in.size <
						     r->m->provisioned ?
						     in.size :
						     r->m->provisioned;
			rc = ino_put(r->op, mb, &in);
			return rc ? rc : ino_free(r->op, r->m->a, ino);
		}
		/* On the orphan list until its blocks are gone (crash-safe). */
		rc = mds_orphan_add(r, ino, &in);
		if (rc)
			return rc;
		if (!busy)
			r->reclaim_ino = ino;
	}
	return ino_put(r->op, mb, &in);
}

/*
 * Records in dir *in, just removed while open, the nodes that have it
 * open, as readers (cluster mode), so that a coordinator that takes over
 * keeps it (mds_ino_busy) until those nodes close it (RELEASE with
 * CSVFS_OPEN_LAST drops each hold) or are known dead (the orphan sweep).
 */
static void hold_open_dir(struct mds_req *r, uint64_t ino,
			  struct csvfs_inode *in)
{
	struct mds_open *o = mds_open_find(r->m, ino, 0);
	struct lockd_state s;
	uint32_t i, owner;

	if (r->m->o.standalone || !o)
		return;
	mds_own_decode(in, &s);
	for (i = 0; i < o->nnodes; i++)
		if (o->per[i].nopen &&
		    lockd_acquire(&s, o->per[i].node, LOCKD_READ,
				  mds_now_ns(), &owner) < 0)
			log_ino_at(LOG_WARNING, ino, "removed directory open "
				   "on node %u: its hold is not recorded "
				   "(kept until a coordinator change only)",
				   o->per[i].node);
	mds_own_encode(&s, in);
}

/*
 * Frees an empty directory that has just been taken out of its parent.
 * One still open on a node (opendir) stays, empty and without links, on
 * the orphan list until its last close (h_release, mds_trim), so its
 * handles keep working (fstat; readdir lists nothing) and its number is
 * not handed to a new inode meanwhile.
 */
static int drop_dir(struct mds_req *r, uint64_t ino)
{
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc;

	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	r->alloc_touched = 1;
	if (mds_ino_busy(r->m, ino, &in)) {
		in.nlink = 0;
		ino_touch(&in, 0);
		hold_open_dir(r, ino, &in);
		rc = mds_orphan_add(r, ino, &in);
		return rc ? rc : ino_put(r->op, mb, &in);
	}
	rc = dir_destroy(r->op, r->m->a, &in);
	if (!rc)
		rc = ino_put(r->op, mb, &in);
	if (!rc)
		rc = ino_free(r->op, r->m->a, ino);
	mds_open_drop(r->m, ino);
	return rc;
}

static int h_remove(struct mds_req *r, int rmdir)
{
	uint64_t parent = msg_get_u64(&r->in), ino;
	char name[CSVFS_NAME_MAX + 2];
	struct csvfs_inode dir, in;
	struct mbuf *dmb;
	size_t len;
	uint8_t type;
	int rc, empty;

	rc = read_name(r, name, &len);
	if (msg_rd_end(&r->in))
		return len > CSVFS_NAME_MAX ? -ENAMETOOLONG : -EPROTO;
	if (rc)
		return rc;
	rc = get_dir(r, parent, &dir, &dmb);
	if (!rc)
		rc = dir_lookup(r->op, &dir, r->m->sb.hash_seed, name, len,
				&ino, &type);
	if (!rc)
		rc = mds_get(r, ino, &in, NULL);
	if (rc)
		return rc;
	if (rmdir && !S_ISDIR(in.mode))
		return -ENOTDIR;
	if (!rmdir && S_ISDIR(in.mode))
		return -EISDIR;
	if (rmdir) {
		rc = dir_is_empty(r->op, &in, &empty);
		if (rc)
			return rc;
		if (!empty)
			return -ENOTEMPTY;
	}
	r->alloc_touched = 1;
	rc = dir_remove(r->op, r->m->a, &dir, r->m->sb.hash_seed, name, len,
			&ino);
	if (rc)
		return rc;
	if (rmdir)
		dir.nlink--;
	ino_touch(&dir, 1);
	rc = ino_put(r->op, dmb, &dir);
	if (rc)
		return rc;
	return rmdir ? drop_dir(r, ino) : drop_link(r, ino);
}

int mds_h_unlink(struct mds_req *r)
{
	return h_remove(r, 0);
}

int mds_h_rmdir(struct mds_req *r)
{
	return h_remove(r, 1);
}

/* Whether dir ino is anc or lies below it (walks parent pointers). */
static int is_below(struct mds_req *r, uint64_t ino, uint64_t anc, int *below)
{
	struct csvfs_inode in;
	unsigned depth = 0;
	int rc;

	*below = 0;
	while (depth++ < 100000) {
		if (ino == anc) {
			*below = 1;
			return 0;
		}
		if (ino == r->m->sb.root_ino)
			return 0;
		rc = mds_get(r, ino, &in, NULL);
		if (rc)
			return rc;
		ino = in.parent;
	}
	return -CSVFS_ECORRUPT;
}

/* Points a moved directory's ".." at its new parent. */
static int set_parent(struct mds_req *r, uint64_t ino, uint64_t parent)
{
	struct csvfs_inode in;
	struct mbuf *mb;
	int rc = mds_get(r, ino, &in, &mb);

	if (rc)
		return rc;
	in.parent = parent;
	ino_touch(&in, 0);
	return ino_put(r->op, mb, &in);
}

/* Adds delta to a directory's link count (in the decoded copy given). */
static int rename_exchange(struct mds_req *r, uint64_t p, struct csvfs_inode *pd,
			   const char *n, size_t nl, uint64_t sino,
			   uint8_t stype, uint64_t np, struct csvfs_inode *npd,
			   const char *nn, size_t nnl, uint64_t dino,
			   uint8_t dtype)
{
	uint64_t seed = r->m->sb.hash_seed;
	int rc;

	rc = dir_replace(r->op, pd, seed, n, nl, dino, dtype);
	if (!rc)
		rc = dir_replace(r->op, npd, seed, nn, nnl, sino, stype);
	if (rc || p == np)
		return rc;
	if (stype == CSVFS_DT_DIR) {
		rc = set_parent(r, sino, np);
		pd->nlink--;
		npd->nlink++;
	}
	if (!rc && dtype == CSVFS_DT_DIR) {
		rc = set_parent(r, dino, p);
		npd->nlink--;
		pd->nlink++;
	}
	return rc;
}

int mds_h_rename(struct mds_req *r)
{
	uint64_t p = msg_get_u64(&r->in), np, sino, dino = 0;
	char n[CSVFS_NAME_MAX + 2], nn[CSVFS_NAME_MAX + 2];
	struct csvfs_inode pd, npd, *npp;
	struct mbuf *pmb, *npmb;
	uint64_t seed = r->m->sb.hash_seed;
	size_t nl, nnl;
	uint32_t flags;
	uint8_t stype, dtype = 0;
	uint32_t wuid = 0, wgid = 0;
	size_t out_len;
	int rc, rc2, below, empty;

	rc = read_name(r, n, &nl);
	np = msg_get_u64(&r->in);
	rc2 = read_name(r, nn, &nnl);
	flags = msg_get_u32(&r->in);
	if (!r->in.err && (flags & CSVFS_RENAME_WHITEOUT)) {
		wuid = msg_get_u32(&r->in);
		wgid = msg_get_u32(&r->in);
	}
	if (msg_rd_end(&r->in))
		return nl > CSVFS_NAME_MAX || nnl > CSVFS_NAME_MAX ?
			-ENAMETOOLONG : -EPROTO;
	if (rc || rc2)
		return rc ? rc : rc2;
	if (flags & ~(uint32_t)(CSVFS_RENAME_NOREPLACE | CSVFS_RENAME_EXCHANGE |
				CSVFS_RENAME_WHITEOUT) ||
	    ((flags & CSVFS_RENAME_EXCHANGE) &&
	     (flags & (CSVFS_RENAME_NOREPLACE | CSVFS_RENAME_WHITEOUT))))
		return -EINVAL;
	rc = get_dir(r, p, &pd, &pmb);
	if (rc)
		return rc;
	npp = &pd;
	npmb = pmb;
	if (np != p) {
		rc = get_dir(r, np, &npd, &npmb);
		if (rc)
			return rc;
		npp = &npd;
	}
	rc = dir_lookup(r->op, &pd, seed, n, nl, &sino, &stype);
	if (rc)
		return rc;
	rc = dir_lookup(r->op, npp, seed, nn, nnl, &dino, &dtype);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT)
		dino = 0;
	if (p == np && nl == nnl && memcmp(n, nn, nl) == 0)
		return dino ? 0 : -ENOENT;
	if ((flags & CSVFS_RENAME_EXCHANGE) && !dino)
		return -ENOENT;
	if ((flags & CSVFS_RENAME_NOREPLACE) && dino)
		return -EEXIST;
	/* Neither may move into its own subtree. */
	if (stype == CSVFS_DT_DIR) {
		rc = is_below(r, np, sino, &below);
		if (rc)
			return rc;
		if (below)
			return -EINVAL;
	}
	if ((flags & CSVFS_RENAME_EXCHANGE) && dtype == CSVFS_DT_DIR) {
		rc = is_below(r, p, dino, &below);
		if (rc)
			return rc;
		if (below)
			return -EINVAL;
	}
	r->alloc_touched = 1;
	if (flags & CSVFS_RENAME_EXCHANGE) {
		rc = rename_exchange(r, p, &pd, n, nl, sino, stype, np, npp,
				     nn, nnl, dino, dtype);
		goto stamp;
	}
	if (dino == sino)	/* two links of one file: nothing to do */
		return 0;
	if (dino) {
		struct csvfs_inode din;

		if (stype == CSVFS_DT_DIR && dtype != CSVFS_DT_DIR)
			return -ENOTDIR;
		if (stype != CSVFS_DT_DIR && dtype == CSVFS_DT_DIR)
			return -EISDIR;
		if (dtype == CSVFS_DT_DIR) {
			rc = mds_get(r, dino, &din, NULL);
			if (!rc)
				rc = dir_is_empty(r->op, &din, &empty);
			if (rc)
				return rc;
			if (!empty)
				return -ENOTEMPTY;
		}
		rc = dir_replace(r->op, npp, seed, nn, nnl, sino, stype);
		if (!rc && dtype == CSVFS_DT_DIR) {
			npp->nlink--;
			rc = drop_dir(r, dino);
		} else if (!rc) {
			rc = drop_link(r, dino);
		}
	} else {
		if (stype == CSVFS_DT_DIR && np != p &&
		    npp->nlink >= LINK_MAX_COUNT)
			return -EMLINK;
		rc = dir_add(r->op, r->m->a, np, npp, seed, nn, nnl, sino,
			     stype);
	}
	if (!rc)
		rc = dir_remove(r->op, r->m->a, &pd, seed, n, nl, &sino);
	if (!rc && stype == CSVFS_DT_DIR && np != p) {
		pd.nlink--;
		npp->nlink++;
		rc = set_parent(r, sino, np);
	} else if (!rc) {
		struct csvfs_inode sin;
		struct mbuf *smb;

		rc = mds_get(r, sino, &sin, &smb);
		if (!rc) {
			ino_touch(&sin, 0);
			rc = ino_put(r->op, smb, &sin);
		}
	}
stamp:
	if (rc)
		return rc;
	ino_touch(&pd, 1);
	rc = ino_put(r->op, pmb, &pd);
	if (!rc && np != p) {
		ino_touch(npp, 1);
		rc = ino_put(r->op, npmb, npp);
	}
	if (rc || !(flags & CSVFS_RENAME_WHITEOUT))
		return rc;
	/*
	 * The whiteout (overlayfs): a char device 0/0 at the old name, in
	 * the same operation, so nobody sees the name free in between.
	 * RENAME replies nothing: drop make_node's attributes.
	 */
	out_len = r->out.len;
	rc = make_node(r, p, n, nl, S_IFCHR, 0, wuid, wgid, NULL, 0, 0, 0);
	r->out.len = out_len;
	return rc;
}

int mds_h_link(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), np = msg_get_u64(&r->in);
	char nn[CSVFS_NAME_MAX + 2];
	struct csvfs_inode in, dir;
	struct mbuf *mb, *dmb;
	size_t nnl;
	int rc;

	rc = read_name(r, nn, &nnl);
	if (msg_rd_end(&r->in))
		return nnl > CSVFS_NAME_MAX ? -ENAMETOOLONG : -EPROTO;
	if (rc)
		return rc;
	rc = mds_get(r, ino, &in, &mb);
	if (rc)
		return rc;
	if (S_ISDIR(in.mode))
		return -EPERM;
	if (in.nlink >= LINK_MAX_COUNT)
		return -EMLINK;
	/* Only an O_TMPFILE file comes back from no link (its first). */
	if (in.nlink == 0 && !(in.flags & CSVFS_IFL_TMPFILE))
		return -ENOENT;
	rc = get_dir(r, np, &dir, &dmb);
	if (rc)
		return rc;
	if (in.nlink == 0) {
		rc = mds_orphan_del(r, ino, &in);
		if (rc)
			return rc;
		in.flags &= ~(uint32_t)CSVFS_IFL_TMPFILE;
	}
	r->alloc_touched = 1;
	rc = dir_add(r->op, r->m->a, np, &dir, r->m->sb.hash_seed, nn, nnl,
		     ino, ino_dtype(in.mode));
	if (rc)
		return rc;
	in.nlink++;
	ino_touch(&in, 0);
	ino_touch(&dir, 1);
	rc = ino_put(r->op, mb, &in);
	if (!rc)
		rc = ino_put(r->op, dmb, &dir);
	if (rc)
		return rc;
	mds_put_attr(r, ino, &in);
	return 0;
}

int mds_h_readlink(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	struct csvfs_inode in;
	int rc;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = mds_get(r, ino, &in, NULL);
	if (rc)
		return rc;
	if (!S_ISLNK(in.mode))
		return -EINVAL;
	if (in.size == 0 || in.size > CSVFS_SYMLINK_MAX ||
	    (!(in.flags & CSVFS_IFL_LONGLINK) &&
	     in.size > CSVFS_SYMLINK_INLINE_MAX))
		return -CSVFS_ECORRUPT;
	if (in.flags & CSVFS_IFL_LONGLINK) {
		char target[CSVFS_SYMLINK_MAX];

		rc = blob_load(r->op, od_get64(in.body), ino,
			       CSVFS_BLOB_SYMLINK, target, in.size);
		if (!rc)
			msg_put_str(&r->out, target, in.size);
		return rc;
	}
	msg_put_str(&r->out, (const char *)in.body, in.size);
	return 0;
}

struct rd_ctx {
	struct mds_req *r;
	uint32_t max, count, plus, max_entries;
	size_t count_off;
	int full;
};

static int put_dirent(struct rd_ctx *c, const char *name, size_t len,
		      uint64_t ino, uint8_t type, uint64_t next)
{
	struct mds_req *r = c->r;
	size_t need = 8 + 8 + 1 + 2 + len + (c->plus ? sizeof(struct csvfs_attr)
							  : 0);
	struct csvfs_inode in;
	int rc;

	if (c->count && (r->out.len + need > c->max ||
			 c->count >= c->max_entries)) {
		c->full = 1;
		return 1;
	}
	msg_put_u64(&r->out, ino);
	msg_put_u64(&r->out, next);
	msg_put_u8(&r->out, type);
	msg_put_str(&r->out, name, len);
	if (c->plus) {
		rc = mds_get(r, ino, &in, NULL);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			struct csvfs_attr none;

			/*
			 * A damaged inode must not hide its siblings: list the
			 * name without attributes (ino 0); a lookup of it then
			 * reports the damage for that file alone.
			 */
			log_ino_at(LOG_ERR, ino, "directory entry '%.*s': %s "
				   "(run fsck.csvfs)", (int)len, name,
				   csvfs_strerror(rc));
			memset(&none, 0, sizeof(none));
			msg_put_attr(&r->out, &none);
		} else {
			/* The node may cache these attributes too. */
			rc = mds_interest(r, ino);
			if (rc)
				return rc;
			mds_put_attr(r, ino, &in);
		}
	}
	c->count++;
	return 0;
}

static int rd_cb(void *ctx, const char *name, size_t len, uint64_t ino,
		 uint8_t type, uint64_t next)
{
	return put_dirent(ctx, name, len, ino, type, next);
}

int mds_h_readdir(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in), cookie = msg_get_u64(&r->in);
	struct rd_ctx c = { .r = r };
	struct csvfs_inode dir;
	int rc;

	c.max = msg_get_u32(&r->in);
	c.plus = msg_get_u32(&r->in);
	c.max_entries = msg_get_u32(&r->in);
	if (msg_rd_end(&r->in) || c.max_entries == 0)
		return -EPROTO;
	if (c.max < 512)
		c.max = 512;
	if (c.max > CSVFS_MSG_MAX_PAYLOAD / 2)
		c.max = CSVFS_MSG_MAX_PAYLOAD / 2;
	rc = mds_get(r, ino, &dir, NULL);
	if (!rc && !S_ISDIR(dir.mode))
		rc = -ENOTDIR;
	/* The node may cache the listing: any entry change stamps the
	 * directory's inode, which sends it an INVAL (mds_inval.c). */
	if (!rc)
		rc = mds_interest(r, ino);
	if (rc)
		return rc;
	/* count and eof are patched in at the end. */
	msg_put_u32(&r->out, 0);
	msg_put_u32(&r->out, 0);
	/* Removed while open: its handles list nothing more. */
	if (dir.nlink == 0) {
		od_put32(r->out.p + 4, 1);
		return r->out.err;
	}
	if (cookie == 0)
		rc = put_dirent(&c, ".", 1, ino, CSVFS_DT_DIR, 1);
	if (!rc && cookie <= 1 && !c.full)
		rc = put_dirent(&c, "..", 2, dir.parent, CSVFS_DT_DIR, 2);
	if (!rc && !c.full)
		rc = dir_iterate(r->op, &dir, cookie < DIR_COOKIE_FIRST ?
				 DIR_COOKIE_FIRST : cookie, rd_cb, &c);
	if (rc < 0)
		return rc;
	if (r->out.err)
		return r->out.err;
	od_put32(r->out.p, c.count);
	od_put32(r->out.p + 4, c.full ? 0 : 1);
	return 0;
}

/* Only the user. and trusted. namespaces are stored. */
static int xname_ok(const char *name)
{
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8))
		return -EOPNOTSUPP;
	return 0;
}

int mds_h_getxattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	char name[CSVFS_NAME_MAX + 2];
	struct csvfs_inode in;
	struct ino_xattrs x;
	uint8_t *buf;
	int rc, n;

	msg_get_str(&r->in, name, sizeof(name));
	if (msg_rd_end(&r->in))
		return -ERANGE;
	rc = xname_ok(name);
	if (!rc)
		rc = mds_get(r, ino, &in, NULL);
	if (!rc)
		rc = ino_xattr_load(r->op, ino, &in, 0, &x);
	if (rc)
		return rc;
	n = ino_xattr_get(&x, name, NULL, 0);
	buf = n > 0 ? malloc((size_t)n) : NULL;
	if (n > 0 && !buf)
		n = -ENOMEM;
	if (n > 0)
		n = ino_xattr_get(&x, name, buf, (size_t)n);
	if (n >= 0)
		msg_put_bytes(&r->out, buf, (size_t)n);
	free(buf);
	ino_xattr_done(&x);
	return n < 0 ? n : 0;
}

/* One change of ino's xattr records: set (value) or remove (!value). */
static int xattr_change(struct mds_req *r, uint64_t ino, const char *name,
			const uint8_t *val, uint32_t vlen, uint32_t flags,
			int remove)
{
	struct csvfs_inode in;
	struct ino_xattrs x;
	struct mbuf *mb;
	int rc;

	rc = mds_get(r, ino, &in, &mb);
	if (!rc && !remove && vlen > CSVFS_XATTR_VALUE_MAX)
		rc = -E2BIG;
	/* The xattr area holds a tail or inline data (include/csvfs/
	 * ondisk.h): out first. */
	if (!rc && !remove)
		rc = mds_sub_untail(r, &in);
	if (!rc && !remove && (in.flags & CSVFS_IFL_INLINE) &&
	    in.size > CSVFS_INLINE_MAX)
		rc = mds_sub_eligible(r->m, &in, in.size) ?
		     mds_sub_alloc(r, &in, in.size) :
		     mds_uninline(r, ino, &in);
	if (!rc)
		rc = ino_xattr_load(r->op, ino, &in, 1, &x);
	if (rc)
		return rc;
	rc = remove ? ino_xattr_remove(&x, name) :
		      ino_xattr_set(&x, name, val, vlen, (int)flags);
	if (!rc) {
		r->alloc_touched = 1;
		rc = ino_xattr_store(r->op, r->m->a, ino, &in, &x);
	}
	ino_xattr_done(&x);
	if (rc)
		return rc;
	ino_touch(&in, 0);
	return ino_put(r->op, mb, &in);
}

int mds_h_setxattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	char name[CSVFS_NAME_MAX + 2];
	const uint8_t *val;
	uint32_t vlen, flags;
	int rc;

	msg_get_str(&r->in, name, sizeof(name));
	vlen = msg_get_bytes(&r->in, &val);
	flags = msg_get_u32(&r->in);
	if (msg_rd_end(&r->in))
		return -ERANGE;
	rc = xname_ok(name);
	return rc ? rc : xattr_change(r, ino, name, val, vlen, flags, 0);
}

int mds_h_listxattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	struct csvfs_inode in;
	struct ino_xattrs x;
	char *buf = NULL;
	int rc, n;

	if (msg_rd_end(&r->in))
		return -EPROTO;
	rc = mds_get(r, ino, &in, NULL);
	if (!rc)
		rc = ino_xattr_load(r->op, ino, &in, 0, &x);
	if (rc)
		return rc;
	n = ino_xattr_list(&x, NULL, 0);
	if (n > 0) {
		buf = malloc((size_t)n);
		n = buf ? ino_xattr_list(&x, buf, (size_t)n) : -ENOMEM;
	}
	if (n >= 0)
		msg_put_bytes(&r->out, buf, (size_t)n);
	free(buf);
	ino_xattr_done(&x);
	return n < 0 ? n : 0;
}

int mds_h_removexattr(struct mds_req *r)
{
	uint64_t ino = msg_get_u64(&r->in);
	char name[CSVFS_NAME_MAX + 2];
	int rc;

	msg_get_str(&r->in, name, sizeof(name));
	if (msg_rd_end(&r->in))
		return -ERANGE;
	rc = xname_ok(name);
	return rc ? rc : xattr_change(r, ino, name, NULL, 0, 0, 1);
}

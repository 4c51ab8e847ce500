/*
 * fsops: low-level FUSE operations.
 *
 * Inode numbers. A csvfs inode number is the mblk of the inode block; the
 * kernel insists that the root is FUSE_ROOT_ID (1). mblk 1 is the volume
 * state block, never an inode, so the two spaces swap one value: FUSE 1 is
 * the volume's root_ino and root_ino is shown as 1. Every number crossing
 * the boundary goes through fsops_to_ino() / fsops_to_fuse() (fsops_i.h).
 *
 * Lookup counts. The kernel holds a reference per successful entry reply
 * (lookup, create, mknod, mkdir, symlink, link, each readdirplus entry)
 * and gives them back in forget. A table counts them per inode; when an
 * inode's count reaches 0 the coordinator is told (mdc_forget), which lets
 * it reclaim an unlinked inode and stop sending invalidations. A reply the
 * kernel did not take (interrupted request) is counted back at once.
 *
 * Attributes. Writes are reported to the coordinator in batches (data.c),
 * so every attribute reply goes through data_fix_attr: the kernel must
 * never see a size smaller than what it has written, or it would truncate
 * its page cache. getattr, setattr, lseek and size-changing operations
 * flush the inode's pending state first, so the coordinator answers them
 * with the truth.
 *
 * Errors: 0 or -errno (or -CSVFS_E*) inside; csvfs_errno() maps them at the
 * one place that replies (fsops_reply_err).
 *
 * Threads: every operation runs on a FUSE worker thread (several at once);
 * the only shared state here is the lookup table, under lookup_lock.
 * Files and directories are in fsops_file.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "fs/data.h"
#include "fs/fsops.h"
#include "fs/fsops_i.h"
#include "fs/itab.h"
#include "fs/lkc.h"
#include "lockd/lockd.h"
#include "net/mdc.h"

#define FSOPS_MAX_WRITE		(1u << 20)
#define FSOPS_XATTR_NAME_MAX	255
#define FSOPS_BLKSIZE		65536	/* st_blksize */

struct lookup_ent {
	struct itab_node node;
	uint64_t n;
};

void fsops_reply_err(fuse_req_t req, int rc)
{
	int err = csvfs_errno(rc);

	/* An I/O error the application sees is never silent. */
	if (err == -EIO)
		log_warn("replying an I/O error to pid %d: %s",
			 (int)fuse_req_ctx(req)->pid, csvfs_strerror(rc));
	fuse_reply_err(req, err < 0 ? -err : err);
}

int fsops_name_check(const char *name)
{
	return strlen(name) > CSVFS_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* ---- lookup counts --------------------------------------------------------- */

int fsops_lookup_inc(struct fsops_ctx *c, uint64_t ino)
{
	struct lookup_ent *e;
	int rc = 0;

	if (ino == c->root_ino)
		return 0;
	pthread_mutex_lock(&c->lookup_lock);
	e = (struct lookup_ent *)itab_get(&c->lookups, ino);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			rc = -ENOMEM;
			goto out;
		}
		e->node.ino = ino;
		rc = itab_put(&c->lookups, &e->node);
		if (rc) {
			free(e);
			goto out;
		}
	}
	e->n++;
out:
	pthread_mutex_unlock(&c->lookup_lock);
	return rc;
}

void fsops_lookup_dec(struct fsops_ctx *c, uint64_t ino, uint64_t n)
{
	struct lookup_ent *e;
	int last = 0, rc;

	if (ino == c->root_ino)
		return;
	pthread_mutex_lock(&c->lookup_lock);
	e = (struct lookup_ent *)itab_get(&c->lookups, ino);
	if (e) {
		e->n = n < e->n ? e->n - n : 0;
		if (!e->n) {
			itab_del(&c->lookups, &e->node);
			free(e);
			last = 1;
		}
	}
	pthread_mutex_unlock(&c->lookup_lock);
	if (!e) {
		log_debug("ino %llu: forget of an inode never looked up",
			  (unsigned long long)ino);
		return;
	}
	if (!last)
		return;
	rc = mdc_forget(c->mdc, ino);
	if (rc)
		log_ino(ino, "telling the coordinator about the last forget "
			"failed: %s", csvfs_strerror(rc));
}

/* ---- attributes and entries ---------------------------------------------- */

static void fill_stat(struct fsops_ctx *c, struct csvfs_attr *a,
		      struct stat *st)
{
	data_fix_attr(c->data, a);
	memset(st, 0, sizeof(*st));
	st->st_ino = fsops_to_fuse(c, a->ino);
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	/*
	 * Not the large block: stdio and python size their buffers by it
	 * (a 100-byte random read refills a whole st_blksize through direct
	 * I/O) and cp uses max(st_blksize, 128 KiB). 64 KiB: README
	 * "st_blksize" has the measurement.
	 */
	st->st_blksize = FSOPS_BLKSIZE;
	st->st_blocks = (blkcnt_t)(a->alloc_bytes / 512);
	/* Inline data takes no block; tar and cp take 0 blocks for a hole. */
	if (!st->st_blocks && (a->flags & CSVFS_IFL_INLINE))
		st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_atim.tv_sec = a->atime_sec;
	st->st_atim.tv_nsec = a->atime_nsec;
	st->st_mtim.tv_sec = a->mtime_sec;
	st->st_mtim.tv_nsec = a->mtime_nsec;
	st->st_ctim.tv_sec = a->ctime_sec;
	st->st_ctim.tv_nsec = a->ctime_nsec;
}

/* -EIO when the coordinator returns an impossible ino. */
int fsops_fill_entry(struct fsops_ctx *c, struct csvfs_attr *a,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (!a->ino || (a->ino == FUSE_ROOT_ID && a->ino != c->root_ino)) {
		log_ino(a->ino, "coordinator returned an invalid inode number");
		return -EIO;
	}
	e->ino = fsops_to_fuse(c, a->ino);
	e->generation = a->generation;
	e->attr_timeout = c->attr_timeout;
	e->entry_timeout = c->entry_timeout;
	fill_stat(c, a, &e->attr);
	return 0;
}

/* Replies with an entry and counts the kernel's new reference. */
static void reply_entry(fuse_req_t req, struct csvfs_attr *a)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct fuse_entry_param e;
	int rc;

	rc = fsops_fill_entry(c, a, &e);
	if (!rc)
		rc = fsops_lookup_inc(c, a->ino);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	if (fuse_reply_entry(req, &e))
		fsops_lookup_dec(c, a->ino, 1);
}

static void reply_attr(fuse_req_t req, struct csvfs_attr *a)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct stat st;

	fill_stat(c, a, &st);
	fuse_reply_attr(req, &st, c->attr_timeout);
}

/* ---- session --------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fsops_ctx *c = userdata;
	unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_ASYNC_DIO | FUSE_CAP_AUTO_INVAL_DATA |
			FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_POSIX_LOCKS |
			FUSE_CAP_FLOCK_LOCKS;
	/*
	 * No writeback cache (the kernel would own size and mtime, which the
	 * coordinator must own). No HANDLE_KILLPRIV: the kernel clears
	 * setuid/setgid on write and chown itself, through setattr. POSIX
	 * (fcntl, OFD) and flock locks go to the coordinator (fsops_lock.c).
	 * No ATOMIC_O_TRUNC: the kernel truncates with its own setattr (size
	 * 0, mtime now) before the open (the coordinator ignores
	 * CSVFS_OPEN_TRUNC; file_open copes if O_TRUNC ever arrives).
	 */
	unsigned never = FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_HANDLE_KILLPRIV |
			 FUSE_CAP_ATOMIC_O_TRUNC;

	conn->want |= want & conn->capable;
	conn->want &= ~never;
	/*
	 * libfuse 3.14 reads requests into a buffer of FUSE_MAX_MAX_PAGES
	 * (256) pages plus header, clamps max_write to that, and derives
	 * the kernel's max_pages from max_write; so 1 MiB here is what makes
	 * 1 MiB writes (and direct reads) arrive in one request.
	 */
	if (conn->max_write > c->max_write || !conn->max_write)
		conn->max_write = c->max_write;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
	log_info("fuse protocol %u.%u, max_write %u, capabilities 0x%x",
		 conn->proto_major, conn->proto_minor, conn->max_write,
		 conn->want);
}

static void op_destroy(void *userdata)
{
	struct fsops_ctx *c = userdata;

	data_flush_all(c->data);
}

/* ---- names ------------------------------------------------------------------ */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct fuse_entry_param e;
	struct csvfs_attr a;
	int rc;

	rc = fsops_name_check(name);
	if (!rc)
		rc = mdc_lookup(c->mdc, fsops_to_ino(c, parent), name, &a);
	if (rc == -ENOENT && c->negative_timeout > 0) {
		memset(&e, 0, sizeof(e));
		e.entry_timeout = c->negative_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_entry(req, &a);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	fsops_lookup_dec(c, fsops_to_ino(c, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		fsops_lookup_dec(c, fsops_to_ino(c, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	struct csvfs_attr a;
	int rc;

	rc = fsops_name_check(name);
	if (!rc)
		rc = mdc_mknod(c->mdc, fsops_to_ino(c, parent), name, mode, rdev,
			       who->uid, who->gid, &a);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_entry(req, &a);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	struct csvfs_attr a;
	int rc;

	rc = fsops_name_check(name);
	if (!rc)
		rc = mdc_mkdir(c->mdc, fsops_to_ino(c, parent), name,
			       S_IFDIR | (mode & 07777), who->uid, who->gid,
			       &a);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_entry(req, &a);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	struct csvfs_attr a;
	int rc;

	rc = fsops_name_check(name);
	if (!rc && strlen(link) > CSVFS_SYMLINK_MAX)
		rc = -ENAMETOOLONG;
	if (!rc)
		rc = mdc_symlink(c->mdc, fsops_to_ino(c, parent), name, link,
				 who->uid, who->gid, &a);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_entry(req, &a);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct csvfs_attr a;
	int rc;

	rc = fsops_name_check(newname);
	if (!rc)
		rc = mdc_link(c->mdc, fsops_to_ino(c, ino), fsops_to_ino(c, newparent),
			      newname, &a);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_entry(req, &a);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc;

	rc = fsops_name_check(name);
	if (!rc)
		rc = mdc_unlink(c->mdc, fsops_to_ino(c, parent), name);
	fsops_reply_err(req, rc);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc;

	rc = fsops_name_check(name);
	if (!rc)
		rc = mdc_rmdir(c->mdc, fsops_to_ino(c, parent), name);
	fsops_reply_err(req, rc);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint32_t f = 0;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				RENAME_WHITEOUT) ||
	    ((flags & RENAME_EXCHANGE) &&
	     (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))) {
		fsops_reply_err(req, -EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		f |= CSVFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		f |= CSVFS_RENAME_EXCHANGE;
	if (flags & RENAME_WHITEOUT)
		f |= CSVFS_RENAME_WHITEOUT;
	rc = fsops_name_check(name);
	if (!rc)
		rc = fsops_name_check(newname);
	if (!rc)
		rc = mdc_rename_wo(c->mdc, fsops_to_ino(c, parent), name,
				   fsops_to_ino(c, newparent), newname, f,
				   fuse_req_ctx(req)->uid,
				   fuse_req_ctx(req)->gid);
	fsops_reply_err(req, rc);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	char target[CSVFS_SYMLINK_MAX + 1];
	int rc;

	rc = mdc_readlink(c->mdc, fsops_to_ino(c, ino), target, sizeof(target));
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	target[sizeof(target) - 1] = '\0';
	fuse_reply_readlink(req, target);
}

/* ---- attributes -------------------------------------------------------------- */

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct csvfs_attr a;
	int rc;

	(void)fi;
	rc = data_flush_ino(c->data, fsops_to_ino(c, ino));
	if (!rc)
		rc = mdc_getattr(c->mdc, fsops_to_ino(c, ino), &a);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	reply_attr(req, &a);
}

static void op_setattr(fuse_req_t req, fuse_ino_t fino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint64_t ino = fsops_to_ino(c, fino);
	struct mdc_setattr sa;
	struct csvfs_attr a;
	int rc;

	(void)fi;
	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= CSVFS_SA_MODE;
		sa.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= CSVFS_SA_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= CSVFS_SA_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fsops_reply_err(req, -EINVAL);
			return;
		}
		sa.valid |= CSVFS_SA_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= CSVFS_SA_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= CSVFS_SA_ATIME;
		sa.atime_sec = attr->st_atim.tv_sec;
		sa.atime_nsec = (uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= CSVFS_SA_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= CSVFS_SA_MTIME;
		sa.mtime_sec = attr->st_mtim.tv_sec;
		sa.mtime_nsec = (uint32_t)attr->st_mtim.tv_nsec;
	}
	/*
	 * FATTR_KILL_SUIDGID needs FUSE_HANDLE_KILLPRIV_V2, which libfuse
	 * 3.14 cannot negotiate; mapped for when a newer libfuse passes it.
	 * FUSE_SET_ATTR_CTIME (writeback cache only) has no wire field.
	 */
	if (to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID))
		sa.valid |= CSVFS_SA_KILL_SUIDGID;

	/* Pending writes first: a later report must not undo a truncate. */
	rc = data_flush_ino(c->data, ino);
	if (rc)
		goto out;
	if (sa.valid)
		rc = mdc_setattr(c->mdc, ino, &sa, &a);
	else
		rc = mdc_getattr(c->mdc, ino, &a);
	if (rc)
		goto out;
	if (sa.valid & CSVFS_SA_SIZE)
		data_attr_changed(c->data, ino, &a);
	data_note_mode(c->data, ino, a.mode);
out:
	if (rc)
		fsops_reply_err(req, rc);
	else
		reply_attr(req, &a);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct mdc_statfs sf;
	struct statvfs st;
	int rc;

	(void)ino;
	rc = mdc_statfs(c->mdc, &sf);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.f_bsize = sf.bsize;
	st.f_frsize = sf.bsize;
	st.f_blocks = sf.blocks;
	st.f_bfree = sf.bfree;
	st.f_bavail = sf.bavail;
	st.f_files = sf.files;
	st.f_ffree = sf.ffree;
	st.f_favail = sf.ffree;
	st.f_namemax = CSVFS_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

/* ---- extended attributes ------------------------------------------------------ */

int fsops_xa_reply(const char *val, int n, size_t cap, char *buf,
		   size_t size)
{
	if (n < 0 || (size_t)n >= cap)
		return -ERANGE;
	if (size == 0)
		return n;
	if ((size_t)n > size)
		return -ERANGE;
	memcpy(buf, val, (size_t)n);
	return n;
}

/*
 * Only "user." and "trusted." are stored. "security." and "system." (ACLs,
 * capabilities, SELinux labels) fail at once with EOPNOTSUPP, so the
 * kernel's and tools' probes cost no coordinator round trip.
 */
static int xattr_name_check(const char *name)
{
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8))
		return -EOPNOTSUPP;
	if (strlen(name) > FSOPS_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* Whether name on ino is a control xattr of this daemon. */
static int is_ctl(const struct fsops_ctx *c, fuse_ino_t ino, const char *name)
{
	return ino == FUSE_ROOT_ID && c->ctl_get &&
	       !strncmp(name, FSOPS_CTL_PREFIX, strlen(FSOPS_CTL_PREFIX));
}

/* Whether name is a file ownership xattr handled here (cluster mode). */
static int is_own_xa(const struct fsops_ctx *c, const char *name)
{
	return c->shared && (!strcmp(name, FSOPS_XA_OWNER) ||
			     !strcmp(name, FSOPS_XA_HANDOFF) ||
			     !strcmp(name, FSOPS_XA_MULTIWRITER) ||
			     !strcmp(name, FSOPS_XA_PINNED) ||
			     !strcmp(name, FSOPS_XA_STRICT));
}

/* Parses a decimal node id 1..UINT32_MAX from [p, p+len). */
static int parse_node(const char *p, size_t len, uint32_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int own_xa_set(struct fsops_ctx *c, uint64_t ino, const char *name,
		      const char *value, size_t size)
{
	struct csvfs_attr a;
	uint32_t from = 0, to = 0, flag;
	const char *colon;
	int rc;

	if (!strcmp(name, FSOPS_XA_OWNER))
		return -EPERM;
	if (!strcmp(name, FSOPS_XA_HANDOFF)) {
		colon = memchr(value, ':', size);
		if (colon) {
			rc = parse_node(value, (size_t)(colon - value), &from);
			if (!rc)
				rc = parse_node(colon + 1, size - (size_t)
						(colon - value) - 1, &to);
		} else {
			rc = parse_node(value, size, &to);
			if (!rc)
				rc = mdc_getattr(c->mdc, ino, &a);
			if (!rc)
				from = a.own_mode == CSVFS_OWN_WRITER ?
				       a.own_node : 0;
		}
		if (rc)
			return rc;
		/* Our own dirty data of the file first: cheap, and the
		 * recall then finds nothing left to report. */
		if (from == c->node_id)
			data_flush_ino(c->data, ino);
		rc = mdc_handoff(c->mdc, ino, from, to, &a);
		if (rc)
			log_ino(ino, "handoff from node %u to node %u failed: %s",
				from, to, csvfs_strerror(rc));
		return rc;
	}
	flag = !strcmp(name, FSOPS_XA_MULTIWRITER) ? CSVFS_IFL_MULTIWRITER :
	       !strcmp(name, FSOPS_XA_STRICT) ? CSVFS_IFL_STRICT :
						CSVFS_IFL_PINNED;
	if (size != 1 || (value[0] != '0' && value[0] != '1'))
		return -EINVAL;
	return data_set_iflags(c->data, ino, value[0] == '1' ? flag : 0,
			       value[0] == '1' ? 0 : flag, &a);
}

static int own_xa_get(struct fsops_ctx *c, uint64_t ino, const char *name,
		      char *buf, size_t size)
{
	struct csvfs_attr a;
	char tmp[160];
	int n, rc;

	rc = mdc_getattr(c->mdc, ino, &a);
	if (rc)
		return rc;
	if (!strcmp(name, FSOPS_XA_OWNER))
		n = snprintf(tmp, sizeof(tmp), "node=%u mode=%s since_ns=%llu "
			     "epoch=%llu readers=%u", a.own_node,
			     lockd_mode_name(a.own_mode),
			     (unsigned long long)a.own_since_ns,
			     (unsigned long long)a.own_epoch, a.own_count);
	else if (!strcmp(name, FSOPS_XA_MULTIWRITER))
		n = snprintf(tmp, sizeof(tmp), "%d",
			     !!(a.flags & CSVFS_IFL_MULTIWRITER));
	else if (!strcmp(name, FSOPS_XA_PINNED))
		n = snprintf(tmp, sizeof(tmp), "%d",
			     !!(a.flags & CSVFS_IFL_PINNED));
	else if (!strcmp(name, FSOPS_XA_STRICT))
		n = snprintf(tmp, sizeof(tmp), "%d",
			     !!(a.flags & CSVFS_IFL_STRICT));
	else
		return -ENODATA;
	return fsops_xa_reply(tmp, n, sizeof(tmp), buf, size);
}

void fsops_set_session(struct fsops_ctx *c, struct fuse_session *se)
{
	c->se = se;
}

void fsops_inval(struct fsops_ctx *c, uint64_t ino)
{
	data_map_inval(c->data, ino);
}

void fsops_fence(struct fsops_ctx *c, int on)
{
	data_fence(c->data, on);
}

int fsops_recall(struct fsops_ctx *c, uint64_t ino)
{
	/* Page-cached handles first: the kernel writes back dirty shared
	 * mmap pages through us, which must happen before the revoke. */
	if (c->se)
		fuse_lowlevel_notify_inval_inode(c->se, fsops_to_fuse(c, ino),
						 0, 0);
	return data_recall(c->data, ino);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint32_t f = 0;
	int rc;

	if (is_own_xa(c, name)) {
		fsops_reply_err(req, own_xa_set(c, fsops_to_ino(c, ino), name,
						value, size));
		return;
	}
	if (fsops_is_space_xa(name)) {
		fsops_reply_err(req, fsops_space_xa_set(c, fsops_to_ino(c, ino),
							name, value, size));
		return;
	}
	if (is_ctl(c, ino, name)) {
		rc = c->ctl_set ? c->ctl_set(c->ctl_ctx, name, value, size) :
				  -EOPNOTSUPP;
		fsops_reply_err(req, rc);
		return;
	}
	rc = xattr_name_check(name);
	if (!rc && (flags & ~(XATTR_CREATE | XATTR_REPLACE)))
		rc = -EINVAL;
	if (flags & XATTR_CREATE)
		f |= CSVFS_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		f |= CSVFS_XATTR_REPLACE;
	if (!rc)
		rc = mdc_setxattr(c->mdc, fsops_to_ino(c, ino), name, value, size, f);
	fsops_reply_err(req, rc);
}

/*
 * Replies to getxattr/listxattr: rc is the value length or -errno; with
 * size 0 the caller only asked for the length. Frees buf.
 */
static void reply_xattr(fuse_req_t req, char *buf, size_t size, int rc)
{
	if (rc < 0)
		fsops_reply_err(req, rc);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)rc);
	else
		fuse_reply_xattr(req, (size_t)rc);
	free(buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	char *buf = NULL;
	int rc;

	rc = xattr_name_check(name);
	if (rc)
		goto out;
	if (size) {
		buf = malloc(size);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (is_own_xa(c, name))
		rc = own_xa_get(c, fsops_to_ino(c, ino), name, buf, size);
	else if (fsops_is_space_xa(name))
		rc = fsops_space_xa_get(c, fsops_to_ino(c, ino), name, buf,
					size);
	else if (!strcmp(name, FSOPS_XA_LOCKS))
		rc = fsops_locks_xa_get(c, fsops_to_ino(c, ino), buf, size);
	else if (is_ctl(c, ino, name))
		rc = c->ctl_get(c->ctl_ctx, name, buf, size);
	else
		rc = mdc_getxattr(c->mdc, fsops_to_ino(c, ino), name, buf,
				  size);
out:
	reply_xattr(req, buf, size, rc);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	char *buf = NULL;
	int rc;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = mdc_listxattr(c->mdc, fsops_to_ino(c, ino), buf, size);
out:
	reply_xattr(req, buf, size, rc);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc;

	rc = xattr_name_check(name);
	if (!rc)
		rc = mdc_removexattr(c->mdc, fsops_to_ino(c, ino), name);
	fsops_reply_err(req, rc);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static const struct fuse_lowlevel_ops fsops_ll = {
	.init		= op_init,
	.destroy	= op_destroy,
	.lookup		= op_lookup,
	.forget		= op_forget,
	.forget_multi	= op_forget_multi,
	.getattr	= op_getattr,
	.setattr	= op_setattr,
	.readlink	= op_readlink,
	.mknod		= op_mknod,
	.mkdir		= op_mkdir,
	.unlink		= op_unlink,
	.rmdir		= op_rmdir,
	.symlink	= op_symlink,
	.rename		= op_rename,
	.link		= op_link,
	.open		= fsops_open,
	.read		= fsops_read,
	.write		= fsops_write,
	.flush		= fsops_flush,
	.release	= fsops_release_file,
	.fsync		= fsops_fsync,
	.opendir	= fsops_opendir,
	.readdir	= fsops_readdir,
	.readdirplus	= fsops_readdirplus,
	.releasedir	= fsops_releasedir,
	.fsyncdir	= fsops_fsyncdir,
	.statfs		= op_statfs,
	.setxattr	= op_setxattr,
	.getxattr	= op_getxattr,
	.listxattr	= op_listxattr,
	.removexattr	= op_removexattr,
	.create		= fsops_create,
	.fallocate	= fsops_fallocate,
	.lseek		= fsops_lseek,
	.getlk		= fsops_getlk,
	.setlk		= fsops_setlk,
	.flock		= fsops_flock,
};

const struct fuse_lowlevel_ops *fsops_lowlevel_ops(void)
{
	return &fsops_ll;
}

int fsops_init(const struct fsops_opts *o, struct fsops_ctx **out)
{
	struct data_opts dopts;
	struct fsops_ctx *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mdc = o->mdc;
	c->root_ino = o->root_ino;
	c->block_shift = o->block_shift;
	c->entry_timeout = o->entry_timeout;
	c->attr_timeout = o->attr_timeout;
	c->negative_timeout = o->negative_timeout;
	c->max_write = o->max_write ? o->max_write : FSOPS_MAX_WRITE;
	c->shared = o->shared;
	c->node_id = o->node_id;
	c->ctl_get = o->ctl_get;
	c->ctl_set = o->ctl_set;
	c->ctl_ctx = o->ctl_ctx;
	memset(&dopts, 0, sizeof(dopts));
	dopts.shared = o->shared;
	dopts.node_id = o->node_id;
	dopts.mdc = o->mdc;
	dopts.dev = o->dev;
	dopts.block_shift = o->block_shift;
	dopts.max_io = c->max_write;
	rc = data_new(&dopts, &c->data);
	if (rc) {
		free(c);
		return rc;
	}
	/* Standalone: node 1, the coordinator's default (mds_opts). */
	rc = lkc_new(o->mdc, o->node_id ? o->node_id : 1, o->shared, &c->lkc);
	if (rc) {
		data_free(c->data);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->lookup_lock, NULL);
	pthread_mutex_init(&c->open_lock, NULL);
	itab_init(&c->lookups);
	itab_init(&c->opens);
	*out = c;
	return 0;
}

int fsops_release(struct fsops_ctx *c)
{
	return data_flush_all(c->data);
}

static int free_lookup(struct itab_node *n, void *arg)
{
	(void)arg;
	free(n);
	return 0;
}

void fsops_free(struct fsops_ctx *c)
{
	if (!c)
		return;
	lkc_free(c->lkc);
	data_free(c->data);
	itab_each(&c->lookups, free_lookup, NULL);
	itab_release(&c->lookups);
	itab_each(&c->opens, free_lookup, NULL);
	itab_release(&c->opens);
	pthread_mutex_destroy(&c->lookup_lock);
	pthread_mutex_destroy(&c->open_lock);
	free(c);
}

/*
 * fsops_file: the FUSE operations on open files and directories (see the
 * top of fsops.c for inode numbers, lookup counts and attributes).
 *
 * Files are served by the data path (fs/data.h); fi->fh holds a struct
 * fsops_fh of the open, which points to the struct data_file of the
 * inode, shared by all its handles. A file opened
 * with O_DIRECT gets FOPEN_DIRECT_IO; other opens use the page cache
 * (write-through: no writeback cache), invalidated at every open.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/ondisk.h"
#include "csvfs/proto.h"
#include "fs/data.h"
#include "fs/fsops_i.h"
#include "lockd/lockd.h"
#include "net/mdc.h"

/* Smallest readdirplus record (header + entry_out + attr), for sizing. */
#define FSOPS_DIRENTPLUS_MIN	152

/*
 * One open of a file. The data path's file is shared by the node's opens
 * of an inode; this wrapper is unique per open, so that fs/lkc.c can tell
 * which open file description took an OFD lock (dropped at its release).
 */
struct fsops_fh {
	struct data_file *df;
};

static struct data_file *fh_file(const struct fuse_file_info *fi)
{
	const struct fsops_fh *h = (const void *)(uintptr_t)fi->fh;

	return h ? h->df : NULL;
}

/* ---- files ------------------------------------------------------------------- */

static uint32_t open_flags(int flags)
{
	uint32_t f = 0;

	if ((flags & O_ACCMODE) != O_RDONLY)
		f |= CSVFS_OPEN_WRITE;
	if (flags & O_TRUNC)
		f |= CSVFS_OPEN_TRUNC;
	return f;
}

/*
 * Open handles of one ino on this node (cluster mode, under open_lock).
 *
 * Page cache on cluster nodes: a handle opened without O_DIRECT on the
 * node that is the file's single writer uses the page cache (and so
 * allows shared writable mmap), as on a standalone mount; every other
 * cluster handle is direct I/O. The cache stays right because no other
 * node writes while this one holds the write right, and a cached handle
 * keeps it: the node gives up write access (CSVFS_OPEN_LAST_WRITE) only
 * once its last read-write handle AND its last cached handle are closed.
 * Writes are write-through (no writeback cache) and shared-mmap pages
 * are written back at close, so a reader elsewhere sees them after the
 * writer's close; a handoff flushes and drops the cache (fsops_recall).
 */
struct open_ent {
	struct itab_node node;
	uint32_t n;			/* all handles */
	uint32_t nw;			/* of which read-write */
	uint32_t nc;			/* of which page-cached */
};

/*
 * Adds delta (+1 or -1) to ino's handle counts (write: a read-write
 * handle; cached: a page-cached one). Returns the CSVFS_OPEN_LAST* flags
 * a release must carry: LAST when the node's last handle closed,
 * LAST_WRITE when it no longer needs write access (no read-write and no
 * cached handle left) but read-only ones stay; 0 otherwise; -ENOMEM.
 */
static int opens_add(struct fsops_ctx *c, uint64_t ino, int delta, int write,
		     int cached)
{
	struct open_ent *e = (struct open_ent *)itab_get(&c->opens, ino);
	int had;

	if (!e) {
		if (delta < 0)
			return CSVFS_OPEN_LAST;
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->node.ino = ino;
		if (itab_put(&c->opens, &e->node)) {
			free(e);
			return -ENOMEM;
		}
	}
	if (delta > 0) {
		e->n++;
		e->nw += !!write;
		e->nc += !!cached;
		return 0;
	}
	had = e->nw || e->nc;
	if (e->n)
		e->n--;
	if (write && e->nw)
		e->nw--;
	if (cached && e->nc)
		e->nc--;
	if (e->n == 0) {
		itab_del(&c->opens, &e->node);
		free(e);
		return CSVFS_OPEN_LAST;
	}
	return had && !e->nw && !e->nc ? CSVFS_OPEN_LAST_WRITE : 0;
}

/* Names the node that holds a file another node could not open. */
static void log_busy(struct fsops_ctx *c, uint64_t ino, uint32_t f)
{
	const char *what = f & CSVFS_OPEN_WRITE ? "write" : "read";
	struct csvfs_attr a;

	if (mdc_getattr(c->mdc, ino, &a))
		log_ino(ino, "open for %s refused: held by another node", what);
	else if (a.own_mode == CSVFS_OWN_WRITER)
		log_ino(ino, "open for %s refused: node %u has it open for "
			"writing%s", what, a.own_node,
			a.flags & CSVFS_IFL_STRICT ?
			" (strict: no reader elsewhere)" : "");
	else
		log_ino(ino, "open for %s refused: %s by node %u", what,
			lockd_mode_name(a.own_mode), a.own_node);
}

/* May a handle of a file with attributes a use the page cache here? */
static int may_cache(const struct fsops_ctx *c, const struct csvfs_attr *a,
		     int flags)
{
	if (flags & O_DIRECT)
		return 0;
	if (!c->shared)
		return 1;
	return a->own_mode == CSVFS_OWN_WRITER && a->own_node == c->node_id &&
	       !(a->flags & CSVFS_IFL_MULTIWRITER);
}

/*
 * A close reaches us as FUSE RELEASE after close(2) has returned: the
 * kernel sends it in the background. So when QEMU's migration source
 * closes its read-write descriptor and the target reopens the image for
 * writing a moment later, the source's release may still be on its way.
 * A write open refused with EBUSY is therefore asked again for up to
 * FSOPS_BUSY_WAIT_MS before the refusal stands. Read opens never wait.
 */
#define FSOPS_BUSY_WAIT_MS	2000
#define FSOPS_BUSY_STEP_MS	20

/* Waits one step before a write open refused with EBUSY is asked again;
 * 0 while the wait may go on, -EBUSY when it is over. */
static int busy_step(uint32_t f, int *waited)
{
	struct timespec step = { 0, FSOPS_BUSY_STEP_MS * 1000000L };

	if (!(f & CSVFS_OPEN_WRITE) || *waited >= FSOPS_BUSY_WAIT_MS)
		return -EBUSY;
	nanosleep(&step, NULL);
	*waited += FSOPS_BUSY_STEP_MS;
	return 0;
}

/*
 * Opens ino on the coordinator (cluster mode: counting the handle), or,
 * when opened is set, records an open the coordinator already made
 * (CREATE) whose attributes are in *a. Sets *cached when the handle may
 * use the page cache (see struct open_ent).
 */
static int own_open(struct fsops_ctx *c, uint64_t ino, uint32_t f, int flags,
		    struct csvfs_attr *a, int opened, int *cached)
{
	int n, rc = 0, waited = 0;

	*cached = 0;
	if (!c->shared) {
		rc = opened ? 0 : mdc_open(c->mdc, ino, f, a);
		*cached = !rc && may_cache(c, a, flags);
		return rc;
	}
	do {
		/* (the wait happens outside open_lock) */
		pthread_mutex_lock(&c->open_lock);
		if (!opened)
			rc = mdc_open(c->mdc, ino, f, a);
		if (!rc) {
			*cached = may_cache(c, a, flags);
			n = opens_add(c, ino, 1, f & CSVFS_OPEN_WRITE, *cached);
			if (n < 0) {
				rc = n;
				mdc_release(c->mdc, ino, f |
					    (itab_get(&c->opens, ino) ? 0 :
					     CSVFS_OPEN_LAST));
			}
		}
		pthread_mutex_unlock(&c->open_lock);
	} while (rc == -EBUSY && busy_step(f, &waited) == 0);
	if (rc == -EBUSY)
		log_busy(c, ino, f);
	return rc;
}

/* mdc_release; the node's last (read-write) handle gives up that hold. */
static int own_release(struct fsops_ctx *c, uint64_t ino, uint32_t f,
		       int cached)
{
	int last, rc;

	if (!c->shared)
		return mdc_release(c->mdc, ino, f);
	pthread_mutex_lock(&c->open_lock);
	last = opens_add(c, ino, -1, f & CSVFS_OPEN_WRITE, cached);
	rc = mdc_release(c->mdc, ino, f | (uint32_t)(last > 0 ? last : 0));
	pthread_mutex_unlock(&c->open_lock);
	return rc;
}

/*
 * Opens ino for fi on the coordinator and in the data path. Page cache
 * unless the application asked for O_DIRECT: then FOPEN_DIRECT_IO, which
 * also lets the kernel split large async direct I/O into parallel requests.
 */
static int file_open(struct fsops_ctx *c, uint64_t ino,
		     struct fuse_file_info *fi, const struct csvfs_attr *created)
{
	uint32_t f = open_flags(fi->flags);
	struct data_file *df;
	struct fsops_fh *h;
	struct mdc_setattr sa;
	struct csvfs_attr a;
	int rc, cached;

	if (created)
		a = *created;
	/* O_TRUNC arrives only with atomic_o_trunc (an O_CREAT race). */
	if (f & CSVFS_OPEN_TRUNC) {
		rc = data_flush_ino(c->data, ino);
		if (rc)
			return rc;
	}
	rc = own_open(c, ino, f, fi->flags, &a, created != NULL, &cached);
	if (rc)
		return rc;
	/* The coordinator may ignore CSVFS_OPEN_TRUNC: truncate here. */
	if ((f & CSVFS_OPEN_TRUNC) && a.size) {
		memset(&sa, 0, sizeof(sa));
		sa.valid = CSVFS_SA_SIZE | CSVFS_SA_MTIME_NOW;
		rc = mdc_setattr(c->mdc, ino, &sa, &a);
		if (rc) {
			own_release(c, ino, f, cached);
			return rc;
		}
	}
	h = malloc(sizeof(*h));
	rc = h ? data_open(c->data, ino, &a, &df) : -ENOMEM;
	if (rc) {
		free(h);
		own_release(c, ino, f, cached);
		return rc;
	}
	h->df = df;
	if (f & CSVFS_OPEN_TRUNC)
		data_attr_changed(c->data, ino, &a);
	fi->fh = (uintptr_t)h;
	fi->direct_io = !cached;
	fi->keep_cache = 0;
	return 0;
}

/* Undoes file_open (release, or a reply the kernel did not take). */
static int file_close(struct fsops_ctx *c, uint64_t ino,
		      struct fuse_file_info *fi)
{
	int rc, rc2;

	rc = data_close(c->data, fh_file(fi));
	free((void *)(uintptr_t)fi->fh);
	fi->fh = 0;
	rc2 = own_release(c, ino, open_flags(fi->flags), !fi->direct_io);
	if (rc2)
		log_ino(ino, "release on the coordinator failed: %s",
			csvfs_strerror(rc2));
	return rc ? rc : rc2;
}

void fsops_open(fuse_req_t req, fuse_ino_t ino,
		struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc;

	rc = file_open(c, fsops_to_ino(c, ino), fi, NULL);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	if (fuse_reply_open(req, fi))
		file_close(c, fsops_to_ino(c, ino), fi);
}

/*
 * O_TMPFILE (a FUSE_TMPFILE, fsops_io.c): a file without a name, opened;
 * linkat() gives it one (LINK), its last close frees it.
 */
static void tmpfile_create(fuse_req_t req, fuse_ino_t parent, mode_t mode,
			   struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	uint32_t f = open_flags(fi->flags & ~O_TRUNC);
	struct fuse_entry_param e;
	struct csvfs_attr a;
	int rc;

	rc = mdc_tmpfile(c->mdc, fsops_to_ino(c, parent), mode & 07777,
			 who->uid, who->gid, f, &a);
	if (rc)
		goto out;
	rc = fsops_fill_entry(c, &a, &e);
	if (rc) {
		mdc_release(c->mdc, a.ino, f | CSVFS_OPEN_LAST);
		goto out;
	}
	rc = file_open(c, a.ino, fi, &a);
	if (rc)
		goto out;
	rc = fsops_lookup_inc(c, a.ino);
	if (rc) {
		file_close(c, a.ino, fi);
		goto out;
	}
	if (fuse_reply_create(req, &e, fi)) {
		file_close(c, a.ino, fi);
		fsops_lookup_dec(c, a.ino, 1);
	}
out:
	if (rc)
		fsops_reply_err(req, rc);
}

void fsops_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct csvfs_attr a;
	int rc, created;

	if (fsops_io_tmpfile()) {
		tmpfile_create(req, parent, mode, fi);
		return;
	}
	rc = fsops_name_check(name);
	if (rc)
		goto out;
	/* Create and open in one round trip (the common case). */
	rc = mdc_create(c->mdc, fsops_to_ino(c, parent), name,
			S_IFREG | (mode & 07777), who->uid, who->gid,
			open_flags(fi->flags & ~O_TRUNC), &a);
	created = !rc;
	/* Created by someone else since the kernel's lookup: open it. */
	if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
		rc = mdc_lookup(c->mdc, fsops_to_ino(c, parent), name, &a);
		if (!rc && !S_ISREG(a.mode))
			rc = S_ISDIR(a.mode) ? -EISDIR : -EEXIST;
	}
	if (rc)
		goto out;
	rc = fsops_fill_entry(c, &a, &e);
	if (rc) {
		/* The coordinator holds an open for us: give it back. */
		if (created)
			mdc_release(c->mdc, a.ino,
				    open_flags(fi->flags & ~O_TRUNC) |
				    CSVFS_OPEN_LAST);
		goto out;
	}
	/* On failure file_open has given the open back itself. */
	rc = file_open(c, a.ino, fi, created ? &a : NULL);
	if (rc)
		goto out;
	rc = fsops_lookup_inc(c, a.ino);
	if (rc) {
		file_close(c, a.ino, fi);
		goto out;
	}
	if (fuse_reply_create(req, &e, fi)) {
		file_close(c, a.ino, fi);
		fsops_lookup_dec(c, a.ino, 1);
	}
out:
	if (rc)
		fsops_reply_err(req, rc);
}

void fsops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const void *buf;
	size_t n;
	int rc;

	(void)ino;
	if (off < 0) {
		fsops_reply_err(req, -EINVAL);
		return;
	}
	rc = data_read(c->data, fh_file(fi), (uint64_t)off, size, &buf, &n);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	/* buf is this thread's bounce buffer: reply before any other I/O. */
	fuse_reply_buf(req, buf, n);
}

/*
 * Whether the writer has CAP_FSETID, the kernel's test (should_remove_suid)
 * for keeping setuid/setgid: its effective capability set in
 * /proc/PID/status (the FUSE request's pid, in this daemon's pid
 * namespace). A writer gone already: root is taken to have it.
 */
static int caller_has_fsetid(fuse_req_t req)
{
	const struct fuse_ctx *who = fuse_req_ctx(req);
	unsigned long long cap;
	char path[64], line[256];
	int has = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)who->pid);
	f = who->pid > 0 ? fopen(path, "re") : NULL;
	if (f) {
		while (has < 0 && fgets(line, sizeof(line), f))
			if (sscanf(line, "CapEff: %llx", &cap) == 1)
				has = !!(cap & (1ull << CAP_FSETID));
		fclose(f);
	}
	return has < 0 ? who->uid == 0 : has;
}

void fsops_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc = 0;

	if (off < 0) {
		fsops_reply_err(req, -EINVAL);
		return;
	}
	/*
	 * Direct I/O: the kernel leaves setuid/setgid to us. A page-cache
	 * write arrives after the kernel cleared them itself (a setattr,
	 * which data_note_mode saw), and writeback is no caller's write.
	 * Only a file whose mode has them costs anything: the writer's
	 * capabilities, then a SETATTR.
	 */
	if (!fi->writepage) {
		rc = data_has_privs(c->data, fh_file(fi));
		if (rc > 0 && !caller_has_fsetid(req))
			rc = data_kill_privs(c->data, fh_file(fi));
		else if (rc > 0)
			rc = 0;
	}
	/* The kernel's cached mode is out of date (attributes only). */
	if (rc > 0 && c->se)
		fuse_lowlevel_notify_inval_inode(c->se, ino, -1, 0);
	if (rc > 0)
		rc = 0;
	if (!rc)
		rc = data_write(c->data, fh_file(fi), (uint64_t)off, buf,
				size);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	fuse_reply_write(req, size);
}

void fsops_flush(fuse_req_t req, fuse_ino_t ino,
		 struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	fsops_lock_flush(c, fsops_to_ino(c, ino), fi);
	fsops_reply_err(req, data_flush(c->data, fh_file(fi)));
}

void fsops_release_file(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	/* The kernel ignores release errors; file_close logged them. */
	fsops_lock_release(c, fsops_to_ino(c, ino), fi);
	file_close(c, fsops_to_ino(c, ino), fi);
	fuse_reply_err(req, 0);
}

void fsops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	(void)ino;
	(void)datasync;
	fsops_reply_err(req, data_fsync(c->data, fh_file(fi)));
}

void fsops_fallocate(fuse_req_t req, fuse_ino_t fino, int mode,
		     off_t off, off_t len, struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint64_t ino = fsops_to_ino(c, fino);
	struct csvfs_attr a;
	uint32_t m = 0;
	int rc;

	(void)fi;
	switch (mode) {
	case 0:
		break;
	case FALLOC_FL_KEEP_SIZE:
		m = CSVFS_FA_KEEP_SIZE;
		break;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		m = CSVFS_FA_PUNCH_HOLE | CSVFS_FA_KEEP_SIZE;
		break;
	case FALLOC_FL_ZERO_RANGE:
		m = CSVFS_FA_ZERO_RANGE;
		break;
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		m = CSVFS_FA_ZERO_RANGE | CSVFS_FA_KEEP_SIZE;
		break;
	default:
		fsops_reply_err(req, -EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fsops_reply_err(req, -EINVAL);
		return;
	}
	rc = data_flush_ino(c->data, ino);
	if (!rc)
		rc = mdc_fallocate(c->mdc, ino, m, (uint64_t)off,
				   (uint64_t)len, &a);
	if (!rc)
		data_attr_changed(c->data, ino, &a);
	fsops_reply_err(req, rc);
}

void fsops_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint64_t res;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fsops_reply_err(req, -EINVAL);
		return;
	}
	if (off < 0) {
		fsops_reply_err(req, -ENXIO);
		return;
	}
	/* Written ranges must be known, or written data looks like a hole. */
	rc = data_flush(c->data, fh_file(fi));
	if (!rc)
		rc = mdc_lseek(c->mdc, fsops_to_ino(c, ino), (uint64_t)off, whence,
			       &res);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	fuse_reply_lseek(req, (off_t)res);
}

/* ---- directories --------------------------------------------------------------- */

/*
 * A directory's handles are counted on the coordinator like a file's,
 * so that one removed while open here stays (empty, its number not
 * reused) until its last close (meta/mds_ns.c drop_dir).
 */
void fsops_opendir(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct csvfs_attr a;
	int rc, cached;

	rc = own_open(c, fsops_to_ino(c, ino), 0, O_RDONLY, &a, 0, &cached);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 0;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi))
		own_release(c, fsops_to_ino(c, ino), 0, 0);
}

void fsops_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	int rc;

	(void)fi;
	rc = own_release(c, fsops_to_ino(c, ino), 0, 0);
	if (rc && rc != -ESTALE)
		log_ino(fsops_to_ino(c, ino), "directory close: %s",
			csvfs_strerror(rc));
	fuse_reply_err(req, 0);
}

void fsops_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	(void)datasync;
	(void)fi;
	fsops_reply_err(req, mdc_fsync(c->mdc, fsops_to_ino(c, ino)));
}

static int is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/*
 * The coordinator's cookies are the FUSE offsets: 0 starts, "." and ".."
 * come first (cookies 0 and 1), every entry carries the cookie that
 * continues after it. For readdirplus every entry but "." and ".." (which
 * the kernel does not link) is a lookup reference, counted once it fits
 * and given back if the reply does not reach the kernel.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t dino, size_t size,
		       off_t off, int plus)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint64_t ino = fsops_to_ino(c, dino), cookie, *counted = NULL;
	struct mdc_dirent *ents = NULL;
	size_t pos = 0, ent, ncounted = 0, i;
	uint32_t batch, n, j;
	char *buf = NULL;
	int eof = 0, rc = 0;

	if (off < 0) {
		rc = -EINVAL;
		goto out;
	}
	batch = (uint32_t)(size / (plus ? FSOPS_DIRENTPLUS_MIN : 32) + 1);
	if (batch < 4)
		batch = 4;
	if (batch > 128)
		batch = 128;
	buf = malloc(size ? size : 1);
	ents = calloc(batch, sizeof(*ents));
	counted = calloc(size / FSOPS_DIRENTPLUS_MIN + 1, sizeof(*counted));
	if (!buf || !ents || !counted) {
		rc = -ENOMEM;
		goto out;
	}
	cookie = (uint64_t)off;
	while (!eof) {
		rc = mdc_readdir(c->mdc, ino, cookie, plus, ents, batch, &n,
				 &eof);
		if (rc || !n)
			break;
		for (j = 0; j < n && j < batch; j++) {
			struct mdc_dirent *de = &ents[j];
			struct fuse_entry_param e;
			int counts = 0;

			de->name[sizeof(de->name) - 1] = '\0';
			if (de->next_cookie > (uint64_t)INT64_MAX ||
			    de->next_cookie <= cookie) {
				log_ino(ino, "directory cookie %llu after %llu "
					"out of order",
					(unsigned long long)de->next_cookie,
					(unsigned long long)cookie);
				rc = -EIO;
				goto reply;
			}
			memset(&e, 0, sizeof(e));
			if (plus && !is_dot(de->name) && de->ino &&
			    de->attr.ino == de->ino) {
				rc = fsops_fill_entry(c, &de->attr, &e);
				if (rc)
					goto reply;
				counts = 1;
			} else {
				e.attr.st_ino = fsops_to_fuse(c, de->ino);
				e.attr.st_mode = (mode_t)de->type << 12;
			}
			if (plus)
				ent = fuse_add_direntry_plus(req, buf + pos,
					size - pos, de->name, &e,
					(off_t)de->next_cookie);
			else
				ent = fuse_add_direntry(req, buf + pos,
					size - pos, de->name, &e.attr,
					(off_t)de->next_cookie);
			if (ent > size - pos)
				goto reply;
			/* An entry not counted is not sent. */
			if (counts && fsops_lookup_inc(c, de->ino))
				goto reply;
			if (counts)
				counted[ncounted++] = de->ino;
			pos += ent;
			cookie = de->next_cookie;
		}
	}
reply:
	/* Entries already gathered beat a later error (asked again). */
	if (pos || !rc) {
		rc = 0;
		if (fuse_reply_buf(req, buf, pos))
			for (i = 0; i < ncounted; i++)
				fsops_lookup_dec(c, counted[i], 1);
	}
out:
	if (rc)
		fsops_reply_err(req, rc);
	free(counted);
	free(ents);
	free(buf);
}

void fsops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, 0);
}

void fsops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, 1);
}


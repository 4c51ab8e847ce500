/*
 * mdc: typed metadata calls over a transport (see mdc.h). Each call
 * encodes its request with msg_put_*, hands it to the transport, and
 * decodes the reply with msg_get_*; a reply that does not decode exactly
 * is -EPROTO.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net/mcache.h"
#include "net/mdc.h"
#include "csvfs/ondisk.h"
#include "net/msg.h"

struct mdc {
	struct mdc_transport t;
	uint32_t node_id;
	uint64_t incarnation;
	pthread_mutex_t lock;
	uint64_t next_id;
	uint64_t epoch;
	struct mcache *cache;	/* cluster mode: LOOKUP/GETATTR cache */
	/* Recorded requests in flight (at most CSVFS_CLIENT_RECS). */
	pthread_cond_t rec_cond;
	unsigned rec_inflight;
};

void mdc_set_cache(struct mdc *c, struct mcache *mc)
{
	c->cache = mc;
}

int mdc_new(const struct mdc_transport *t, uint32_t node_id,
	    uint64_t incarnation, struct mdc **out)
{
	struct mdc *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->t = *t;
	c->node_id = node_id;
	c->incarnation = incarnation;
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->rec_cond, NULL);
	*out = c;
	return 0;
}

void mdc_free(struct mdc *c)
{
	if (!c)
		return;
	pthread_cond_destroy(&c->rec_cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * Sends w as a request of type; on success the reply payload is in *rd
 * (backed by *buf, which the caller frees).
 */
static int call(struct mdc *c, uint16_t type, struct msg_wr *w,
		struct msg_rd *rd, uint8_t **buf)
{
	struct csvfs_msg_hdr h;
	struct mcache_tok tok;
	size_t len = 0;
	int rc;

	*buf = NULL;
	msg_rd_init(rd, NULL, 0);
	if (w->err) {
		rc = w->err;
		msg_wr_free(w);
		return rc;
	}
	memset(&h, 0, sizeof(h));
	h.magic = CSVFS_MSG_MAGIC;
	h.version = CSVFS_PROTO_VERSION;
	h.type = type;
	h.length = (uint32_t)w->len;
	h.node_id = c->node_id;
	h.incarnation = c->incarnation;
	pthread_mutex_lock(&c->lock);
	/* The coordinator keeps the last CSVFS_CLIENT_RECS for retries. */
	if (csvfs_msg_recorded(type)) {
		while (c->rec_inflight >= CSVFS_CLIENT_RECS)
			pthread_cond_wait(&c->rec_cond, &c->lock);
		c->rec_inflight++;
	}
	h.req_id = c->next_id++;
	h.seq = h.req_id;
	h.epoch = c->epoch;
	pthread_mutex_unlock(&c->lock);
	if (c->cache)
		mcache_begin(c->cache, &tok);
	rc = c->t.call(c->t.ctx, &h, w->p, buf, &len);
	/* The coordinator heard from us: the cache's lease runs on. */
	if (c->cache && !rc)
		mcache_renew(c->cache, &tok);
	msg_wr_free(w);
	if (csvfs_msg_recorded(type)) {
		pthread_mutex_lock(&c->lock);
		c->rec_inflight--;
		pthread_cond_signal(&c->rec_cond);
		pthread_mutex_unlock(&c->lock);
	}
	if (rc) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	msg_rd_init(rd, *buf, len);
	return 0;
}

/* Ends a call: checks the reply was consumed exactly, frees it. */
static int done(struct msg_rd *rd, uint8_t *buf, int rc)
{
	if (!rc && msg_rd_end(rd))
		rc = -EPROTO;
	free(buf);
	return rc;
}

static int call_attr(struct mdc *c, uint16_t type, struct msg_wr *w,
		     struct csvfs_attr *a)
{
	struct csvfs_attr tmp;
	struct msg_rd rd;
	uint8_t *buf;
	int rc = call(c, type, w, &rd, &buf);

	if (!rc)
		msg_get_attr(&rd, a ? a : &tmp);
	return done(&rd, buf, rc);
}

static int call_none(struct mdc *c, uint16_t type, struct msg_wr *w)
{
	struct msg_rd rd;
	uint8_t *buf;
	int rc = call(c, type, w, &rd, &buf);

	return done(&rd, buf, rc);
}

int mdc_hello(struct mdc *c, const char *host, struct mdc_volinfo *vi)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	const uint8_t *u;
	int rc;

	msg_wr_init(&w);
	msg_put_u32(&w, c->node_id);
	msg_put_u64(&w, c->incarnation);
	msg_put_str(&w, host, strlen(host));
	rc = call(c, CSVFS_MSG_HELLO, &w, &rd, &buf);
	if (!rc) {
		vi->root_ino = msg_get_u64(&rd);
		vi->block_shift = msg_get_u32(&rd);
		vi->epoch = msg_get_u64(&rd);
		u = rd.err || rd.len - rd.off < 16 ? NULL : rd.p + rd.off;
		if (u) {
			memcpy(vi->uuid, u, 16);
			rd.off += 16;
		} else {
			rd.err = -EPROTO;
		}
		pthread_mutex_lock(&c->lock);
		c->epoch = vi->epoch;
		pthread_mutex_unlock(&c->lock);
	}
	return done(&rd, buf, rc);
}

int mdc_lookup(struct mdc *c, uint64_t parent, const char *name,
	       struct csvfs_attr *a)
{
	struct mcache_tok tok = { 0 };
	struct msg_wr w;
	int rc;

	if (c->cache) {
		rc = mcache_get_entry(c->cache, parent, name, a);
		if (rc != -EAGAIN)
			return rc;
		mcache_begin(c->cache, &tok);
	}
	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	rc = call_attr(c, CSVFS_MSG_LOOKUP, &w, a);
	if (c->cache && (!rc || rc == -ENOENT))
		mcache_put_entry(c->cache, &tok, parent, name, rc ? NULL : a);
	return rc;
}

int mdc_getattr(struct mdc *c, uint64_t ino, struct csvfs_attr *a)
{
	struct mcache_tok tok = { 0 };
	struct msg_wr w;
	int rc;

	if (c->cache) {
		if (!mcache_get_attr(c->cache, ino, a))
			return 0;
		mcache_begin(c->cache, &tok);
	}
	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	rc = call_attr(c, CSVFS_MSG_GETATTR, &w, a);
	if (c->cache && !rc)
		mcache_put_attr(c->cache, &tok, a);
	return rc;
}

int mdc_setattr(struct mdc *c, uint64_t ino, const struct mdc_setattr *sa,
		struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, sa->valid);
	msg_put_u32(&w, sa->mode);
	msg_put_u32(&w, sa->uid);
	msg_put_u32(&w, sa->gid);
	msg_put_u64(&w, sa->size);
	msg_put_u64(&w, (uint64_t)sa->atime_sec);
	msg_put_u32(&w, sa->atime_nsec);
	msg_put_u64(&w, (uint64_t)sa->mtime_sec);
	msg_put_u32(&w, sa->mtime_nsec);
	return call_attr(c, CSVFS_MSG_SETATTR, &w, a);
}

int mdc_mknod(struct mdc *c, uint64_t parent, const char *name, uint32_t mode,
	      uint64_t rdev, uint32_t uid, uint32_t gid, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	msg_put_u32(&w, mode);
	msg_put_u64(&w, rdev);
	msg_put_u32(&w, uid);
	msg_put_u32(&w, gid);
	return call_attr(c, CSVFS_MSG_MKNOD, &w, a);
}

int mdc_create(struct mdc *c, uint64_t parent, const char *name,
	       uint32_t mode, uint32_t uid, uint32_t gid, uint32_t open_flags,
	       struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	msg_put_u32(&w, mode);
	msg_put_u64(&w, 0);
	msg_put_u32(&w, uid);
	msg_put_u32(&w, gid);
	msg_put_u32(&w, open_flags);
	return call_attr(c, CSVFS_MSG_CREATE, &w, a);
}

int mdc_tmpfile(struct mdc *c, uint64_t parent, uint32_t mode, uint32_t uid,
		uint32_t gid, uint32_t open_flags, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_u32(&w, mode);
	msg_put_u32(&w, uid);
	msg_put_u32(&w, gid);
	msg_put_u32(&w, open_flags);
	return call_attr(c, CSVFS_MSG_TMPFILE, &w, a);
}

int mdc_mkdir(struct mdc *c, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t uid, uint32_t gid, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	msg_put_u32(&w, mode);
	msg_put_u32(&w, uid);
	msg_put_u32(&w, gid);
	return call_attr(c, CSVFS_MSG_MKDIR, &w, a);
}

int mdc_symlink(struct mdc *c, uint64_t parent, const char *name,
		const char *target, uint32_t uid, uint32_t gid,
		struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	msg_put_str(&w, target, strlen(target));
	msg_put_u32(&w, uid);
	msg_put_u32(&w, gid);
	return call_attr(c, CSVFS_MSG_SYMLINK, &w, a);
}

static int name_call(struct mdc *c, uint16_t type, uint64_t parent,
		     const char *name)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	return call_none(c, type, &w);
}

int mdc_unlink(struct mdc *c, uint64_t parent, const char *name)
{
	return name_call(c, CSVFS_MSG_UNLINK, parent, name);
}

int mdc_rmdir(struct mdc *c, uint64_t parent, const char *name)
{
	return name_call(c, CSVFS_MSG_RMDIR, parent, name);
}

int mdc_rename(struct mdc *c, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, uint32_t flags)
{
	return mdc_rename_wo(c, parent, name, newparent, newname, flags, 0, 0);
}

int mdc_rename_wo(struct mdc *c, uint64_t parent, const char *name,
		  uint64_t newparent, const char *newname, uint32_t flags,
		  uint32_t uid, uint32_t gid)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, parent);
	msg_put_str(&w, name, strlen(name));
	msg_put_u64(&w, newparent);
	msg_put_str(&w, newname, strlen(newname));
	msg_put_u32(&w, flags);
	if (flags & CSVFS_RENAME_WHITEOUT) {
		msg_put_u32(&w, uid);
		msg_put_u32(&w, gid);
	}
	return call_none(c, CSVFS_MSG_RENAME, &w);
}

int mdc_link(struct mdc *c, uint64_t ino, uint64_t newparent,
	     const char *newname, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, newparent);
	msg_put_str(&w, newname, strlen(newname));
	return call_attr(c, CSVFS_MSG_LINK, &w, a);
}

int mdc_readlink(struct mdc *c, uint64_t ino, char *target, size_t size)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	rc = call(c, CSVFS_MSG_READLINK, &w, &rd, &buf);
	if (!rc)
		msg_get_str(&rd, target, size);
	return done(&rd, buf, rc);
}

/* Cached listing into ents (struct mdc_dirent and mcache_dirent match). */
static int readdir_cached(struct mdc *c, uint64_t ino, uint64_t cookie,
			  int plus, struct mdc_dirent *ents, uint32_t max,
			  uint32_t *n, int *eof)
{
	_Static_assert(sizeof(struct mdc_dirent) ==
		       sizeof(struct mcache_dirent), "dirent layouts");
	_Static_assert(offsetof(struct mdc_dirent, attr) ==
		       offsetof(struct mcache_dirent, attr), "dirent attr");
	return mcache_get_list(c->cache, ino, cookie, plus,
			       (struct mcache_dirent *)ents, max, n, eof);
}

int mdc_readdir(struct mdc *c, uint64_t ino, uint64_t cookie, int plus,
		struct mdc_dirent *ents, uint32_t max, uint32_t *n, int *eof)
{
	struct mcache_tok tok = { 0 };
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	uint32_t count, i;
	int rc;

	if (c->cache) {
		if (!readdir_cached(c, ino, cookie, plus, ents, max, n, eof))
			return 0;
		mcache_begin(c->cache, &tok);
	}
	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, cookie);
	/* Every entry needs at most 19 + 255 (+ attr) bytes. */
	msg_put_u32(&w, max * (plus ? 420 : 280));
	msg_put_u32(&w, plus ? 1 : 0);
	msg_put_u32(&w, max);
	rc = call(c, CSVFS_MSG_READDIR, &w, &rd, &buf);
	if (rc)
		return done(&rd, buf, rc);
	count = msg_get_u32(&rd);
	*eof = (int)msg_get_u32(&rd);
	if (count > max) {
		rd.err = -EPROTO;
		count = 0;
	}
	for (i = 0; i < count && !rd.err; i++) {
		ents[i].ino = msg_get_u64(&rd);
		ents[i].next_cookie = msg_get_u64(&rd);
		ents[i].type = msg_get_u8(&rd);
		msg_get_str(&rd, ents[i].name, sizeof(ents[i].name));
		if (plus)
			msg_get_attr(&rd, &ents[i].attr);
	}
	*n = count;
	rc = done(&rd, buf, 0);
	if (!rc && c->cache)
		mcache_put_list(c->cache, &tok, ino, cookie, plus,
				(const struct mcache_dirent *)ents, count,
				*eof);
	return rc;
}

int mdc_statfs(struct mdc *c, struct mdc_statfs *st)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	rc = call(c, CSVFS_MSG_STATFS, &w, &rd, &buf);
	if (!rc) {
		st->bsize = msg_get_u32(&rd);
		st->blocks = msg_get_u64(&rd);
		st->bfree = msg_get_u64(&rd);
		st->bavail = msg_get_u64(&rd);
		st->files = msg_get_u64(&rd);
		st->ffree = msg_get_u64(&rd);
		st->reserved = msg_get_u64(&rd);
		st->provisioned = msg_get_u64(&rd);
	}
	return done(&rd, buf, rc);
}

int mdc_open(struct mdc *c, uint64_t ino, uint32_t flags,
	     struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, flags);
	return call_attr(c, CSVFS_MSG_OPEN, &w, a);
}

int mdc_release(struct mdc *c, uint64_t ino, uint32_t flags)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, flags);
	return call_none(c, CSVFS_MSG_RELEASE, &w);
}

int mdc_handoff(struct mdc *c, uint64_t ino, uint32_t from, uint32_t to,
		struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, from);
	msg_put_u32(&w, to);
	return call_attr(c, CSVFS_MSG_HANDOFF, &w, a);
}

int mdc_recall_done(struct mdc *c, uint64_t ino, int status)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, (uint32_t)status);
	return call_none(c, CSVFS_MSG_RECALL_DONE, &w);
}

int mdc_set_iflags(struct mdc *c, uint64_t ino, uint32_t set, uint32_t clear,
		   struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, set);
	msg_put_u32(&w, clear);
	return call_attr(c, CSVFS_MSG_SET_IFLAGS, &w, a);
}

static void get_exts(struct msg_rd *rd, struct csvfs_wext *ext, uint32_t max,
		     uint32_t *n)
{
	uint32_t count = msg_get_u32(rd), i;

	if (count > max) {
		rd->err = -EPROTO;
		count = 0;
	}
	for (i = 0; i < count; i++)
		msg_get_ext(rd, &ext[i]);
	*n = count;
}

int mdc_get_extents(struct mdc *c, uint64_t ino, uint64_t lblk,
		    uint64_t count, struct csvfs_wext *ext, uint32_t max,
		    uint32_t *n)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, lblk);
	msg_put_u64(&w, count);
	msg_put_u32(&w, max);
	rc = call(c, CSVFS_MSG_GET_EXTENTS, &w, &rd, &buf);
	if (!rc)
		get_exts(&rd, ext, max, n);
	return done(&rd, buf, rc);
}

int mdc_alloc(struct mdc *c, uint64_t ino, uint64_t lblk, uint64_t count,
	      uint32_t flags, struct csvfs_attr *a, struct csvfs_wext *ext,
	      uint32_t max, uint32_t *n)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, lblk);
	msg_put_u64(&w, count);
	msg_put_u32(&w, flags);
	msg_put_u32(&w, max);
	rc = call(c, CSVFS_MSG_ALLOC, &w, &rd, &buf);
	if (!rc) {
		msg_get_attr(&rd, a);
		get_exts(&rd, ext, max, n);
	}
	return done(&rd, buf, rc);
}

int mdc_write_done(struct mdc *c, uint64_t ino, uint64_t size,
		   int mtime_valid, int64_t mtime_sec, uint32_t mtime_nsec,
		   const struct mdc_range *r, uint32_t nr,
		   struct csvfs_attr *a)
{
	struct msg_wr w;
	uint32_t i;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, size);
	msg_put_u32(&w, mtime_valid ? 1 : 0);
	msg_put_u64(&w, (uint64_t)mtime_sec);
	msg_put_u32(&w, mtime_nsec);
	msg_put_u32(&w, nr);
	for (i = 0; i < nr; i++) {
		msg_put_u64(&w, r[i].lblk);
		msg_put_u64(&w, r[i].count);
	}
	return call_attr(c, CSVFS_MSG_WRITE_DONE, &w, a);
}

int mdc_fallocate(struct mdc *c, uint64_t ino, uint32_t mode, uint64_t off,
		  uint64_t len, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u32(&w, mode);
	msg_put_u64(&w, off);
	msg_put_u64(&w, len);
	return call_attr(c, CSVFS_MSG_FALLOCATE, &w, a);
}

int mdc_inline_read(struct mdc *c, uint64_t ino, uint64_t off, void *out,
		    uint32_t len)
{
	struct msg_wr w;
	struct msg_rd rd;
	const uint8_t *p;
	uint8_t *buf;
	uint32_t n = 0;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, off);
	msg_put_u32(&w, len);
	rc = call(c, CSVFS_MSG_INLINE_READ, &w, &rd, &buf);
	if (!rc) {
		n = msg_get_bytes(&rd, &p);
		if (n > len)
			rd.err = -EPROTO;
		else if (n)
			memcpy(out, p, n);
	}
	rc = done(&rd, buf, rc);
	return rc ? rc : (int)n;
}

int mdc_inline_write(struct mdc *c, uint64_t ino, uint64_t off,
		     const void *data, uint32_t len, struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, off);
	msg_put_bytes(&w, data, len);
	return call_attr(c, CSVFS_MSG_INLINE_WRITE, &w, a);
}

int mdc_getxattr(struct mdc *c, uint64_t ino, const char *name, void *value,
		 size_t size)
{
	struct msg_wr w;
	struct msg_rd rd;
	const uint8_t *p;
	uint8_t *buf;
	uint32_t n = 0;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_str(&w, name, strlen(name));
	rc = call(c, CSVFS_MSG_GETXATTR, &w, &rd, &buf);
	if (!rc) {
		n = msg_get_bytes(&rd, &p);
		if (size && n > size)
			rc = -ERANGE;
		else if (size && n)
			memcpy(value, p, n);
	}
	rc = done(&rd, buf, rc);
	return rc ? rc : (int)n;
}

int mdc_setxattr(struct mdc *c, uint64_t ino, const char *name,
		 const void *value, size_t size, uint32_t flags)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_str(&w, name, strlen(name));
	msg_put_bytes(&w, value, size);
	msg_put_u32(&w, flags);
	return call_none(c, CSVFS_MSG_SETXATTR, &w);
}

int mdc_listxattr(struct mdc *c, uint64_t ino, char *list, size_t size)
{
	struct msg_wr w;
	struct msg_rd rd;
	const uint8_t *p;
	uint8_t *buf;
	uint32_t n = 0;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	rc = call(c, CSVFS_MSG_LISTXATTR, &w, &rd, &buf);
	if (!rc) {
		n = msg_get_bytes(&rd, &p);
		if (size && n > size)
			rc = -ERANGE;
		else if (size && n)
			memcpy(list, p, n);
	}
	rc = done(&rd, buf, rc);
	return rc ? rc : (int)n;
}

int mdc_removexattr(struct mdc *c, uint64_t ino, const char *name)
{
	return name_call(c, CSVFS_MSG_REMOVEXATTR, ino, name);
}

int mdc_fsync(struct mdc *c, uint64_t ino)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	return call_none(c, CSVFS_MSG_FSYNC, &w);
}

int mdc_lseek(struct mdc *c, uint64_t ino, uint64_t off, int whence,
	      uint64_t *result)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, off);
	msg_put_u32(&w, (uint32_t)whence);
	rc = call(c, CSVFS_MSG_LSEEK, &w, &rd, &buf);
	if (!rc)
		*result = msg_get_u64(&rd);
	return done(&rd, buf, rc);
}

/*
 * Once the coordinator has our FORGET it no longer tells us when ino
 * changes or is freed and its number given to a new inode, so what we
 * cached of ino goes now: kept, it would answer a GETATTR of the new
 * inode with the old one's attributes (the kernel then calls the inode
 * bad and fails every I/O on it). Dropped before the call, so that a
 * reply to a request sent earlier is not cached, and again once the
 * coordinator has answered: it may run a LOOKUP we sent meanwhile before
 * the FORGET, which then takes away the interest that LOOKUP recorded.
 * A request sent after the answer runs after the FORGET.
 */
int mdc_forget(struct mdc *c, uint64_t ino)
{
	struct msg_wr w;
	int rc;

	if (c->cache)
		mcache_inval(c->cache, ino);
	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	rc = call_none(c, CSVFS_MSG_FORGET, &w);
	if (c->cache)
		mcache_inval(c->cache, ino);
	return rc;
}

int mdc_inval_ack(struct mdc *c, uint64_t inval_id)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, inval_id);
	return call_none(c, CSVFS_MSG_INVAL_ACK, &w);
}

int mdc_set_reserve(struct mdc *c, uint64_t ino, uint64_t bytes,
		    struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, bytes);
	return call_attr(c, CSVFS_MSG_SET_RESERVE, &w, a);
}

int mdc_prealloc(struct mdc *c, uint64_t ino, uint64_t size,
		 struct csvfs_attr *a)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, size);
	return call_attr(c, CSVFS_MSG_PREALLOC, &w, a);
}

int mdc_grow(struct mdc *c, uint64_t *old_blocks, uint64_t *new_blocks)
{
	struct msg_wr w;
	struct msg_rd rd;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	rc = call(c, CSVFS_MSG_GROW, &w, &rd, &buf);
	if (!rc) {
		*old_blocks = msg_get_u64(&rd);
		*new_blocks = msg_get_u64(&rd);
	}
	return done(&rd, buf, rc);
}

/* ---- application locks ---------------------------------------------------- */

int mdc_lock_set(struct mdc *c, uint64_t ino, const struct csvfs_wlock *l,
		 uint32_t flags, uint64_t wait_id)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_lock(&w, l);
	msg_put_u32(&w, flags);
	msg_put_u64(&w, wait_id);
	return call_none(c, CSVFS_MSG_LOCK_SET, &w);
}

int mdc_lock_get(struct mdc *c, uint64_t ino, const struct csvfs_wlock *l,
		 int *found, struct csvfs_wlock *holder)
{
	struct msg_rd rd;
	struct msg_wr w;
	uint8_t *buf;
	int rc;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_lock(&w, l);
	rc = call(c, CSVFS_MSG_LOCK_GET, &w, &rd, &buf);
	if (!rc) {
		*found = msg_get_u32(&rd) != 0;
		msg_get_lock(&rd, holder);
	}
	return done(&rd, buf, rc);
}

int mdc_lock_cancel(struct mdc *c, uint64_t ino, uint64_t wait_id)
{
	struct msg_wr w;

	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	msg_put_u64(&w, wait_id);
	return call_none(c, CSVFS_MSG_LOCK_CANCEL, &w);
}

int mdc_lock_reclaim_done(struct mdc *c)
{
	struct msg_wr w;

	msg_wr_init(&w);
	return call_none(c, CSVFS_MSG_LOCK_RECLAIM_DONE, &w);
}

int mdc_lock_list(struct mdc *c, uint64_t ino, struct csvfs_wlock *out,
		  uint32_t max, uint32_t *n)
{
	struct csvfs_wlock tmp;
	struct msg_rd rd;
	struct msg_wr w;
	uint8_t *buf;
	uint32_t i, count;
	int rc;

	*n = 0;
	msg_wr_init(&w);
	msg_put_u64(&w, ino);
	rc = call(c, CSVFS_MSG_LOCK_LIST, &w, &rd, &buf);
	if (!rc) {
		count = msg_get_u32(&rd);
		/* Each entry is 40 bytes: a bogus count fails here. */
		if (count > (rd.len - rd.off) / sizeof(tmp))
			rd.err = -EPROTO;
		for (i = 0; i < count && !rd.err; i++)
			msg_get_lock(&rd, i < max ? &out[i] : &tmp);
		*n = rd.err ? 0 : count;
	}
	return done(&rd, buf, rc);
}

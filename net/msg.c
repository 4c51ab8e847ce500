/*
 * msg: wire encoding. Nothing here trusts a length it has not checked
 * against the bytes that are left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/le.h"
#include "net/msg.h"

void msg_wr_init(struct msg_wr *w)
{
	memset(w, 0, sizeof(*w));
}

void msg_wr_free(struct msg_wr *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

static uint8_t *wr_room(struct msg_wr *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (w->len + n > CSVFS_MSG_MAX_PAYLOAD) {
		w->err = -E2BIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;

		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->p = p;
		w->cap = cap;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

void msg_put_u8(struct msg_wr *w, uint8_t v)
{
	uint8_t *p = wr_room(w, 1);

	if (p)
		*p = v;
}

void msg_put_u16(struct msg_wr *w, uint16_t v)
{
	uint8_t *p = wr_room(w, 2);

	if (p)
		le_put16(p, v);
}

void msg_put_u32(struct msg_wr *w, uint32_t v)
{
	uint8_t *p = wr_room(w, 4);

	if (p)
		le_put32(p, v);
}

void msg_put_u64(struct msg_wr *w, uint64_t v)
{
	uint8_t *p = wr_room(w, 8);

	if (p)
		le_put64(p, v);
}

void msg_put_raw(struct msg_wr *w, const void *src, size_t n)
{
	uint8_t *p = wr_room(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void msg_put_str(struct msg_wr *w, const char *s, size_t n)
{
	if (n > UINT16_MAX) {
		w->err = -E2BIG;
		return;
	}
	msg_put_u16(w, (uint16_t)n);
	msg_put_raw(w, s, n);
}

void msg_put_bytes(struct msg_wr *w, const void *p, size_t n)
{
	if (n > CSVFS_MSG_MAX_PAYLOAD) {
		w->err = -E2BIG;
		return;
	}
	msg_put_u32(w, (uint32_t)n);
	msg_put_raw(w, p, n);
}

void msg_put_attr(struct msg_wr *w, const struct csvfs_attr *a)
{
	msg_put_u64(w, a->ino);
	msg_put_u64(w, a->generation);
	msg_put_u32(w, a->mode);
	msg_put_u32(w, a->nlink);
	msg_put_u32(w, a->uid);
	msg_put_u32(w, a->gid);
	msg_put_u64(w, a->size);
	msg_put_u64(w, a->alloc_bytes);
	msg_put_u64(w, a->rdev);
	msg_put_u64(w, (uint64_t)a->atime_sec);
	msg_put_u64(w, (uint64_t)a->mtime_sec);
	msg_put_u64(w, (uint64_t)a->ctime_sec);
	msg_put_u32(w, a->atime_nsec);
	msg_put_u32(w, a->mtime_nsec);
	msg_put_u32(w, a->ctime_nsec);
	msg_put_u32(w, a->flags);
	msg_put_u32(w, a->own_node);
	msg_put_u32(w, a->own_mode);
	msg_put_u64(w, a->own_epoch);
	msg_put_u64(w, a->own_since_ns);
	msg_put_u32(w, a->blksize);
	msg_put_u32(w, a->own_count);
	msg_put_u64(w, a->reserve_bytes);
}

void msg_put_ext(struct msg_wr *w, const struct csvfs_wext *e)
{
	msg_put_u64(w, e->lblk);
	msg_put_u64(w, e->pblk);
	msg_put_u32(w, e->len);
	msg_put_u32(w, e->flags);
}

void msg_put_lock(struct msg_wr *w, const struct csvfs_wlock *l)
{
	msg_put_u32(w, l->node);
	msg_put_u32(w, l->pid);
	msg_put_u64(w, l->owner);
	msg_put_u32(w, l->type);
	msg_put_u32(w, l->cls);
	msg_put_u64(w, l->start);
	msg_put_u64(w, l->end);
}

void msg_rd_init(struct msg_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
	r->err = 0;
}

static const uint8_t *rd_take(struct msg_rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err || n > r->len - r->off) {
		r->err = -EPROTO;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t msg_get_u8(struct msg_rd *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p ? *p : 0;
}

uint16_t msg_get_u16(struct msg_rd *r)
{
	const uint8_t *p = rd_take(r, 2);

	return p ? le_get16(p) : 0;
}

uint32_t msg_get_u32(struct msg_rd *r)
{
	const uint8_t *p = rd_take(r, 4);

	return p ? le_get32(p) : 0;
}

uint64_t msg_get_u64(struct msg_rd *r)
{
	const uint8_t *p = rd_take(r, 8);

	return p ? le_get64(p) : 0;
}

size_t msg_get_str(struct msg_rd *r, char *out, size_t max)
{
	size_t n = msg_get_u16(r);
	const uint8_t *p;

	if (max)
		out[0] = '\0';
	if (r->err)
		return 0;
	if (n + 1 > max) {
		r->err = -EPROTO;
		return 0;
	}
	p = rd_take(r, n);
	if (!p || memchr(p, 0, n)) {
		r->err = -EPROTO;
		return 0;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

uint32_t msg_get_bytes(struct msg_rd *r, const uint8_t **p)
{
	uint32_t n = msg_get_u32(r);

	*p = rd_take(r, n);
	return *p ? n : 0;
}

void msg_get_attr(struct msg_rd *r, struct csvfs_attr *a)
{
	a->ino = msg_get_u64(r);
	a->generation = msg_get_u64(r);
	a->mode = msg_get_u32(r);
	a->nlink = msg_get_u32(r);
	a->uid = msg_get_u32(r);
	a->gid = msg_get_u32(r);
	a->size = msg_get_u64(r);
	a->alloc_bytes = msg_get_u64(r);
	a->rdev = msg_get_u64(r);
	a->atime_sec = (int64_t)msg_get_u64(r);
	a->mtime_sec = (int64_t)msg_get_u64(r);
	a->ctime_sec = (int64_t)msg_get_u64(r);
	a->atime_nsec = msg_get_u32(r);
	a->mtime_nsec = msg_get_u32(r);
	a->ctime_nsec = msg_get_u32(r);
	a->flags = msg_get_u32(r);
	a->own_node = msg_get_u32(r);
	a->own_mode = msg_get_u32(r);
	a->own_epoch = msg_get_u64(r);
	a->own_since_ns = msg_get_u64(r);
	a->blksize = msg_get_u32(r);
	a->own_count = msg_get_u32(r);
	a->reserve_bytes = msg_get_u64(r);
}

void msg_get_ext(struct msg_rd *r, struct csvfs_wext *e)
{
	e->lblk = msg_get_u64(r);
	e->pblk = msg_get_u64(r);
	e->len = msg_get_u32(r);
	e->flags = msg_get_u32(r);
}

void msg_get_lock(struct msg_rd *r, struct csvfs_wlock *l)
{
	l->node = msg_get_u32(r);
	l->pid = msg_get_u32(r);
	l->owner = msg_get_u64(r);
	l->type = msg_get_u32(r);
	l->cls = msg_get_u32(r);
	l->start = msg_get_u64(r);
	l->end = msg_get_u64(r);
}

int msg_rd_end(struct msg_rd *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : -EPROTO;
}

void msg_hdr_encode(const struct csvfs_msg_hdr *h, uint8_t *raw)
{
	memset(raw, 0, CSVFS_MSG_HDR_SIZE);
	le_put32(raw + 0x00, h->magic);
	le_put16(raw + 0x04, h->version);
	le_put16(raw + 0x06, h->type);
	le_put32(raw + 0x08, h->length);
	le_put32(raw + 0x0c, h->flags);
	le_put64(raw + 0x10, h->req_id);
	le_put64(raw + 0x18, h->epoch);
	le_put32(raw + 0x20, h->node_id);
	le_put32(raw + 0x24, (uint32_t)h->status);
	le_put64(raw + 0x28, h->incarnation);
	le_put64(raw + 0x30, h->seq);
	le_put64(raw + 0x38, h->reserved);
}

int msg_hdr_decode(const uint8_t *raw, struct csvfs_msg_hdr *h)
{
	h->magic = le_get32(raw + 0x00);
	h->version = le_get16(raw + 0x04);
	h->type = le_get16(raw + 0x06);
	h->length = le_get32(raw + 0x08);
	h->flags = le_get32(raw + 0x0c);
	h->req_id = le_get64(raw + 0x10);
	h->epoch = le_get64(raw + 0x18);
	h->node_id = le_get32(raw + 0x20);
	h->status = (int32_t)le_get32(raw + 0x24);
	h->incarnation = le_get64(raw + 0x28);
	h->seq = le_get64(raw + 0x30);
	h->reserved = le_get64(raw + 0x38);
	if (h->magic != CSVFS_MSG_MAGIC || h->version != CSVFS_PROTO_VERSION ||
	    h->length > CSVFS_MSG_MAX_PAYLOAD)
		return -EPROTO;
	if (h->status > 0 || h->status < -4095)
		return -EPROTO;
	return 0;
}

/* ---- election messages (multicast in the Corosync group) ------------ */

static int elect_has_view(uint16_t type)
{
	return type == CSVFS_MSG_ELECT_STATE ||
	       type == CSVFS_MSG_ELECT_ANNOUNCE ||
	       type == CSVFS_MSG_ELECT_DEPOSE;
}

static int elect_type(uint16_t type)
{
	return type >= CSVFS_MSG_ELECT_STATE &&
	       type <= CSVFS_MSG_ELECT_DEPOSE;
}

int msg_elect_encode(const struct msg_elect *e, struct msg_wr *w)
{
	struct csvfs_msg_hdr h;
	uint8_t *raw;
	uint32_t i;

	if (!elect_type(e->type) || w->len)
		return -EINVAL;
	if (elect_has_view(e->type) &&
	    (e->n == 0 || e->n > CSVFS_ELECT_MAX_MEMBERS))
		return -EINVAL;
	/* Room for the header; filled in once the length is known. */
	for (i = 0; i < CSVFS_MSG_HDR_SIZE / 8; i++)
		msg_put_u64(w, 0);
	if (elect_has_view(e->type)) {
		msg_put_u32(w, e->round);
		msg_put_u32(w, e->n);
		for (i = 0; i < e->n; i++) {
			msg_put_u32(w, e->m[i].node);
			msg_put_u32(w, e->m[i].pid);
		}
	}
	switch (e->type) {
	case CSVFS_MSG_ELECT_STATE:
		msg_put_u32(w, e->flags);
		msg_put_u32(w, e->preferred);
		break;
	case CSVFS_MSG_ELECT_ANNOUNCE:
		msg_put_u32(w, e->port);
		break;
	case CSVFS_MSG_ELECT_MOVE:
		msg_put_u32(w, e->node);
		break;
	case CSVFS_MSG_ELECT_DEPOSE:
		msg_put_u32(w, e->node);
		msg_put_u32(w, e->pid);
		break;
	}
	if (w->err)
		return w->err;
	memset(&h, 0, sizeof(h));
	h.magic = CSVFS_MSG_MAGIC;
	h.version = CSVFS_PROTO_VERSION;
	h.type = e->type;
	h.length = (uint32_t)(w->len - CSVFS_MSG_HDR_SIZE);
	h.epoch = e->epoch;
	h.node_id = e->from;
	raw = w->p;
	msg_hdr_encode(&h, raw);
	return 0;
}

static int member_cmp(const struct msg_elect_member *a,
		      const struct msg_elect_member *b)
{
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return 0;
}

int msg_elect_decode(const void *buf, size_t len, struct msg_elect *e)
{
	struct csvfs_msg_hdr h;
	struct msg_rd r;
	uint32_t i;

	memset(e, 0, sizeof(*e));
	if (len < CSVFS_MSG_HDR_SIZE || msg_hdr_decode(buf, &h) ||
	    h.flags || h.status || !elect_type(h.type) ||
	    h.length != len - CSVFS_MSG_HDR_SIZE)
		return -EPROTO;
	e->type = h.type;
	e->from = h.node_id;
	e->epoch = h.epoch;
	msg_rd_init(&r, (const uint8_t *)buf + CSVFS_MSG_HDR_SIZE, h.length);
	if (elect_has_view(h.type)) {
		e->round = msg_get_u32(&r);
		e->n = msg_get_u32(&r);
		if (e->n == 0 || e->n > CSVFS_ELECT_MAX_MEMBERS)
			return -EPROTO;
		for (i = 0; i < e->n; i++) {
			e->m[i].node = msg_get_u32(&r);
			e->m[i].pid = msg_get_u32(&r);
			/* Sorted and unique: views compare member by member. */
			if (i && member_cmp(&e->m[i - 1], &e->m[i]) >= 0)
				return -EPROTO;
		}
	}
	switch (h.type) {
	case CSVFS_MSG_ELECT_STATE:
		e->flags = msg_get_u32(&r);
		e->preferred = msg_get_u32(&r);
		break;
	case CSVFS_MSG_ELECT_ANNOUNCE:
		e->port = msg_get_u32(&r);
		break;
	case CSVFS_MSG_ELECT_MOVE:
		e->node = msg_get_u32(&r);
		break;
	case CSVFS_MSG_ELECT_DEPOSE:
		e->node = msg_get_u32(&r);
		e->pid = msg_get_u32(&r);
		break;
	}
	return msg_rd_end(&r) ? -EPROTO : 0;
}

void msg_recall_encode(uint64_t ino, uint32_t to, uint8_t p[MSG_RECALL_LEN])
{
	le_put64(p, ino);
	le_put32(p + 8, to);
}

int msg_recall_decode(const uint8_t *p, size_t len, uint64_t *ino,
		      uint32_t *to)
{
	if (len < MSG_RECALL_LEN)
		return -EPROTO;
	*ino = le_get64(p);
	*to = le_get32(p + 8);
	return 0;
}

static const char *const type_names[CSVFS_MSG_TYPE_MAX] = {
	[CSVFS_MSG_HELLO] = "hello",
	[CSVFS_MSG_LOOKUP] = "lookup",
	[CSVFS_MSG_GETATTR] = "getattr",
	[CSVFS_MSG_SETATTR] = "setattr",
	[CSVFS_MSG_MKNOD] = "mknod",
	[CSVFS_MSG_MKDIR] = "mkdir",
	[CSVFS_MSG_SYMLINK] = "symlink",
	[CSVFS_MSG_UNLINK] = "unlink",
	[CSVFS_MSG_RMDIR] = "rmdir",
	[CSVFS_MSG_RENAME] = "rename",
	[CSVFS_MSG_LINK] = "link",
	[CSVFS_MSG_READLINK] = "readlink",
	[CSVFS_MSG_READDIR] = "readdir",
	[CSVFS_MSG_STATFS] = "statfs",
	[CSVFS_MSG_OPEN] = "open",
	[CSVFS_MSG_RELEASE] = "release",
	[CSVFS_MSG_GET_EXTENTS] = "get_extents",
	[CSVFS_MSG_ALLOC] = "alloc",
	[CSVFS_MSG_WRITE_DONE] = "write_done",
	[CSVFS_MSG_FALLOCATE] = "fallocate",
	[CSVFS_MSG_INLINE_READ] = "inline_read",
	[CSVFS_MSG_INLINE_WRITE] = "inline_write",
	[CSVFS_MSG_GETXATTR] = "getxattr",
	[CSVFS_MSG_SETXATTR] = "setxattr",
	[CSVFS_MSG_LISTXATTR] = "listxattr",
	[CSVFS_MSG_REMOVEXATTR] = "removexattr",
	[CSVFS_MSG_FSYNC] = "fsync",
	[CSVFS_MSG_LSEEK] = "lseek",
	[CSVFS_MSG_FORGET] = "forget",
	[CSVFS_MSG_HANDOFF] = "handoff",
	[CSVFS_MSG_RECALL] = "recall",
	[CSVFS_MSG_RECALL_DONE] = "recall_done",
	[CSVFS_MSG_SET_IFLAGS] = "set_iflags",
	[CSVFS_MSG_CREATE] = "create",
	[CSVFS_MSG_TMPFILE] = "tmpfile",
	[CSVFS_MSG_INVAL] = "inval",
	[CSVFS_MSG_INVAL_ACK] = "inval_ack",
	[CSVFS_MSG_SET_RESERVE] = "set_reserve",
	[CSVFS_MSG_PREALLOC] = "prealloc",
	[CSVFS_MSG_GROW] = "grow",
	[CSVFS_MSG_LOCK_SET] = "lock_set",
	[CSVFS_MSG_LOCK_GET] = "lock_get",
	[CSVFS_MSG_LOCK_WAKE] = "lock_wake",
	[CSVFS_MSG_LOCK_CANCEL] = "lock_cancel",
	[CSVFS_MSG_LOCK_RECLAIM_DONE] = "lock_reclaim_done",
	[CSVFS_MSG_LOCK_LIST] = "lock_list",
	[CSVFS_MSG_ELECT_STATE] = "elect_state",
	[CSVFS_MSG_ELECT_ANNOUNCE] = "elect_announce",
	[CSVFS_MSG_ELECT_RESIGN] = "elect_resign",
	[CSVFS_MSG_ELECT_MOVE] = "elect_move",
	[CSVFS_MSG_ELECT_RESTART] = "elect_restart",
	[CSVFS_MSG_ELECT_DEPOSE] = "elect_depose",
};

const char *msg_type_name(unsigned type)
{
	if (type < CSVFS_MSG_TYPE_MAX && type_names[type])
		return type_names[type];
	return "unknown";
}

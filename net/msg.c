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
	[CSVFS_MSG_INVAL] = "inval",
	[CSVFS_MSG_INVAL_ACK] = "inval_ack",
	[CSVFS_MSG_SET_RESERVE] = "set_reserve",
	[CSVFS_MSG_PREALLOC] = "prealloc",
	[CSVFS_MSG_GROW] = "grow",
};

const char *msg_type_name(unsigned type)
{
	if (type < CSVFS_MSG_TYPE_MAX && type_names[type])
		return type_names[type];
	return "unknown";
}

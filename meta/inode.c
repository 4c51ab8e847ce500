/*
 * inode: inode blocks and the records inside them.
 *
 * xattr records are packed in the inode's xattr area as
 * {u8 name_len, u8 value_len >> 16, le16 value_len, name, value}; names
 * carry their namespace prefix. Keeping them in the inode keeps a
 * getxattr at one block read and makes every change to them one
 * journaled block; only records that outgrow the area (format 1.2) go
 * to a blob chain (meta/blob.h), rewritten whole on each change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "csvfs/proto.h"
#include "meta/alloc.h"
#include "meta/blob.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define XREC_HDR 4

int ino_get(struct jop *op, struct alloc *a, uint64_t ino,
	    struct csvfs_inode *in, struct mbuf **mb)
{
	struct mbuf *b;
	int used = 0, rc;

	rc = alloc_mblk_test(a, op, ino, &used);
	if (rc == -CSVFS_ECORRUPT || (!rc && !used))
		return -ESTALE;
	if (rc)
		return rc;
	rc = jop_read(op, ino, CSVFS_MAGIC_INODE, &b);
	if (rc)
		return rc;
	od_inode_decode(b->data, in);
	if (in->mode == 0)
		return -ESTALE;
	if (mb)
		*mb = b;
	return 0;
}

int ino_put(struct jop *op, struct mbuf *mb, const struct csvfs_inode *in)
{
	int rc = jop_write(op, mb);

	if (rc)
		return rc;
	od_inode_encode(in, mb->data);
	return 0;
}

int ino_alloc(struct jop *op, struct alloc *a, uint64_t *ino,
	      struct csvfs_inode *in, struct mbuf **mb)
{
	uint64_t m;
	int rc;

	rc = alloc_mblk(a, op, &m);
	if (rc)
		return rc;
	rc = jop_new(op, m, mb);
	if (rc)
		return rc;
	memset(in, 0, sizeof(*in));
	od_hdr_init(&in->hdr, CSVFS_MAGIC_INODE, m, jrnl_uuid(op->j));
	*ino = m;
	return 0;
}

int ino_free(struct jop *op, struct alloc *a, uint64_t ino)
{
	struct mbuf *mb;
	struct csvfs_inode in;
	int rc;

	/* Leave a dead inode behind: a stale handle then sees mode 0. */
	rc = jop_read(op, ino, CSVFS_MAGIC_INODE, &mb);
	if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	od_inode_decode(mb->data, &in);
	/* What it kept outside its block goes with it. */
	if (S_ISLNK(in.mode) && (in.flags & CSVFS_IFL_LONGLINK))
		rc = blob_free(op, a, od_get64(in.body), ino,
			       CSVFS_BLOB_SYMLINK);
	if (!rc && (in.flags & CSVFS_IFL_XBLOB))
		rc = blob_free(op, a, od_get64(in.xattr), ino,
			       CSVFS_BLOB_XATTR);
	if (rc)
		return rc;
	in.flags &= ~(uint32_t)(CSVFS_IFL_LONGLINK | CSVFS_IFL_XBLOB);
	in.mode = 0;
	in.nlink = 0;
	od_inode_encode(&in, mb->data);
	return alloc_free_mblk(a, op, ino);
}

/* Value length of the record at r (3 bytes since format 1.2). */
static size_t xrec_vlen(const uint8_t *r)
{
	return od_get16(r + 2) | (size_t)r[1] << 16;
}

/* Finds name; returns its offset in the records or -ENODATA. */
static int xfind(const struct ino_xattrs *x, const char *name, size_t *rlen)
{
	size_t nlen = strlen(name), off = 0;

	while (off + XREC_HDR <= x->len) {
		const uint8_t *r = x->p + off;
		size_t rn = r[0], rv = xrec_vlen(r);

		if (off + XREC_HDR + rn + rv > x->len)
			return -CSVFS_ECORRUPT;
		if (rn == nlen && memcmp(r + XREC_HDR, name, nlen) == 0) {
			*rlen = XREC_HDR + rn + rv;
			return (int)off;
		}
		off += XREC_HDR + rn + rv;
	}
	return -ENODATA;
}

void ino_xattr_view(struct csvfs_inode *in, struct ino_xattrs *x)
{
	memset(x, 0, sizeof(*x));
	x->p = in->xattr;
	x->len = in->xattr_len <= CSVFS_INODE_XATTR_SIZE ? in->xattr_len : 0;
	x->cap = CSVFS_INODE_XATTR_SIZE;
}

int ino_xattr_load(struct jop *op, uint64_t ino, struct csvfs_inode *in,
		   int change, struct ino_xattrs *x)
{
	int rc;

	ino_xattr_view(in, x);
	if (!change && !(in->flags & CSVFS_IFL_XBLOB))
		return 0;
	if ((in->flags & CSVFS_IFL_XBLOB) &&
	    (in->xattr_len == 0 || in->xattr_len > CSVFS_XATTR_TOTAL_MAX))
		return -CSVFS_ECORRUPT;
	x->cap = change ? CSVFS_XATTR_TOTAL_MAX : in->xattr_len;
	x->p = malloc(x->cap);
	if (!x->p)
		return -ENOMEM;
	x->heap = 1;
	x->len = in->xattr_len;
	if (in->flags & CSVFS_IFL_XBLOB)
		rc = blob_load(op, od_get64(in->xattr), ino, CSVFS_BLOB_XATTR,
			       x->p, x->len);
	else
		rc = (memcpy(x->p, in->xattr, x->len), 0);
	if (rc)
		ino_xattr_done(x);
	return rc;
}

int ino_xattr_store(struct jop *op, struct alloc *a, uint64_t ino,
		    struct csvfs_inode *in, const struct ino_xattrs *x)
{
	uint64_t old = in->flags & CSVFS_IFL_XBLOB ? od_get64(in->xattr) : 0;
	uint64_t head = 0;
	int rc = 0;

	/* The new chain first: nothing is lost if it cannot be made. */
	if (x->len > CSVFS_INODE_XATTR_SIZE)
		rc = blob_store(op, a, ino, CSVFS_BLOB_XATTR, x->p, x->len,
				&head);
	if (!rc)
		rc = blob_free(op, a, old, ino, CSVFS_BLOB_XATTR);
	if (rc)
		return rc;
	memset(in->xattr, 0, sizeof(in->xattr));
	if (head) {
		od_put64(in->xattr, head);
		in->flags |= CSVFS_IFL_XBLOB;
	} else {
		memcpy(in->xattr, x->p, x->len);
		in->flags &= ~(uint32_t)CSVFS_IFL_XBLOB;
	}
	in->xattr_len = x->len;
	return 0;
}

void ino_xattr_done(struct ino_xattrs *x)
{
	if (x->heap)
		free(x->p);
	memset(x, 0, sizeof(*x));
}

int ino_xattr_get(const struct ino_xattrs *x, const char *name, void *value,
		  size_t size)
{
	size_t rlen;
	int off = xfind(x, name, &rlen);
	const uint8_t *r;
	size_t vlen;

	if (off < 0)
		return off;
	r = x->p + off;
	vlen = xrec_vlen(r);
	if (size == 0)
		return (int)vlen;
	if (size < vlen)
		return -ERANGE;
	memcpy(value, r + XREC_HDR + r[0], vlen);
	return (int)vlen;
}

int ino_xattr_remove(struct ino_xattrs *x, const char *name)
{
	size_t rlen;
	int off = xfind(x, name, &rlen);

	if (off < 0)
		return off;
	memmove(x->p + off, x->p + off + rlen, x->len - off - rlen);
	x->len -= (uint32_t)rlen;
	memset(x->p + x->len, 0, rlen);
	return 0;
}

int ino_xattr_set(struct ino_xattrs *x, const char *name, const void *value,
		  size_t size, int flags)
{
	size_t nlen = strlen(name), rlen = 0, need = XREC_HDR + nlen + size;
	int off = xfind(x, name, &rlen);
	uint8_t *r;

	if (nlen == 0 || nlen > 255)
		return -ERANGE;
	if (size > CSVFS_XATTR_VALUE_MAX)
		return -E2BIG;
	if (off < 0 && off != -ENODATA)
		return off;
	if (off >= 0 && (flags & CSVFS_XATTR_CREATE))
		return -EEXIST;
	if (off < 0 && (flags & CSVFS_XATTR_REPLACE))
		return -ENODATA;
	if (x->len - (off >= 0 ? rlen : 0) + need > x->cap)
		return -ENOSPC;
	if (off >= 0)
		ino_xattr_remove(x, name);
	r = x->p + x->len;
	r[0] = (uint8_t)nlen;
	r[1] = (uint8_t)(size >> 16);
	od_put16(r + 2, (uint16_t)size);
	memcpy(r + XREC_HDR, name, nlen);
	memcpy(r + XREC_HDR + nlen, value, size);
	x->len += (uint32_t)need;
	return 0;
}

int ino_xattr_list(const struct ino_xattrs *x, char *list, size_t size)
{
	size_t off = 0, total = 0;

	while (off + XREC_HDR <= x->len) {
		const uint8_t *r = x->p + off;
		size_t rn = r[0], rv = xrec_vlen(r);

		if (off + XREC_HDR + rn + rv > x->len)
			return -CSVFS_ECORRUPT;
		if (size) {
			if (total + rn + 1 > size)
				return -ERANGE;
			memcpy(list + total, r + XREC_HDR, rn);
			list[total + rn] = '\0';
		}
		total += rn + 1;
		off += XREC_HDR + rn + rv;
	}
	return (int)total;
}

void ino_touch(struct csvfs_inode *in, int mtime_too)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	in->ctime_sec = (uint64_t)ts.tv_sec;
	in->ctime_nsec = (uint32_t)ts.tv_nsec;
	if (mtime_too) {
		in->mtime_sec = in->ctime_sec;
		in->mtime_nsec = in->ctime_nsec;
	}
}

uint8_t ino_dtype(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return CSVFS_DT_REG;
	case S_IFDIR: return CSVFS_DT_DIR;
	case S_IFLNK: return CSVFS_DT_LNK;
	case S_IFCHR: return CSVFS_DT_CHR;
	case S_IFBLK: return CSVFS_DT_BLK;
	case S_IFIFO: return CSVFS_DT_FIFO;
	case S_IFSOCK: return CSVFS_DT_SOCK;
	}
	return CSVFS_DT_UNKNOWN;
}

uint32_t ino_inline_cap(const struct csvfs_inode *in)
{
	return in->xattr_len || (in->flags & CSVFS_IFL_XBLOB) ?
	       CSVFS_INLINE_MAX : CSVFS_INLINE_XMAX;
}

void ino_area_copy(const struct ino_area *a, uint32_t off, void *buf,
		   uint32_t len, int into_area)
{
	uint8_t *b = buf;

	while (len) {
		uint8_t *p;
		uint32_t room, n;

		if (off < a->first_len) {
			p = a->first + off;
			room = a->first_len - off;
		} else {
			p = a->second + (off - a->first_len);
			room = a->total - off;
		}
		n = len < room ? len : room;
		if (!into_area)
			memcpy(b, p, n);
		else if (b)
			memcpy(p, b, n);
		else
			memset(p, 0, n);
		if (b)
			b += n;
		off += n;
		len -= n;
	}
}

/* The inline data are two pieces: body[], then xattr[]. */
static struct ino_area inline_area(const struct csvfs_inode *in)
{
	struct ino_area a = {
		.first = (uint8_t *)in->body,
		.first_len = CSVFS_INLINE_MAX,
		.second = (uint8_t *)in->xattr,
		.total = CSVFS_INLINE_XMAX,
	};

	return a;
}

void ino_inline_read(const struct csvfs_inode *in, uint32_t off, void *buf,
		     uint32_t len)
{
	struct ino_area a = inline_area(in);

	ino_area_copy(&a, off, buf, len, 0);
}

void ino_inline_write(struct csvfs_inode *in, uint32_t off, const void *buf,
		      uint32_t len)
{
	struct ino_area a = inline_area(in);

	ino_area_copy(&a, off, (void *)buf, len, 1);
}

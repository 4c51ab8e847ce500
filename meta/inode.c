/*
 * inode: inode blocks and the records inside them.
 *
 * xattr records are packed in the inode's xattr area as
 * {u8 name_len, u8 reserved, le16 value_len, name, value}; names carry their
 * namespace prefix. Keeping them in the inode keeps a getxattr at one block
 * read and makes every change to them one journaled block.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csvfs/errors.h"
#include "csvfs/proto.h"
#include "meta/alloc.h"
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
	in.mode = 0;
	in.nlink = 0;
	od_inode_encode(&in, mb->data);
	return alloc_free_mblk(a, op, ino);
}

/* Finds name; returns its offset in the area or -ENODATA. */
static int xfind(const struct csvfs_inode *in, const char *name,
		 size_t *rlen)
{
	size_t nlen = strlen(name), off = 0;

	while (off + XREC_HDR <= in->xattr_len) {
		const uint8_t *r = in->xattr + off;
		size_t rn = r[0], rv = od_get16(r + 2);

		if (off + XREC_HDR + rn + rv > in->xattr_len)
			return -CSVFS_ECORRUPT;
		if (rn == nlen && memcmp(r + XREC_HDR, name, nlen) == 0) {
			*rlen = XREC_HDR + rn + rv;
			return (int)off;
		}
		off += XREC_HDR + rn + rv;
	}
	return -ENODATA;
}

int ino_xattr_get(const struct csvfs_inode *in, const char *name,
		  void *value, size_t size)
{
	size_t rlen;
	int off = xfind(in, name, &rlen);
	const uint8_t *r;
	size_t vlen;

	if (off < 0)
		return off;
	r = in->xattr + off;
	vlen = od_get16(r + 2);
	if (size == 0)
		return (int)vlen;
	if (size < vlen)
		return -ERANGE;
	memcpy(value, r + XREC_HDR + r[0], vlen);
	return (int)vlen;
}

int ino_xattr_remove(struct csvfs_inode *in, const char *name)
{
	size_t rlen;
	int off = xfind(in, name, &rlen);

	if (off < 0)
		return off;
	memmove(in->xattr + off, in->xattr + off + rlen,
		in->xattr_len - off - rlen);
	in->xattr_len -= (uint32_t)rlen;
	memset(in->xattr + in->xattr_len, 0, rlen);
	return 0;
}

int ino_xattr_set(struct csvfs_inode *in, const char *name,
		  const void *value, size_t size, int flags)
{
	size_t nlen = strlen(name), rlen, need = XREC_HDR + nlen + size;
	int off = xfind(in, name, &rlen);
	uint8_t *r;

	if (nlen == 0 || nlen > 255)
		return -ERANGE;
	if (off < 0 && off != -ENODATA)
		return off;
	if (off >= 0 && (flags & CSVFS_XATTR_CREATE))
		return -EEXIST;
	if (off < 0 && (flags & CSVFS_XATTR_REPLACE))
		return -ENODATA;
	if (in->xattr_len - (off >= 0 ? rlen : 0) + need >
	    CSVFS_INODE_XATTR_SIZE)
		return -ENOSPC;
	if (off >= 0)
		ino_xattr_remove(in, name);
	r = in->xattr + in->xattr_len;
	r[0] = (uint8_t)nlen;
	r[1] = 0;
	od_put16(r + 2, (uint16_t)size);
	memcpy(r + XREC_HDR, name, nlen);
	memcpy(r + XREC_HDR + nlen, value, size);
	in->xattr_len += (uint32_t)need;
	return 0;
}

int ino_xattr_list(const struct csvfs_inode *in, char *list, size_t size)
{
	size_t off = 0, total = 0;

	while (off + XREC_HDR <= in->xattr_len) {
		const uint8_t *r = in->xattr + off;
		size_t rn = r[0], rv = od_get16(r + 2);

		if (off + XREC_HDR + rn + rv > in->xattr_len)
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

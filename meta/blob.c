/*
 * blob: chains of metadata blocks holding a long symlink target or an
 * inode's xattr records (see blob.h and include/csvfs/ondisk.h, 1.2).
 *
 * Why chains of 4 KiB metadata blocks and not a data block: a 4 KiB
 * symlink or 64 KiB of xattrs would otherwise cost a whole large block
 * (1-8 MiB), and metadata blocks are journaled, so a value and the inode
 * that points to it change in one transaction. Every block names its
 * inode, kind and position, so fsck finds a chain that is not where its
 * inode says, and a block shared by two chains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "meta/alloc.h"
#include "meta/blob.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

size_t blob_max(uint32_t kind)
{
	switch (kind) {
	case CSVFS_BLOB_SYMLINK:
		return CSVFS_SYMLINK_MAX;
	case CSVFS_BLOB_XATTR:
		return CSVFS_XATTR_TOTAL_MAX;
	default:
		return 0;
	}
}

int blob_store(struct jop *op, struct alloc *a, uint64_t ino, uint32_t kind,
	       const void *data, size_t len, uint64_t *head)
{
	size_t n = (len + CSVFS_BLOB_DATA - 1) / CSVFS_BLOB_DATA, k;
	uint64_t mblk[CSVFS_BLOB_MAX_CHAIN];
	struct csvfs_blob *b = NULL;
	struct mbuf *mb;
	int rc = 0;

	if (len == 0 || len > blob_max(kind))
		return -EINVAL;
	/* All blocks first: each names the next one. */
	for (k = 0; k < n && !rc; k++)
		rc = alloc_mblk(a, op, &mblk[k]);
	if (rc)
		return rc;
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (k = 0; k < n && !rc; k++) {
		size_t off = k * CSVFS_BLOB_DATA;
		size_t part = len - off < CSVFS_BLOB_DATA ? len - off :
							    CSVFS_BLOB_DATA;

		memset(b, 0, sizeof(*b));
		od_hdr_init(&b->hdr, CSVFS_MAGIC_BLOB, mblk[k],
			    jrnl_uuid(op->j));
		b->ino = ino;
		b->next = k + 1 < n ? mblk[k + 1] : 0;
		b->kind = kind;
		b->len = (uint32_t)part;
		b->seq = (uint32_t)k;
		memcpy(b->data, (const uint8_t *)data + off, part);
		rc = jop_new(op, mblk[k], &mb);
		if (!rc)
			od_blob_encode(b, mb->data);
	}
	free(b);
	if (!rc)
		*head = mblk[0];
	return rc;
}

/* Reads block k of a chain into *b and checks it belongs there. */
static int read_one(struct jop *op, uint64_t mblk, uint64_t ino,
		    uint32_t kind, uint32_t k, struct csvfs_blob *b)
{
	struct mbuf *mb;
	int rc = jop_read(op, mblk, CSVFS_MAGIC_BLOB, &mb);

	if (rc)
		return rc;
	od_blob_decode(mb->data, b);
	if (b->ino != ino || b->kind != kind || b->seq != k ||
	    b->len == 0 || b->len > CSVFS_BLOB_DATA)
		return -CSVFS_ECORRUPT;
	return 0;
}

int blob_load(struct jop *op, uint64_t head, uint64_t ino, uint32_t kind,
	      void *buf, size_t len)
{
	struct csvfs_blob *b = malloc(sizeof(*b));
	uint64_t cur = head;
	size_t off = 0;
	uint32_t k = 0;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	while (!rc && cur && k < CSVFS_BLOB_MAX_CHAIN) {
		rc = read_one(op, cur, ino, kind, k++, b);
		if (!rc && off + b->len > len)
			rc = -CSVFS_ECORRUPT;
		if (!rc) {
			memcpy((uint8_t *)buf + off, b->data, b->len);
			off += b->len;
			cur = b->next;
		}
	}
	if (!rc && (cur || off != len))
		rc = -CSVFS_ECORRUPT;
	free(b);
	return rc;
}

int blob_free(struct jop *op, struct alloc *a, uint64_t head, uint64_t ino,
	      uint32_t kind)
{
	struct csvfs_blob *b;
	uint64_t cur = head;
	uint32_t k = 0;
	int rc = 0;

	if (!head)
		return 0;
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	while (!rc && cur && k < CSVFS_BLOB_MAX_CHAIN) {
		rc = read_one(op, cur, ino, kind, k++, b);
		if (!rc)
			rc = alloc_free_mblk(a, op, cur);
		if (!rc)
			cur = b->next;
	}
	free(b);
	return rc;
}

int blob_check(struct jop *op, uint64_t head, uint64_t ino, uint32_t kind,
	       size_t len, int (*cb)(void *ctx, uint64_t mblk), void *ctx,
	       char *why, size_t wlen)
{
	struct csvfs_blob *b = malloc(sizeof(*b));
	uint64_t cur = head;
	size_t off = 0;
	uint32_t k = 0;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	if (!head || len == 0 || len > blob_max(kind)) {
		snprintf(why, wlen, "holds %zu bytes in a blob at %llu", len,
			 (unsigned long long)head);
		rc = -CSVFS_ECORRUPT;
	}
	while (!rc && cur) {
		if (k >= CSVFS_BLOB_MAX_CHAIN) {
			snprintf(why, wlen, "blob chain longer than %u blocks",
				 CSVFS_BLOB_MAX_CHAIN);
			rc = -CSVFS_ECORRUPT;
			break;
		}
		rc = read_one(op, cur, ino, kind, k, b);
		if (rc == -ENOMEM || rc == -EIO)
			break;
		if (rc) {
			snprintf(why, wlen, "blob block %u (mblk %llu) is "
				 "unreadable or not this inode's", k,
				 (unsigned long long)cur);
			break;
		}
		rc = cb(ctx, cur);
		if (rc) {
			snprintf(why, wlen, "blob block mblk %llu is used "
				 "twice", (unsigned long long)cur);
			break;
		}
		off += b->len;
		cur = b->next;
		k++;
	}
	if (!rc && off != len) {
		snprintf(why, wlen, "blob holds %zu bytes, the inode says %zu",
			 off, len);
		rc = -CSVFS_ECORRUPT;
	}
	free(b);
	return rc;
}

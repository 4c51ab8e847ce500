/*
 * fsops_space: the space management xattrs csvfsctl uses (see
 * FSOPS_XA_RESERVE... in fs/fsops.h), answered through the coordinator on
 * standalone and cluster mounts alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "fs/data.h"
#include "fs/fsops.h"
#include "fs/fsops_i.h"
#include "net/mdc.h"

int fsops_is_space_xa(const char *name)
{
	return !strcmp(name, FSOPS_XA_RESERVE) ||
	       !strcmp(name, FSOPS_XA_PREALLOC) ||
	       !strcmp(name, FSOPS_XA_GROW) ||
	       !strcmp(name, FSOPS_XA_SPACE);
}

/* A decimal byte count in [p, p+len), no sign, no suffix. */
static int parse_bytes(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

int fsops_space_xa_set(struct fsops_ctx *c, uint64_t ino, const char *name,
		       const char *value, size_t size)
{
	struct csvfs_attr a;
	uint64_t v = 0, old, new;
	int rc;

	if (!strcmp(name, FSOPS_XA_SPACE))
		return -EPERM;
	if (!strcmp(name, FSOPS_XA_GROW)) {
		rc = mdc_grow(c->mdc, &old, &new);
		if (rc)
			log_err("grow: %s", csvfs_strerror(rc));
		else
			log_info("volume grown from %" PRIu64 " to %" PRIu64
				 " blocks", old, new);
		return rc;
	}
	rc = parse_bytes(value, size, &v);
	if (rc)
		return rc;
	if (!strcmp(name, FSOPS_XA_RESERVE))
		return mdc_set_reserve(c->mdc, ino, v, &a);
	/* Preallocate: our unreported writes first, then a fresh map. */
	rc = data_flush_ino(c->data, ino);
	if (!rc)
		rc = mdc_prealloc(c->mdc, ino, v, &a);
	if (!rc)
		data_attr_changed(c->data, ino, &a);
	/*
	 * The size may have grown: the kernel's cached attributes go
	 * (offset -1: attributes only, no page cache, no inode lock, so
	 * safe inside this setxattr).
	 */
	if (!rc && c->se)
		fuse_lowlevel_notify_inval_inode(c->se, fsops_to_fuse(c, ino),
						 -1, 0);
	return rc;
}

int fsops_space_xa_get(struct fsops_ctx *c, uint64_t ino, const char *name,
		       char *buf, size_t size)
{
	struct mdc_statfs sf;
	struct csvfs_attr a;
	char tmp[256];
	int n, rc;

	if (!strcmp(name, FSOPS_XA_RESERVE)) {
		rc = mdc_getattr(c->mdc, ino, &a);
		if (rc)
			return rc;
		n = snprintf(tmp, sizeof(tmp), "%" PRIu64, a.reserve_bytes);
	} else if (!strcmp(name, FSOPS_XA_SPACE)) {
		rc = mdc_statfs(c->mdc, &sf);
		if (rc)
			return rc;
		n = snprintf(tmp, sizeof(tmp), "bsize=%" PRIu32 " blocks=%"
			     PRIu64 " free=%" PRIu64 " avail=%" PRIu64
			     " reserved=%" PRIu64 " provisioned=%" PRIu64
			     " files=%" PRIu64 " ffree=%" PRIu64, sf.bsize,
			     sf.blocks, sf.bfree, sf.bavail, sf.reserved,
			     sf.provisioned, sf.files, sf.ffree);
	} else {
		return -ENODATA;
	}
	return fsops_xa_reply(tmp, n, sizeof(tmp), buf, size);
}

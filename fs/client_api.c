/*
 * client_api: file ownership calls over the daemon's xattr interface (see
 * client_api.h and FSOPS_XA_* in fs/fsops.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/client_api.h"

int csvfs_handoff(const char *path, uint32_t from, uint32_t to)
{
	char v[32];

	if (to == 0)
		return -EINVAL;
	if (from)
		snprintf(v, sizeof(v), "%" PRIu32 ":%" PRIu32, from, to);
	else
		snprintf(v, sizeof(v), "%" PRIu32, to);
	if (setxattr(path, "trusted.csvfs.handoff", v, strlen(v), 0))
		return -errno;
	return 0;
}

int csvfs_get_owner(const char *path, struct csvfs_owner *o)
{
	char v[160];
	unsigned long long since, epoch;
	unsigned node, readers = 0;
	ssize_t n;

	n = getxattr(path, "trusted.csvfs.owner", v, sizeof(v) - 1);
	if (n < 0)
		return -errno;
	v[n] = '\0';
	memset(o, 0, sizeof(*o));
	/* readers= came with format 1.1's rules; older daemons lack it */
	if (sscanf(v, "node=%u mode=%15s since_ns=%llu epoch=%llu readers=%u",
		   &node, o->mode, &since, &epoch, &readers) < 4)
		return -EPROTO;
	o->node = node;
	o->readers = readers;
	o->since_ns = since;
	o->epoch = epoch;
	return 0;
}

static int set_flag(const char *path, const char *name, int on)
{
	if (setxattr(path, name, on ? "1" : "0", 1, 0))
		return -errno;
	return 0;
}

int csvfs_set_multiwriter(const char *path, int on)
{
	return set_flag(path, "trusted.csvfs.multiwriter", on);
}

int csvfs_set_pinned(const char *path, int on)
{
	return set_flag(path, "trusted.csvfs.pinned", on);
}

int csvfs_set_strict(const char *path, int on)
{
	return set_flag(path, "trusted.csvfs.strict", on);
}

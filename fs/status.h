/*
 * status: the one builder of a daemon's status object, the value of the
 * "trusted.csvfs.status" xattr on a mount's root (csvfsctl status reads
 * it). Standalone and cluster mounts fill the same view, so both carry the
 * same fields:
 *
 *   {"mode":"standalone"|"cluster",
 *    "volume":{"uuid":"...","label":"...","block_size":N},
 *    "node":N,"quorate":true|false,
 *    "coordinator":{"node":N,"target":N,"preferred":N,"self":true|false},
 *    "members":[{"node":N,"state":"coordinator"|"member"},...]
 *    [,"cache":{"hits":N,"misses":N,"fills":N,"invalidations":N,
 *               "entries":N}]}
 *
 * Strings (the label above all: any bytes mkfs.csvfs -L took) are JSON
 * escaped.
 */
#ifndef CSVFS_FS_STATUS_H
#define CSVFS_FS_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct mcache_stats;

struct status_view {
	const char *mode;		/* "standalone" or "cluster" */
	const uint8_t *uuid;		/* CSVFS_UUID_SIZE bytes */
	const char *label;		/* NUL-terminated, may be "" */
	uint64_t block_size;
	uint32_t node;			/* this node */
	int quorate;
	uint32_t coord, target, preferred;	/* 0 = none */
	int self;			/* this node serves */
	const uint32_t *members;	/* node ids */
	size_t nmembers;
	const struct mcache_stats *cache;	/* NULL: no "cache" field */
};

/*
 * Writes v's status object into out (size bytes, NUL-terminated).
 * Returns its length, or -ERANGE when it does not fit. Any thread.
 */
int status_json(const struct status_view *v, char *out, size_t size);

#endif /* CSVFS_FS_STATUS_H */

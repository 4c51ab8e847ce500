/*
 * testvol.h: the fixture CUnit suites share to work on a formatted image
 * below the coordinator: the journal (no commit thread) and the allocator
 * of one volume. Each suite formats its own image into dev/sb first.
 */
#ifndef CSVFS_TESTVOL_H
#define CSVFS_TESTVOL_H

#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/jrnl.h"

static char img[64];
static struct dev *dev;
static struct csvfs_super sb;
static struct jrnl *jr;
static struct alloc *al;

/* Replays the journal, opens it and loads the allocator. */
static inline int open_volume(void)
{
	struct jop op;
	uint64_t ntx;
	int rc;

	rc = jrnl_replay(dev, &sb, &ntx);
	if (!rc)
		rc = jrnl_open(dev, &sb, JRNL_NO_THREAD, &jr);
	if (rc)
		return rc;
	jop_begin(jr, &op);
	rc = alloc_load(&op, &sb, &al);
	jop_end(&op, rc);
	return rc;
}

/* Frees the allocator and closes (commits, checkpoints) the journal. */
static inline int close_volume(void)
{
	int rc;

	alloc_release(al);
	al = NULL;
	rc = jrnl_close(jr);
	jr = NULL;
	return rc;
}

#endif /* CSVFS_TESTVOL_H */

/*
 * testmds.h: the fixture CUnit suites share to run the coordinator
 * standalone on an image file (img, formatted by the suite) and talk to it
 * through the metadata client, as the FUSE daemon does.
 */
#ifndef CSVFS_TESTMDS_H
#define CSVFS_TESTMDS_H

#include <CUnit/Basic.h>

#include "meta/dev.h"
#include "meta/mds/mds.h"
#include "net/mdc.h"

static char img[64];
static struct dev *dev;
static struct mds *mds;
static struct mdc *mdc;
static struct mdc_volinfo vi;

/* Every mount of a node is a new incarnation (its request records). */
static uint64_t incarnation = 42;

/* Mounts img: coordinator, client, HELLO. */
static void start(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	struct mdc_transport t;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	mds_local_transport(mds, &t);
	CU_ASSERT_FATAL(mdc_new(&t, 1, ++incarnation, &mdc) == 0);
	CU_ASSERT_FATAL(mdc_hello(mdc, "test", &vi) == 0);
}

static void stop(void)
{
	mdc_free(mdc);
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
	dev = NULL;
}

#endif /* CSVFS_TESTMDS_H */

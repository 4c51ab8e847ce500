/*
 * testmds.h: the fixture CUnit suites share to run the coordinator on an
 * image file and talk to it through the metadata client, as the FUSE
 * daemon does: testmds_format makes and formats img, start/stop mount it
 * standalone, testmds_start_nodes/testmds_stop_nodes run it in cluster
 * mode with one client per node (the suite's stubs in its mds_opts).
 */
#ifndef CSVFS_TESTMDS_H
#define CSVFS_TESTMDS_H

#include <CUnit/Basic.h>
#include <unistd.h>

#include "meta/dev.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "net/mdc.h"
#include "tests/unit/testimg.h"

static char img[64];
static struct dev *dev;
static struct mds *mds;
static struct mdc *mdc;
static struct mdc_volinfo vi;

/* Every mount of a node is a new incarnation (its request records). */
static uint64_t incarnation = 42;

/*
 * A new image file /tmp/<name>.XXXXXX of size bytes in img, formatted
 * with the defaults. For a suite's init: 0 or -1 / the format error.
 */
static inline int testmds_format(const char *name, uint64_t size)
{
	if (testimg_new(img, sizeof(img), name, size))
		return -1;
	return testimg_mkfs(img, size, NULL);
}

/* For a suite's cleanup. */
static inline int testmds_unlink(void)
{
	unlink(img);
	return 0;
}

/*
 * Cluster mode: the coordinator with options o, and a client nm[n] for
 * each node 1..nnodes, each a new incarnation that said HELLO.
 */
static inline void testmds_start_nodes(const struct mds_opts *o,
				       struct mdc **nm, uint32_t nnodes)
{
	struct mdc_transport t;
	uint32_t n;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, o, &mds) == 0);
	local_transport(mds, &t);
	for (n = 1; n <= nnodes; n++) {
		CU_ASSERT_FATAL(mdc_new(&t, n, ++incarnation, &nm[n]) == 0);
		CU_ASSERT_FATAL(mdc_hello(nm[n], "test", &vi) == 0);
	}
}

static inline void testmds_stop_nodes(struct mdc **nm, uint32_t nnodes)
{
	uint32_t n;

	for (n = 1; n <= nnodes; n++)
		mdc_free(nm[n]);
	CU_ASSERT(mds_stop(mds) == 0);
	dev_close(dev);
	dev = NULL;
}

/* Mounts img: coordinator, client, HELLO. */
static void start(void)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1 };
	struct mdc_transport t;

	CU_ASSERT_FATAL(dev_open(img, 0, &dev) == 0);
	CU_ASSERT_FATAL(mds_start(dev, &o, &mds) == 0);
	local_transport(mds, &t);
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

/*
 * local: the standalone wiring of the client (net/mdc.h) to a coordinator
 * in the same process (meta/mds/mds.h). A standalone mount, fsck's
 * repairs through the coordinator and the unit suites call the
 * coordinator this way, with no connection and no encryption; cluster
 * nodes use the RPC transport of fs/cluster.c instead.
 */
#ifndef CSVFS_FS_LOCAL_H
#define CSVFS_FS_LOCAL_H

#include "meta/mds/mds.h"
#include "net/mdc.h"

/* Fills *t so that every mdc call on it is mds_dispatch on m. */
void local_transport(struct mds *m, struct mdc_transport *t);

#endif

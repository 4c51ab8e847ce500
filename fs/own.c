/*
 * own: the node's side of the file-ownership protocol (see own.h for the
 * steps; the coordinator's side is meta/mds/mds_own.c, the rules
 * lockd/lockd.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "csvfs/ondisk.h"
#include "fs/own.h"
#include "net/mdc.h"

void own_gate_init(struct own_gate *g)
{
	pthread_rwlockattr_t ra;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	g->revoked = 0;
}

void own_gate_destroy(struct own_gate *g)
{
	pthread_rwlock_destroy(&g->lock);
}

void own_gate_revoke(struct own_gate *g)
{
	pthread_rwlock_wrlock(&g->lock);
	g->revoked = 1;
	pthread_rwlock_unlock(&g->lock);
}

/*
 * A revoked file is writable again only once this node owns it again (a
 * handoff back, as when a migration is cancelled).
 */
int own_gate_enter(struct own_gate *g, struct mdc *mdc, uint64_t ino,
		   uint32_t node,
		   void (*restored)(void *arg, const struct csvfs_attr *a),
		   void *arg)
{
	struct csvfs_attr a;
	int rc;

	pthread_rwlock_rdlock(&g->lock);
	if (!g->revoked)
		return 0;
	pthread_rwlock_unlock(&g->lock);
	rc = mdc_getattr(mdc, ino, &a);
	if (rc)
		return -EIO;
	if (!(a.flags & CSVFS_IFL_MULTIWRITER) &&
	    !(a.own_mode == CSVFS_OWN_WRITER && a.own_node == node)) {
		log_ino(ino, "write refused: the file was handed off "
			"to node %u", a.own_node);
		return -EIO;
	}
	pthread_rwlock_wrlock(&g->lock);
	if (g->revoked) {
		g->revoked = 0;
		if (restored)
			restored(arg, &a);
		log_ino(ino, "write access restored (owned again)");
	}
	pthread_rwlock_unlock(&g->lock);
	pthread_rwlock_rdlock(&g->lock);
	return 0;
}

void own_gate_leave(struct own_gate *g)
{
	pthread_rwlock_unlock(&g->lock);
}

struct recall_job {
	void (*fn)(void *ctx, uint64_t ino);
	void *ctx;
	uint64_t ino;
};

static void *recall_main(void *arg)
{
	struct recall_job *j = arg;

	j->fn(j->ctx, j->ino);
	free(j);
	return NULL;
}

int own_recall_spawn(void (*fn)(void *ctx, uint64_t ino), void *ctx,
		     uint64_t ino)
{
	struct recall_job *j;
	pthread_attr_t at;
	pthread_t t;
	int rc;

	j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->ctx = ctx;
	j->ino = ino;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &at, recall_main, j);
	pthread_attr_destroy(&at);
	if (rc) {
		free(j);
		return -rc;
	}
	return 0;
}

void own_recall_answer(struct mdc *mdc, uint64_t ino, int rc)
{
	int rc2;

	if (rc)
		log_ino(ino, "recall: flushing the file failed: %s",
			csvfs_strerror(rc));
	rc2 = mdc_recall_done(mdc, ino, rc ? csvfs_errno(rc) : 0);
	if (rc2)
		log_ino(ino, "recall: telling the coordinator failed: %s",
			csvfs_strerror(rc2));
}

/*
 * cluster_i.h: what fs/cluster.c shares with fs/cluster_ctl.c (status,
 * control and the heartbeat watch that deposes stalled members): the
 * node's cluster state. Not for other modules.
 */
#ifndef CSVFS_FS_CLUSTER_I_H
#define CSVFS_FS_CLUSTER_I_H

#include <pthread.h>
#include <stdint.h>

#include "csvfs/ondisk.h"
#include "fs/cluster.h"
#include "fs/elect.h"
#include "net/mdc.h"
#include "net/tls.h"

#define MAX_NODES	CSVFS_MAX_NODES_LIMIT

struct hb;
struct mcache;
struct mds;
struct memb;
struct rpc_client;
struct rpc_server;

struct clu {
	struct clu_opts o;
	struct csvfs_super sb;		/* o.sb points here */
	struct memb *memb;
	char identity[TLS_IDENTITY_SIZE];
	uint8_t key[32];
	uint32_t self;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct elect e;			/* under lock */
	int elect_ready;
	uint32_t members[MAX_NODES];	/* node ids, for status */
	size_t nmembers;
	int quorate;
	uint32_t coord;			/* who serves, 0 = none known */
	uint64_t coord_epoch;

	/* The role. */
	pthread_rwlock_t role_lock;	/* read: local calls; write: stop */
	struct mds *mds;
	struct rpc_server *server;

	/* The client side. */
	struct rpc_client *client;
	struct mdc_transport client_t;
	char coord_addr[64];
	uint16_t coord_port;
	int stopping;

	/* File ownership. Read by request threads without c->lock (a
	 * handler taking c->lock could deadlock with role_stop). */
	_Atomic unsigned char is_memb[MAX_NODES + 1];
	void (*recall)(void *ctx, uint64_t ino);
	void *recall_ctx;

	/* Caches: INVAL acknowledgements (acker thread, ack_lock). */
	struct rpc_client *ack_client;	/* second connection, acks only */
	struct mdc *ack_mdc;
	pthread_t acker;
	int acker_running;
	pthread_mutex_t ack_lock;
	pthread_cond_t ack_cond;
	/* What the data path cached (clu_set_inval), under inval_lock. */
	pthread_mutex_t inval_lock;
	void (*inval_data)(void *ctx, uint64_t ino);
	void *inval_data_ctx;
	/* Application locks (clu_set_locks, under inval_lock). */
	void (*locks)(void *ctx, uint64_t wait_id);
	void *locks_ctx;
	/* Held while a LOCK_WAKE is pushed: the coordinator's dead-node
	 * reaper is no request thread, so role_stop must not free the
	 * server under it. */
	pthread_mutex_t wake_lock;
	/* Self-fencing (clu_set_fence, under inval_lock; c->lock: the rest). */
	void (*fence)(void *ctx, int on);
	void *fence_ctx;
	struct hb *hb;			/* this node's on-disk heartbeat */
	int was_quorate, fenced;
	pthread_t unfence;		/* the last unfencing thread */
	int unfence_started;
	uint64_t *ack_q;
	size_t ack_n, ack_cap;
	int ack_stop;
	/* The depose watch (c->lock): heartbeats of whom we wait for. */
	pthread_t watcher;
	int watcher_running, watch_stop;
	struct watch_slot {
		uint64_t counter, incarnation;
		int64_t changed_ms;	/* last advance seen, or watch start */
		uint64_t pass;		/* the watch pass that read it last */
	} watched[MAX_NODES + 1];
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t clu_mono_ms(void);
/*
 * The depose watch thread (fs/cluster_ctl.c): every half heartbeat
 * interval it reads the slots of whom the election waits for, deposes a
 * member whose heartbeat stood still for CSVFS_DEPOSE_MS. Runs until
 * c->watch_stop (under c->lock).
 */
void *clu_watcher_main(void *arg);

#endif /* CSVFS_FS_CLUSTER_I_H */

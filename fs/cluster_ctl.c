/*
 * cluster_ctl: the parts of a node's cluster state that only look at it:
 * the status and control attributes (csvfsctl status, coordinator move)
 * and the heartbeat watch that deposes a stalled member (fs/elect.c
 * decides; this only tells it what the device shows).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/cluster.h"
#include "fs/cluster_i.h"
#include "fs/elect.h"
#include "lockd/hb.h"
#include "meta/ondisk.h"
#include "net/mcache.h"

int64_t clu_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the depose watch --------------------------------------------------- */

/*
 * One pass: reads the heartbeat slot of every node the election waits
 * for (elect_waiting_for) and deposes a member whose counter has not moved
 * for CSVFS_DEPOSE_MS. The time counts from the first read that showed
 * the current counter (the stamp was earlier: the count errs on the late
 * side). Takes c->lock around the election
 * calls only.
 */
static void watch_pass(struct clu *c, uint64_t pass)
{
	uint32_t nodes[16];
	struct csvfs_hb hb;
	int n, i;

	pthread_mutex_lock(&c->lock);
	n = c->elect_ready ? elect_waiting_for(&c->e, nodes, 16) : 0;
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < n; i++) {
		struct watch_slot *w;
		int64_t now;

		if (nodes[i] == 0 || nodes[i] > MAX_NODES ||
		    nodes[i] > c->sb.max_nodes ||
		    hb_read(c->o.dev, &c->sb, nodes[i] - 1, &hb))
			continue;	/* unreadable: no news */
		w = &c->watched[nodes[i]];
		now = clu_mono_ms();
		if (!w->pass || hb.counter != w->counter ||
		    hb.incarnation != w->incarnation) {
			w->counter = hb.counter;
			w->incarnation = hb.incarnation;
			w->changed_ms = now;
		}
		w->pass = pass;
		if (now - w->changed_ms < CSVFS_DEPOSE_MS)
			continue;
		pthread_mutex_lock(&c->lock);
		if (!c->stopping)
			elect_depose(&c->e, nodes[i]);
		pthread_mutex_unlock(&c->lock);
	}
}

void *clu_watcher_main(void *arg)
{
	struct clu *c = arg;
	struct timespec ts;
	uint64_t pass = 1;

	pthread_mutex_lock(&c->lock);
	while (!c->watch_stop) {
		pthread_mutex_unlock(&c->lock);
		watch_pass(c, pass++);
		pthread_mutex_lock(&c->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (CSVFS_HB_INTERVAL_MS / 2) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!c->watch_stop &&
		       pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- control -------------------------------------------------------------- */

static int status_json(struct clu *c, char *out, size_t size)
{
	char uuid[OD_UUID_STR_LEN];
	size_t i, len;
	int n;

	od_uuid_str(c->o.sb->hdr.uuid, uuid);
	pthread_mutex_lock(&c->lock);
	n = snprintf(out, size, "{\"mode\":\"cluster\",\"volume\":{\"uuid\":"
		     "\"%s\",\"label\":\"%.63s\",\"block_size\":%llu},"
		     "\"node\":%u,\"quorate\":%s,\"coordinator\":{\"node\":%u,"
		     "\"target\":%u,\"preferred\":%u,\"self\":%s,"
		     "\"epoch\":%llu},\"election\":{\"state\":\"%s\","
		     "\"round\":%u,\"rounds\":%llu,\"deposed\":%llu},"
		     "\"members\":[", uuid,
		     c->o.sb->label, 1ull << c->o.sb->block_shift, c->self,
		     c->quorate ? "true" : "false", c->coord, c->e.target.node,
		     c->e.preferred, c->mds ? "true" : "false",
		     (unsigned long long)c->coord_epoch,
		     elect_state_name(c->e.state), c->e.round,
		     (unsigned long long)c->e.rounds,
		     (unsigned long long)c->e.deposes);
	for (i = 0; i < c->nmembers && n > 0 && (size_t)n < size; i++)
		n += snprintf(out + n, size - (size_t)n, "%s{\"node\":%u,"
			      "\"state\":\"%s\"}", i ? "," : "", c->members[i],
			      c->members[i] == c->coord ? "coordinator" :
			      "member");
	if (n > 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, "]");
	pthread_mutex_unlock(&c->lock);
	if (c->o.cache && n > 0 && (size_t)n < size) {
		struct mcache_stats st;

		mcache_get_stats(c->o.cache, &st);
		n += snprintf(out + n, size - (size_t)n, ",\"cache\":{"
			      "\"hits\":%llu,\"misses\":%llu,\"fills\":%llu,"
			      "\"invalidations\":%llu,\"entries\":%llu}",
			      (unsigned long long)st.hits,
			      (unsigned long long)st.misses,
			      (unsigned long long)st.fills,
			      (unsigned long long)st.invals,
			      (unsigned long long)st.entries);
	}
	if (n > 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, "}");
	if (n < 0 || (size_t)n >= size)
		return -ERANGE;
	len = (size_t)n;
	return (int)len;
}

int clu_ctl_get(void *ctx, const char *name, char *buf, size_t size)
{
	char tmp[8192];
	int n;

	if (strcmp(name, "trusted.csvfs.status"))
		return -ENODATA;
	n = status_json(ctx, tmp, sizeof(tmp));
	if (n < 0)
		return n;
	if (size == 0)
		return n;
	if ((size_t)n > size)
		return -ERANGE;
	memcpy(buf, tmp, (size_t)n);
	return n;
}

int clu_ctl_set(void *ctx, const char *name, const char *val, size_t len)
{
	struct clu *c = ctx;
	char tmp[16];
	unsigned long node;
	char *end;
	int rc;

	if (strcmp(name, "trusted.csvfs.move"))
		return -EOPNOTSUPP;
	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, val, len);
	tmp[len] = '\0';
	node = strtoul(tmp, &end, 10);
	if (*end || node == 0 || node > MAX_NODES)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = c->elect_ready ? elect_move(&c->e, (uint32_t)node) :
			      -EHOSTUNREACH;
	pthread_mutex_unlock(&c->lock);
	return rc;
}


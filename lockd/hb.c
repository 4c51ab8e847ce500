/*
 * hb: on-disk node heartbeats (see hb.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "lockd/hb.h"
#include "meta/dev.h"
#include "meta/ondisk.h"

#define HB_STALE_S	10	/* hb_find_live: older stamps are dead */
#define HB_LIVE_WAIT_US	(2500 * 1000)	/* > 2 stamping intervals */

struct hb {
	struct dev *dev;
	uint64_t mblk;
	uint8_t uuid[CSVFS_UUID_SIZE];
	uint32_t node, state;
	uint64_t counter, incarnation;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	int stop, suspended;
};

struct hb_slot {
	uint64_t counter, incarnation;
	uint64_t changed_ns;		/* CLOCK_MONOTONIC: last advance seen */
	uint32_t state;
	int seen;
};

struct hb_watch {
	struct dev *dev;
	struct csvfs_super sb;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	int stop;
	struct hb_slot *slots;		/* max_nodes */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* Sleeps on cv (lock held) for ms, or until woken. */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *lock, unsigned ms)
{
	uint64_t t = mono_ns() + ms * 1000000ull;
	struct timespec ts = { (time_t)(t / 1000000000ull),
			       (long)(t % 1000000000ull) };

	pthread_cond_timedwait(cv, lock, &ts);
}

int hb_read(struct dev *d, const struct csvfs_super *sb, uint32_t slot,
	    struct csvfs_hb *out)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	uint64_t mblk = sb->hb_mblk + slot;
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dev_pread(d, raw, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		rc = od_hb_slot_decode(raw, mblk, sb->hdr.uuid, out);
	free(raw);
	return rc;
}

int hb_write(struct dev *d, uint64_t mblk, const uint8_t *uuid,
	     struct csvfs_hb *hb)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	od_hb_slot_encode(hb, mblk, uuid, raw);
	rc = dev_pwrite(d, raw, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
	free(raw);
	return rc;
}

/* ---- this node's stamp ----------------------------------------------------- */

static int stamp(struct hb *h, uint32_t state)
{
	struct csvfs_hb hb;

	memset(&hb, 0, sizeof(hb));
	hb.node_id = h->node;
	hb.state = state;
	hb.incarnation = h->incarnation;
	hb.counter = ++h->counter;
	hb.timestamp_ns = real_ns();
	gethostname(hb.hostname, sizeof(hb.hostname) - 1);
	return hb_write(h->dev, h->mblk, h->uuid, &hb);
}

static void *hb_main(void *arg)
{
	struct hb *h = arg;
	int failed = 0, rc;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		wait_ms(&h->cond, &h->lock, CSVFS_HB_INTERVAL_MS);
		if (h->stop || h->suspended)
			continue;
		/* Under the lock: hb_suspend returns only once no stamp is
		 * being written. */
		rc = stamp(h, h->state);
		if (rc && !failed)
			log_node(LOG_WARNING, h->node,
				 "heartbeat write failed: %s",
				 csvfs_strerror(rc));
		failed = !!rc;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int hb_start(struct dev *d, const struct csvfs_super *sb, uint32_t node,
	     uint32_t state, struct hb **out)
{
	struct hb *h;
	int rc;

	*out = NULL;
	if (node == 0 || node > sb->max_nodes)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->dev = d;
	h->mblk = sb->hb_mblk + node - 1;
	memcpy(h->uuid, sb->hdr.uuid, sizeof(h->uuid));
	h->node = node;
	h->state = state;
	if (RAND_bytes((unsigned char *)&h->incarnation,
		       sizeof(h->incarnation)) != 1) {
		free(h);
		return -EIO;
	}
	pthread_mutex_init(&h->lock, NULL);
	cond_init_mono(&h->cond);
	rc = stamp(h, state);
	if (!rc)
		rc = -pthread_create(&h->thread, NULL, hb_main, h);
	if (rc) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void hb_suspend(struct hb *h, int on)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->suspended != !!on)
		log_node(on ? LOG_WARNING : LOG_NOTICE, h->node, "heartbeat %s",
			 on ? "suspended (fenced)" : "resumed");
	h->suspended = !!on;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

int hb_stop(struct hb *h)
{
	int rc;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	rc = stamp(h, CSVFS_HB_LEFT);
	if (!rc)
		rc = dev_flush(h->dev);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return rc;
}

/*
 * The rule, once for the coordinator's standalone start and for fsck:
 * a slot is live when it says a mount uses it (STANDALONE or CLUSTER),
 * its stamp is younger than HB_STALE_S, and its counter advances within
 * HB_LIVE_WAIT_US (a mount that crashed left a recent stamp, but its
 * counter stands still). One wait covers every fresh slot.
 */
int hb_find_live(struct dev *d, const struct csvfs_super *sb,
		 struct csvfs_hb *who)
{
	uint64_t now = real_ns();
	struct csvfs_hb hb, *seen;
	uint32_t s, nfresh = 0;
	int rc, err = 0;

	seen = calloc(sb->max_nodes, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	for (s = 0; s < sb->max_nodes; s++) {
		/* Our own slot too: another standalone mount of ours. */
		rc = hb_read(d, sb, s, &hb);
		if (rc) {
			err = err ? err : rc;
			continue;
		}
		if ((hb.state != CSVFS_HB_STANDALONE &&
		     hb.state != CSVFS_HB_CLUSTER) ||
		    hb.timestamp_ns + HB_STALE_S * 1000000000ull < now)
			continue;
		seen[s] = hb;
		nfresh++;
	}
	if (nfresh)
		usleep(HB_LIVE_WAIT_US);
	rc = 0;
	for (s = 0; nfresh && s < sb->max_nodes; s++) {
		if (seen[s].node_id == 0 && seen[s].counter == 0)
			continue;
		if (!hb_read(d, sb, s, &hb) && hb.counter != seen[s].counter) {
			*who = hb;
			rc = (int)s + 1;
			break;
		}
	}
	free(seen);
	return rc ? rc : err;
}

int hb_check_others(struct dev *d, const struct csvfs_super *sb)
{
	struct csvfs_hb a;
	int rc = hb_find_live(d, sb, &a);

	if (rc <= 0)
		return rc;
	log_node(LOG_ERR, a.node_id, "is using the volume (host \"%s\")",
		 a.hostname);
	return -CSVFS_ELIVE;
}

/* ---- watching the others --------------------------------------------------- */

static void watch_scan(struct hb_watch *w)
{
	uint64_t now = mono_ns();
	struct csvfs_hb hb;
	uint32_t s;

	for (s = 0; s < w->sb.max_nodes; s++) {
		struct hb_slot *p = &w->slots[s];

		if (hb_read(w->dev, &w->sb, s, &hb))
			continue;	/* unreadable: no news */
		pthread_mutex_lock(&w->lock);
		if (!p->seen || hb.counter != p->counter ||
		    hb.incarnation != p->incarnation ||
		    hb.state != p->state) {
			p->counter = hb.counter;
			p->incarnation = hb.incarnation;
			p->state = hb.state;
			if (p->seen)
				p->changed_ns = now;
			p->seen = 1;
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static void *watch_main(void *arg)
{
	struct hb_watch *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		pthread_mutex_unlock(&w->lock);
		watch_scan(w);
		pthread_mutex_lock(&w->lock);
		if (!w->stop)
			wait_ms(&w->cond, &w->lock, CSVFS_HB_INTERVAL_MS / 2);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int hb_watch_start(struct dev *d, const struct csvfs_super *sb,
		   struct hb_watch **out)
{
	struct hb_watch *w;
	uint64_t now = mono_ns();
	uint32_t s;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->slots = calloc(sb->max_nodes, sizeof(*w->slots));
	if (!w->slots) {
		free(w);
		return -ENOMEM;
	}
	/* Nobody is known dead before being watched for the timeout. */
	for (s = 0; s < sb->max_nodes; s++)
		w->slots[s].changed_ns = now;
	w->dev = d;
	w->sb = *sb;
	pthread_mutex_init(&w->lock, NULL);
	cond_init_mono(&w->cond);
	rc = -pthread_create(&w->thread, NULL, watch_main, w);
	if (rc) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w->slots);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int hb_watch_dead(struct hb_watch *w, uint32_t node, unsigned dead_ms)
{
	struct hb_slot *p;
	int dead;

	if (!w || node == 0 || node > w->sb.max_nodes)
		return 0;
	if (!dead_ms)
		dead_ms = CSVFS_HB_DEAD_MS;
	pthread_mutex_lock(&w->lock);
	p = &w->slots[node - 1];
	dead = p->seen && (p->state == CSVFS_HB_LEFT ||
			   p->state == CSVFS_HB_FREE ||
			   mono_ns() - p->changed_ns >= dead_ms * 1000000ull);
	pthread_mutex_unlock(&w->lock);
	return dead;
}

void hb_watch_stop(struct hb_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->slots);
	free(w);
}

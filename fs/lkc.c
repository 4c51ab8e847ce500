/*
 * lkc: a node's lock client (see lkc.h).
 *
 * Waiters. A request that may wait is entered in the waiter list before it
 * is sent, so a LOCK_WAKE that overtakes the reply (another connection
 * thread of the coordinator) is not lost: it marks the waiter "woken" and
 * the sender sends it again at once. States: SENDING (a thread has the
 * request out), QUEUED (queued at the coordinator, nobody sending).
 *
 * Reclaim runs on the worker with the op lock held for writing, so no
 * lock or unlock of this node interleaves with it (a reclaimed copy of a
 * lock just unlocked would come back to life). Requests answered
 * -ERESTART (the coordinator's grace period) drop the op lock, wait a
 * little and try again: the only retry loop, bounded by the grace period.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvfs/log.h"
#include "fs/lkc.h"
#include "net/mdc.h"

#define GRACE_RETRY_US	100000

enum { W_SENDING, W_QUEUED };

struct waiter {
	uint64_t id, ino, fh;
	struct plock req;
	int state, woken, cancelled;
	lkc_done_fn done;
	void *arg;
	struct waiter *next;
};

/* An owner that took locks through an open file handle. */
struct fh_owner {
	uint64_t ino, fh, owner;
	struct fh_owner *next;
};

enum { J_WAKE, J_CANCEL, J_RECLAIM };

struct job {
	int kind;
	uint64_t ino, id;
	struct job *next;
};

struct lkc {
	struct mdc *mdc;
	uint32_t node;
	int cluster;
	pthread_rwlock_t op;		/* read: requests; write: reclaim */
	pthread_mutex_t mu;		/* everything below */
	struct plock_tab held;		/* the mirror */
	struct waiter *waiters;
	struct fh_owner *fhs;
	uint64_t next_id;
	/* Interrupts that came before their request was entered. */
	uint64_t early[16];
	unsigned early_next;
	struct job *jobs, **jobs_tail;
	pthread_cond_t cond;
	pthread_t worker;
	int stop;
};

/* Under mu. */
static void job_add(struct lkc *l, int kind, uint64_t ino, uint64_t id)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_err("lock request %llu: out of memory for its wake-up",
			(unsigned long long)id);
		return;
	}
	j->kind = kind;
	j->ino = ino;
	j->id = id;
	*l->jobs_tail = j;
	l->jobs_tail = &j->next;
	pthread_cond_signal(&l->cond);
}

/* Under mu. */
static struct waiter **waiter_find(struct lkc *l, uint64_t id)
{
	struct waiter **pp;

	for (pp = &l->waiters; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

/* The mirror after a granted request, and which handle took it. Under mu. */
static void note_granted(struct lkc *l, uint64_t ino, uint64_t fh,
			 const struct plock *req)
{
	struct plock_file *f = plock_tab_get(&l->held, ino, 1);
	struct fh_owner *o;

	if (!f || plock_apply(f, req)) {
		log_ino_at(LOG_ERR, ino, "out of memory for the lock mirror: "
			   "a new coordinator will not know this lock");
		return;
	}
	plock_tab_put(&l->held, f);
	if (req->type == PLOCK_UN || req->cls != PLOCK_POSIX || !fh)
		return;
	for (o = l->fhs; o; o = o->next)
		if (o->ino == ino && o->fh == fh && o->owner == req->owner)
			return;
	o = calloc(1, sizeof(*o));
	if (!o)
		return;
	o->ino = ino;
	o->fh = fh;
	o->owner = req->owner;
	o->next = l->fhs;
	l->fhs = o;
}

/* Sends one LOCK_SET, riding out the coordinator's grace period. */
static int send_set(struct lkc *l, uint64_t ino, const struct plock *req,
		    uint32_t flags, uint64_t id)
{
	struct csvfs_wlock w;
	int rc;

	plock_to_wire(req, &w);
	for (;;) {
		pthread_rwlock_rdlock(&l->op);
		rc = mdc_lock_set(l->mdc, ino, &w, flags, id);
		if (rc != -ERESTART)
			return rc;	/* op lock still held */
		pthread_rwlock_unlock(&l->op);
		usleep(GRACE_RETRY_US);
	}
}

uint64_t lkc_wait_id(struct lkc *l)
{
	uint64_t id;

	pthread_mutex_lock(&l->mu);
	id = l->next_id++;
	pthread_mutex_unlock(&l->mu);
	return id;
}

/*
 * The answer to a waiter's request (sender's thread, op lock held).
 * Returns 1 when it is completed (removed, done to call with *rc).
 */
static int waiter_answer(struct lkc *l, struct waiter *w, int *rc)
{
	struct waiter **pp;
	int cancel = 0;

	pthread_mutex_lock(&l->mu);
	if (*rc == 0)
		note_granted(l, w->ino, w->fh, &w->req);
	if (*rc == -EINPROGRESS) {
		w->state = W_QUEUED;
		if (w->cancelled) {
			cancel = 1;
			*rc = -EINTR;
		} else if (w->woken) {
			w->woken = 0;
			w->state = W_SENDING;
			job_add(l, J_WAKE, w->ino, w->id);
			pthread_mutex_unlock(&l->mu);
			return 0;
		} else {
			pthread_mutex_unlock(&l->mu);
			return 0;
		}
	}
	pp = waiter_find(l, w->id);
	if (pp)
		*pp = w->next;
	if (cancel)
		job_add(l, J_CANCEL, w->ino, w->id);
	pthread_mutex_unlock(&l->mu);
	return 1;
}

int lkc_set(struct lkc *l, uint64_t ino, uint64_t fh, const struct plock *req,
	    int wait, uint64_t wait_id, lkc_done_fn done, void *arg)
{
	struct plock r = *req;
	struct waiter *w = NULL;
	int rc;

	r.node = l->node;
	rc = plock_check(&r);
	if (rc)
		return rc;
	if (wait && r.type != PLOCK_UN) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->id = wait_id;
		w->ino = ino;
		w->fh = fh;
		w->req = r;
		w->state = W_SENDING;
		w->done = done;
		w->arg = arg;
		pthread_mutex_lock(&l->mu);
		for (rc = 0; rc < 16; rc++)
			if (l->early[rc] == wait_id)
				break;
		if (rc < 16) {
			pthread_mutex_unlock(&l->mu);
			free(w);
			return -EINTR;
		}
		w->next = l->waiters;
		l->waiters = w;
		pthread_mutex_unlock(&l->mu);
	}
	rc = send_set(l, ino, &r, w ? CSVFS_LK_WAIT : 0, w ? wait_id : 0);
	if (w) {
		int finished = waiter_answer(l, w, &rc);

		pthread_rwlock_unlock(&l->op);
		if (!finished)
			return -EINPROGRESS;
		free(w);
		return rc == -EINPROGRESS ? -EIO : rc;
	}
	if (!rc) {
		pthread_mutex_lock(&l->mu);
		note_granted(l, ino, fh, &r);
		pthread_mutex_unlock(&l->mu);
	}
	pthread_rwlock_unlock(&l->op);
	return rc;
}

int lkc_get(struct lkc *l, uint64_t ino, const struct plock *req,
	    int *found, struct plock *holder)
{
	struct csvfs_wlock w, h;
	struct plock r = *req;
	int rc;

	r.node = l->node;
	rc = plock_check(&r);
	if (rc)
		return rc;
	plock_to_wire(&r, &w);
	while ((rc = mdc_lock_get(l->mdc, ino, &w, found, &h)) == -ERESTART)
		usleep(GRACE_RETRY_US);
	if (rc)
		return rc;
	plock_from_wire(&h, h.node, holder);
	if (*found && holder->node != l->node) {
		log_info("ino %llu: lock [%llu, %llu] held by process %u on "
			 "node %u", (unsigned long long)ino,
			 (unsigned long long)holder->start,
			 (unsigned long long)holder->end, holder->pid,
			 holder->node);
		holder->pid = 0;
	}
	return 0;
}

void lkc_cancel(struct lkc *l, uint64_t wait_id)
{
	struct waiter **pp, *w = NULL;

	pthread_mutex_lock(&l->mu);
	pp = waiter_find(l, wait_id);
	if (pp && (*pp)->state == W_QUEUED) {
		w = *pp;
		*pp = w->next;
		job_add(l, J_CANCEL, w->ino, w->id);
	} else if (pp) {
		(*pp)->cancelled = 1;	/* the sender completes it */
	} else if (wait_id) {
		/* Not entered yet (or already done: then harmless). */
		l->early[l->early_next++ % 16] = wait_id;
	}
	pthread_mutex_unlock(&l->mu);
	if (w) {
		w->done(w->arg, -EINTR);
		free(w);
	}
}

void lkc_wake(struct lkc *l, uint64_t wait_id)
{
	struct waiter **pp;

	pthread_mutex_lock(&l->mu);
	pp = waiter_find(l, wait_id);
	if (pp && (*pp)->state == W_QUEUED) {
		(*pp)->state = W_SENDING;
		job_add(l, J_WAKE, (*pp)->ino, wait_id);
	} else if (pp) {
		(*pp)->woken = 1;
	}
	pthread_mutex_unlock(&l->mu);
}

void lkc_reclaim(struct lkc *l)
{
	if (!l->cluster)
		return;
	pthread_mutex_lock(&l->mu);
	job_add(l, J_RECLAIM, 0, 0);
	pthread_mutex_unlock(&l->mu);
}

/* Worker: sends a woken request again. */
static void job_wake(struct lkc *l, uint64_t id)
{
	struct waiter **pp, *w;
	struct plock req;
	uint64_t ino;
	int rc;

	pthread_mutex_lock(&l->mu);
	pp = waiter_find(l, id);
	w = pp ? *pp : NULL;
	if (w) {
		req = w->req;
		ino = w->ino;
	}
	pthread_mutex_unlock(&l->mu);
	if (!w)
		return;
	rc = send_set(l, ino, &req, CSVFS_LK_WAIT, id);
	if (waiter_answer(l, w, &rc)) {
		pthread_rwlock_unlock(&l->op);
		w->done(w->arg, rc == -EINPROGRESS ? -EIO : rc);
		free(w);
		return;
	}
	pthread_rwlock_unlock(&l->op);
}

struct snap {
	struct { uint64_t ino; struct plock l; } *v;
	size_t n, cap;
};

static int snap_file(struct plock_file *f, void *arg)
{
	struct snap *s = arg;
	const struct plock_ent *e;

	for (e = f->locks; e; e = e->next) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			void *p = realloc(s->v, cap * sizeof(*s->v));

			if (!p)
				return -ENOMEM;
			s->v = p;
			s->cap = cap;
		}
		s->v[s->n].ino = f->ino;
		s->v[s->n].l = e->l;
		s->n++;
	}
	return 0;
}

/* Worker: gives every held lock to the coordinator, then the waits. */
static void job_reclaim(struct lkc *l)
{
	struct snap s = { NULL, 0, 0 };
	struct csvfs_wlock w;
	struct waiter *q;
	size_t i, lost = 0;
	int rc = 0;

	pthread_rwlock_wrlock(&l->op);
	pthread_mutex_lock(&l->mu);
	rc = plock_tab_each(&l->held, snap_file, &s);
	pthread_mutex_unlock(&l->mu);
	for (i = 0; i < s.n && !rc; i++) {
		plock_to_wire(&s.v[i].l, &w);
		rc = mdc_lock_set(l->mdc, s.v[i].ino, &w, CSVFS_LK_RECLAIM, 0);
		if (rc == -ENOLCK || rc == -EAGAIN) {
			/* Someone else got it while we were away. */
			struct plock un = s.v[i].l;
			struct plock_file *f;

			log_ino_at(LOG_ERR, s.v[i].ino,
				   "lock [%llu, %llu] of owner "
				   "%llx lost: another node holds it now",
				   (unsigned long long)un.start,
				   (unsigned long long)un.end,
				   (unsigned long long)un.owner);
			un.type = PLOCK_UN;
			pthread_mutex_lock(&l->mu);
			f = plock_tab_get(&l->held, s.v[i].ino, 0);
			if (f && !plock_apply(f, &un))
				plock_tab_put(&l->held, f);
			pthread_mutex_unlock(&l->mu);
			lost++;
			rc = 0;
		}
	}
	if (!rc)
		rc = mdc_lock_reclaim_done(l->mdc);
	pthread_rwlock_unlock(&l->op);
	if (rc)
		log_err("locks: reclaim from the coordinator failed: %s",
			strerror(-rc));
	else if (s.n)
		log_info("locks: %zu reclaimed, %zu lost", s.n - lost, lost);
	free(s.v);
	/* Pushes may have been lost: queued requests are sent again. */
	pthread_mutex_lock(&l->mu);
	for (q = l->waiters; q; q = q->next)
		if (q->state == W_QUEUED) {
			q->state = W_SENDING;
			job_add(l, J_WAKE, q->ino, q->id);
		}
	pthread_mutex_unlock(&l->mu);
}

static void *worker_main(void *arg)
{
	struct lkc *l = arg;
	struct job *j;
	int rc;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->jobs && !l->stop)
			pthread_cond_wait(&l->cond, &l->mu);
		if (l->stop)
			break;
		j = l->jobs;
		l->jobs = j->next;
		if (!l->jobs)
			l->jobs_tail = &l->jobs;
		pthread_mutex_unlock(&l->mu);
		switch (j->kind) {
		case J_WAKE:
			job_wake(l, j->id);
			break;
		case J_CANCEL:
			rc = mdc_lock_cancel(l->mdc, j->ino, j->id);
			if (rc)
				log_debug("lock request %llu: cancel: %s",
					  (unsigned long long)j->id,
					  strerror(-rc));
			break;
		case J_RECLAIM:
			job_reclaim(l);
			break;
		}
		free(j);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Unlocks (owner, cls) on ino if the mirror says the node holds any. */
static int drop_owner(struct lkc *l, uint64_t ino, uint64_t owner,
		      uint32_t cls)
{
	struct plock un = { .node = l->node, .owner = owner, .cls = cls,
			    .type = PLOCK_UN, .start = 0, .end = PLOCK_EOF };
	const struct plock_file *f;
	const struct plock_ent *e;
	int held = 0;

	pthread_mutex_lock(&l->mu);
	f = plock_tab_get(&l->held, ino, 0);
	for (e = f ? f->locks : NULL; e && !held; e = e->next)
		held = e->l.owner == owner && e->l.cls == cls;
	pthread_mutex_unlock(&l->mu);
	if (!held)
		return 0;
	return lkc_set(l, ino, 0, &un, 0, 0, NULL, NULL);
}

int lkc_release_owner(struct lkc *l, uint64_t ino, uint64_t owner,
		      uint32_t cls)
{
	struct fh_owner **pp, *o;

	if (cls == PLOCK_POSIX) {
		/* All its locks on ino go: no handle needs to remember it. */
		pthread_mutex_lock(&l->mu);
		for (pp = &l->fhs; (o = *pp);) {
			if (o->ino == ino && o->owner == owner) {
				*pp = o->next;
				free(o);
			} else {
				pp = &o->next;
			}
		}
		pthread_mutex_unlock(&l->mu);
	}
	return drop_owner(l, ino, owner, cls);
}

int lkc_release_fh(struct lkc *l, uint64_t ino, uint64_t fh)
{
	struct fh_owner **pp, *o, *mine = NULL;
	int rc = 0, rc2;

	pthread_mutex_lock(&l->mu);
	for (pp = &l->fhs; (o = *pp);) {
		if (o->ino == ino && o->fh == fh) {
			*pp = o->next;
			o->next = mine;
			mine = o;
		} else {
			pp = &o->next;
		}
	}
	pthread_mutex_unlock(&l->mu);
	while ((o = mine)) {
		mine = o->next;
		rc2 = drop_owner(l, ino, o->owner, PLOCK_POSIX);
		if (!rc)
			rc = rc2;
		free(o);
	}
	return rc;
}

static int count_file(struct plock_file *f, void *arg)
{
	*(unsigned long *)arg += plock_count(f, 0);
	return 0;
}

unsigned long lkc_held(struct lkc *l)
{
	unsigned long n = 0;

	pthread_mutex_lock(&l->mu);
	plock_tab_each(&l->held, count_file, &n);
	pthread_mutex_unlock(&l->mu);
	return n;
}

int lkc_new(struct mdc *mdc, uint32_t node, int cluster, struct lkc **out)
{
	struct lkc *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	l->mdc = mdc;
	l->node = node;
	l->cluster = cluster;
	l->next_id = 1;
	l->jobs_tail = &l->jobs;
	plock_tab_init(&l->held);
	pthread_rwlock_init(&l->op, NULL);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cond, NULL);
	rc = pthread_create(&l->worker, NULL, worker_main, l);
	if (rc) {
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->mu);
		pthread_rwlock_destroy(&l->op);
		free(l);
		return -rc;
	}
	lkc_reclaim(l);
	*out = l;
	return 0;
}

void lkc_free(struct lkc *l)
{
	struct waiter *w;
	struct fh_owner *o;
	struct job *j;

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->worker, NULL);
	while ((j = l->jobs)) {
		l->jobs = j->next;
		free(j);
	}
	while ((w = l->waiters)) {
		l->waiters = w->next;
		free(w);
	}
	while ((o = l->fhs)) {
		l->fhs = o->next;
		free(o);
	}
	plock_tab_release(&l->held);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	pthread_rwlock_destroy(&l->op);
	free(l);
}

/*
 * plock: application lock rules (see plock.h). The lists are short (the
 * locks of one file), so they are plain linked lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lockd/plock.h"

int plock_check(const struct plock *l)
{
	if (l->type > PLOCK_WR || l->cls > PLOCK_FLOCK || l->start > l->end)
		return -EINVAL;
	if (l->cls == PLOCK_FLOCK && (l->start != 0 || l->end != PLOCK_EOF))
		return -EINVAL;
	return 0;
}

int plock_same_owner(const struct plock *a, const struct plock *b)
{
	return a->node == b->node && a->owner == b->owner && a->cls == b->cls;
}

static int overlap(const struct plock *a, const struct plock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

int plock_conflicts(const struct plock *a, const struct plock *b)
{
	if (a->cls != b->cls || plock_same_owner(a, b))
		return 0;
	if (a->type == PLOCK_UN || b->type == PLOCK_UN)
		return 0;
	if (a->type == PLOCK_RD && b->type == PLOCK_RD)
		return 0;
	return overlap(a, b);
}

int plock_test(const struct plock_file *f, const struct plock *req,
	       struct plock *holder)
{
	const struct plock_ent *e, *best = NULL;

	if (!f)
		return 0;
	/* The conflicting lock that starts first, as F_GETLK should say. */
	for (e = f->locks; e; e = e->next)
		if (plock_conflicts(&e->l, req) &&
		    (!best || e->l.start < best->l.start))
			best = e;
	if (best && holder)
		*holder = best->l;
	return best != NULL;
}

static struct plock_ent *ent_new(const struct plock *l)
{
	struct plock_ent *e = malloc(sizeof(*e));

	if (e) {
		e->l = *l;
		e->next = NULL;
	}
	return e;
}

int plock_apply(struct plock_file *f, const struct plock *req)
{
	struct plock_ent *split, *add, **pp, *e;
	uint64_t s = req->start, end = req->end;

	/* Both possible allocations first: nothing changes on -ENOMEM. */
	split = ent_new(req);
	add = ent_new(req);
	if (!split || !add) {
		free(split);
		free(add);
		return -ENOMEM;
	}
	/* 1. Cut [s, end] out of the owner's locks. */
	pp = &f->locks;
	while ((e = *pp)) {
		if (!plock_same_owner(&e->l, req) || !overlap(&e->l, req)) {
			pp = &e->next;
			continue;
		}
		if (e->l.start < s && e->l.end > end) {
			/* Inside a larger range: split it in two. */
			split->l = e->l;
			split->l.start = end + 1;
			split->next = e->next;
			e->next = split;
			split = NULL;
			e->l.end = s - 1;
			pp = &e->next->next;
		} else if (e->l.start < s) {
			e->l.end = s - 1;
			pp = &e->next;
		} else if (e->l.end > end) {
			e->l.start = end + 1;
			pp = &e->next;
		} else {
			*pp = e->next;
			free(e);
		}
	}
	free(split);
	if (req->type == PLOCK_UN) {
		free(add);
		return 0;
	}
	/* 2. Add the range, merged with adjacent ranges of the same type. */
	pp = &f->locks;
	while ((e = *pp)) {
		if (plock_same_owner(&e->l, req) && e->l.type == req->type &&
		    ((e->l.end != PLOCK_EOF && e->l.end + 1 == add->l.start) ||
		     (add->l.end != PLOCK_EOF &&
		      add->l.end + 1 == e->l.start))) {
			if (e->l.start < add->l.start)
				add->l.start = e->l.start;
			if (e->l.end > add->l.end)
				add->l.end = e->l.end;
			*pp = e->next;
			free(e);
			continue;
		}
		pp = &e->next;
	}
	add->next = f->locks;
	f->locks = add;
	return 0;
}

int plock_drop(struct plock_file *f, uint32_t node, int all, uint64_t owner,
	       uint32_t cls)
{
	struct plock_ent **pp = &f->locks, *e;
	struct plock_wait **wp = &f->waits, *w;
	int n = 0;

	while ((e = *pp)) {
		if (e->l.node == node && (all || (e->l.owner == owner &&
						  e->l.cls == cls))) {
			*pp = e->next;
			free(e);
			n++;
		} else {
			pp = &e->next;
		}
	}
	while ((w = *wp)) {
		if (w->l.node == node && (all || (w->l.owner == owner &&
						  w->l.cls == cls))) {
			*wp = w->next;
			free(w);
		} else {
			wp = &w->next;
		}
	}
	return n;
}

size_t plock_count(const struct plock_file *f, uint32_t node)
{
	const struct plock_ent *e;
	size_t n = 0;

	for (e = f->locks; e; e = e->next)
		if (!node || e->l.node == node)
			n++;
	return n;
}

int plock_wait_add(struct plock_file *f, const struct plock *req,
		   uint64_t wait_id)
{
	struct plock_wait **pp, *w;

	for (pp = &f->waits; (w = *pp); pp = &w->next)
		if (w->l.node == req->node && w->wait_id == wait_id) {
			w->l = *req;
			return 0;
		}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->l = *req;
	w->wait_id = wait_id;
	*pp = w;
	return 0;
}

int plock_wait_del(struct plock_file *f, uint32_t node, uint64_t wait_id)
{
	struct plock_wait **pp, *w;

	for (pp = &f->waits; (w = *pp); pp = &w->next)
		if (w->l.node == node && w->wait_id == wait_id) {
			*pp = w->next;
			free(w);
			return 1;
		}
	return 0;
}

struct plock_wait *plock_wake(struct plock_file *f)
{
	struct plock_wait *out = NULL, **tail = &out, **pp = &f->waits, *w, *o;

	while ((w = *pp)) {
		int busy = plock_test(f, &w->l, NULL);

		for (o = out; o && !busy; o = o->next)
			busy = plock_conflicts(&o->l, &w->l);
		if (busy) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = NULL;
		*tail = w;
		tail = &w->next;
	}
	return out;
}

/* ---- tables ------------------------------------------------------------- */

void plock_tab_init(struct plock_tab *t)
{
	memset(t, 0, sizeof(*t));
}

static size_t slot_of(const struct plock_tab *t, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 32) &
	       (t->nslots - 1);
}

static int grow(struct plock_tab *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 64, i;
	struct plock_file **s = calloc(n, sizeof(*s)), *f;
	struct plock_tab nt = { s, n, t->count };

	if (!s)
		return -ENOMEM;
	for (i = 0; i < t->nslots; i++)
		while ((f = t->slots[i])) {
			size_t k = slot_of(&nt, f->ino);

			t->slots[i] = f->next;
			f->next = s[k];
			s[k] = f;
		}
	free(t->slots);
	*t = nt;
	return 0;
}

struct plock_file *plock_tab_get(struct plock_tab *t, uint64_t ino,
				 int create)
{
	struct plock_file *f;
	size_t k;

	if (t->nslots)
		for (f = t->slots[slot_of(t, ino)]; f; f = f->next)
			if (f->ino == ino)
				return f;
	if (!create)
		return NULL;
	if (t->count >= t->nslots && grow(t))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ino = ino;
	k = slot_of(t, ino);
	f->next = t->slots[k];
	t->slots[k] = f;
	t->count++;
	return f;
}

void plock_tab_put(struct plock_tab *t, struct plock_file *f)
{
	struct plock_file **pp;

	if (!f || f->locks || f->waits)
		return;
	for (pp = &t->slots[slot_of(t, f->ino)]; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			t->count--;
			free(f);
			return;
		}
}

int plock_tab_each(const struct plock_tab *t,
		   int (*fn)(struct plock_file *f, void *arg), void *arg)
{
	struct plock_file *f;
	size_t i;
	int rc;

	for (i = 0; i < t->nslots; i++)
		for (f = t->slots[i]; f; f = f->next) {
			rc = fn(f, arg);
			if (rc)
				return rc;
		}
	return 0;
}

void plock_tab_release(struct plock_tab *t)
{
	struct plock_file *f;
	size_t i;

	for (i = 0; i < t->nslots; i++)
		while ((f = t->slots[i])) {
			t->slots[i] = f->next;
			while (f->locks) {
				struct plock_ent *e = f->locks;

				f->locks = e->next;
				free(e);
			}
			while (f->waits) {
				struct plock_wait *w = f->waits;

				f->waits = w->next;
				free(w);
			}
			free(f);
		}
	free(t->slots);
	plock_tab_init(t);
}

void plock_to_wire(const struct plock *l, struct csvfs_wlock *w)
{
	memset(w, 0, sizeof(*w));
	w->node = l->node;
	w->pid = l->pid;
	w->owner = l->owner;
	w->type = l->type;
	w->cls = l->cls;
	w->start = l->start;
	w->end = l->end;
}

void plock_from_wire(const struct csvfs_wlock *w, uint32_t node,
		     struct plock *l)
{
	memset(l, 0, sizeof(*l));
	l->node = node;
	l->pid = w->pid;
	l->owner = w->owner;
	l->type = w->type;
	l->cls = w->cls;
	l->start = w->start;
	l->end = w->end;
}

/*
 * itab: chained hash table keyed by inode number, doubled when the load
 * passes 1. Inode numbers are metadata block numbers (dense, often
 * consecutive), so they are mixed before use.
 */
#include <errno.h>
#include <stdlib.h>

#include "fs/itab.h"

static size_t itab_slot(uint64_t ino, size_t nslots)
{
	ino ^= ino >> 33;
	ino *= 0xff51afd7ed558ccdULL;
	ino ^= ino >> 33;
	return (size_t)ino & (nslots - 1);
}

void itab_init(struct itab *t)
{
	t->slots = NULL;
	t->nslots = 0;
	t->count = 0;
}

void itab_release(struct itab *t)
{
	free(t->slots);
	itab_init(t);
}

struct itab_node *itab_get(const struct itab *t, uint64_t ino)
{
	struct itab_node *n;

	if (!t->nslots)
		return NULL;
	for (n = t->slots[itab_slot(ino, t->nslots)]; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

static int itab_grow(struct itab *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64;
	struct itab_node **slots;
	size_t i;

	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->nslots; i++) {
		struct itab_node *n = t->slots[i], *next;

		for (; n; n = next) {
			size_t s = itab_slot(n->ino, nslots);

			next = n->next;
			n->next = slots[s];
			slots[s] = n;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

int itab_put(struct itab *t, struct itab_node *n)
{
	size_t s;
	int rc;

	if (t->count >= t->nslots) {
		rc = itab_grow(t);
		/* A full table still works, only slower; an empty one not. */
		if (rc && !t->nslots)
			return rc;
	}
	s = itab_slot(n->ino, t->nslots);
	n->next = t->slots[s];
	t->slots[s] = n;
	t->count++;
	return 0;
}

void itab_del(struct itab *t, struct itab_node *n)
{
	struct itab_node **pp = &t->slots[itab_slot(n->ino, t->nslots)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->count--;
			return;
		}
	}
}

int itab_each(const struct itab *t, int (*fn)(struct itab_node *, void *),
	      void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < t->nslots; i++) {
		struct itab_node *n, *next;

		/* next is read first so fn may free n (but not others). */
		for (n = t->slots[i]; n; n = next) {
			next = n->next;
			rc = fn(n, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

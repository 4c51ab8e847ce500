/*
 * itab: a hash table of objects keyed by inode number. Intrusive: the
 * object embeds a struct itab_node. Used by fsops (lookup counts) and data
 * (open file state).
 *
 * Not thread-safe: every call needs the owner's lock.
 */
#ifndef CSVFS_FS_ITAB_H
#define CSVFS_FS_ITAB_H

#include <stddef.h>
#include <stdint.h>

struct itab_node {
	uint64_t ino;
	struct itab_node *next;
};

struct itab {
	struct itab_node **slots;
	size_t nslots;		/* power of two, 0 before the first insert */
	size_t count;
};

/* An empty table; needs no allocation. */
void itab_init(struct itab *t);
/* Frees the slot array; the objects are the caller's. */
void itab_release(struct itab *t);
/* The node of ino, or NULL. */
struct itab_node *itab_get(const struct itab *t, uint64_t ino);
/* Inserts n (n->ino set, not present yet). Returns 0 or -ENOMEM. */
int itab_put(struct itab *t, struct itab_node *n);
/* Removes n, which must be in the table. */
void itab_del(struct itab *t, struct itab_node *n);
/*
 * Calls fn on every node; fn may free the node it is given but not change
 * the table otherwise (itab_release after freeing all). Stops at and
 * returns the first non-zero value fn returns.
 */
int itab_each(const struct itab *t, int (*fn)(struct itab_node *, void *),
	      void *arg);

#endif /* CSVFS_FS_ITAB_H */

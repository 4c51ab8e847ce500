/*
 * lockd: file ownership rules (see lockd.h). Every function here is pure:
 * it reads and writes only the state it is given.
 *
 * Choices written down:
 * - A read-only open with no owner takes shared-read, so that a reader on
 *   one host and a writer on another never meet (DESIGN.md: shared-read
 *   means nobody writes).
 * - A node that is the only shared-read holder may upgrade to exclusive by
 *   opening for write; with other readers present it gets EBUSY.
 * - The exclusive owner's read-only opens stay under the exclusive grant.
 * - With CSVFS_IFL_MULTIWRITER every open joins the multi-writer holders,
 *   unless the file is still held in another mode by other nodes (the flag
 *   was set while it was open): then EBUSY until they close.
 */
#include <errno.h>
#include <stddef.h>

#include "csvfs/ondisk.h"
#include "lockd/lockd.h"

/* node must be 1..LOCKD_MAX_NODE */
static uint64_t bit_of(uint32_t node)
{
	return 1ull << (node - 1);
}

static uint32_t lowest_other(uint64_t holders, uint32_t node)
{
	uint32_t n;

	for (n = 1; n <= LOCKD_MAX_NODE; n++)
		if (n != node && (holders & bit_of(n)))
			return n;
	return 0;
}

static void set_mode(struct lockd_state *s, uint32_t mode, uint32_t node,
		     uint64_t now_ns)
{
	s->mode = mode;
	s->node = node;
	s->holders = 0;
	s->count = 0;
	s->since_ns = now_ns;
	s->epoch++;
}

/* Adds node to a shared mode's holders. */
static int join(struct lockd_state *s, uint32_t node)
{
	if (s->holders & bit_of(node))
		return 0;
	s->holders |= bit_of(node);
	s->count++;
	if (!s->node)
		s->node = node;
	s->epoch++;
	return 1;
}

static int busy(uint32_t who, uint32_t *owner)
{
	if (owner)
		*owner = who;
	return -EBUSY;
}

int lockd_may_modify(const struct lockd_state *s, uint32_t node, int frees,
		     uint32_t *owner)
{
	uint32_t n;

	if (s->mode == CSVFS_OWN_NONE ||
	    (s->mode == CSVFS_OWN_EXCLUSIVE && s->node == node) ||
	    (s->mode == CSVFS_OWN_MULTI && lockd_holds(s, node) &&
	     (!frees || s->holders == bit_of(node))))
		return 0;
	if (owner) {
		*owner = s->node;
		for (n = 1; !*owner && n <= LOCKD_MAX_NODE; n++)
			if (s->holders & bit_of(n) && n != node)
				*owner = n;
	}
	return -EBUSY;
}

int lockd_holds(const struct lockd_state *s, uint32_t node)
{
	if (node == 0)
		return 0;
	switch (s->mode) {
	case CSVFS_OWN_EXCLUSIVE:
		return s->node == node;
	case CSVFS_OWN_SHARED_READ:
	case CSVFS_OWN_MULTI:
		return node <= LOCKD_MAX_NODE && (s->holders & bit_of(node));
	default:
		return 0;
	}
}

int lockd_acquire(struct lockd_state *s, uint32_t node, int access,
		  uint64_t now_ns, uint32_t *owner)
{
	int multi = !!(s->iflags & CSVFS_IFL_MULTIWRITER);
	uint64_t me;

	if (node == 0 || (access != LOCKD_READ && access != LOCKD_WRITE))
		return -EINVAL;
	me = node <= LOCKD_MAX_NODE ? bit_of(node) : 0;
	if (s->mode == CSVFS_OWN_EXCLUSIVE) {
		if (s->node == node)
			return 0;
		return busy(s->node, owner);
	}
	/* A node without a bitmap bit can only take exclusive. */
	if (!me && (multi || access == LOCKD_READ))
		return -ERANGE;
	if (multi) {
		if (s->mode == CSVFS_OWN_NONE) {
			set_mode(s, CSVFS_OWN_MULTI, node, now_ns);
			return join(s, node);
		}
		if (s->mode == CSVFS_OWN_MULTI)
			return join(s, node);
		/* shared-read held when the flag was set */
		if (access == LOCKD_READ)
			return join(s, node);
		if (s->holders & ~me)
			return busy(lowest_other(s->holders, node), owner);
		set_mode(s, CSVFS_OWN_MULTI, node, now_ns);
		return join(s, node);
	}
	switch (s->mode) {
	case CSVFS_OWN_NONE:
		if (access == LOCKD_WRITE) {
			set_mode(s, CSVFS_OWN_EXCLUSIVE, node, now_ns);
			return 1;
		}
		set_mode(s, CSVFS_OWN_SHARED_READ, node, now_ns);
		return join(s, node);
	case CSVFS_OWN_SHARED_READ:
		if (access == LOCKD_READ)
			return join(s, node);
		/* a writer needs every other holder gone */
		__attribute__((fallthrough));
	case CSVFS_OWN_MULTI:
		/* multi-writer state left after the flag was cleared */
		if (s->holders & ~me)
			return busy(lowest_other(s->holders, node), owner);
		set_mode(s, CSVFS_OWN_EXCLUSIVE, node, now_ns);
		return 1;
	default:
		return -EINVAL;
	}
}

int lockd_release(struct lockd_state *s, uint32_t node)
{
	if (node == 0)
		return -EINVAL;
	if (!lockd_holds(s, node))
		return 0;
	if (s->mode == CSVFS_OWN_EXCLUSIVE) {
		if (s->iflags & CSVFS_IFL_PINNED)
			return 0;
		set_mode(s, CSVFS_OWN_NONE, 0, 0);
		return 1;
	}
	if (s->count == 1 && (s->iflags & CSVFS_IFL_PINNED))
		return 0;
	s->holders &= ~bit_of(node);
	s->count = s->count ? s->count - 1 : 0;
	if (!s->holders) {
		set_mode(s, CSVFS_OWN_NONE, 0, 0);
		return 1;
	}
	if (s->node == node)
		s->node = lowest_other(s->holders, 0);
	s->epoch++;
	return 1;
}

int lockd_break(struct lockd_state *s, uint32_t node)
{
	if (node == 0)
		return -EINVAL;
	if (!lockd_holds(s, node))
		return 0;
	if (s->mode == CSVFS_OWN_EXCLUSIVE) {
		set_mode(s, CSVFS_OWN_NONE, 0, 0);
		return 1;
	}
	s->holders &= ~bit_of(node);
	s->count = s->count ? s->count - 1 : 0;
	if (!s->holders) {
		set_mode(s, CSVFS_OWN_NONE, 0, 0);
		return 1;
	}
	if (s->node == node)
		s->node = lowest_other(s->holders, 0);
	s->epoch++;
	return 1;
}

int lockd_handoff(struct lockd_state *s, uint32_t from, uint32_t to,
		  uint64_t now_ns)
{
	if (to == 0)
		return -EINVAL;
	if (s->mode == CSVFS_OWN_SHARED_READ || s->mode == CSVFS_OWN_MULTI)
		return -EBUSY;
	if (s->mode == CSVFS_OWN_EXCLUSIVE ? s->node != from : from != 0)
		return -ENOLCK;
	if (from == to)
		return 0;
	set_mode(s, CSVFS_OWN_EXCLUSIVE, to, now_ns);
	return 1;
}

const char *lockd_mode_name(uint32_t mode)
{
	switch (mode) {
	case CSVFS_OWN_EXCLUSIVE:
		return "exclusive";
	case CSVFS_OWN_SHARED_READ:
		return "shared-read";
	case CSVFS_OWN_MULTI:
		return "multi-writer";
	case CSVFS_OWN_NONE:
		return "none";
	default:
		return "unknown";
	}
}

/*
 * lockd: file ownership rules (see lockd.h). Every function here is pure:
 * it reads and writes only the state it is given.
 *
 * Choices written down:
 * - Readers never block a writer and a writer never blocks readers
 *   (unless the file is strict): with every cluster open served by direct
 *   I/O, a read on any node reaches the device and sees every write that
 *   returned on the writer's node, and readers' extent maps are kept
 *   right by the coordinator's invalidations (fs/data.c rechecks a read
 *   that an invalidation crossed). What must never happen is two writers:
 *   a second read-write open is EBUSY.
 * - The writer's own read-only handles stay under its write hold; when
 *   its last read-write handle closes it is counted among the readers.
 * - With CSVFS_IFL_MULTIWRITER every open joins the multi-writer holders,
 *   unless another node is still the single writer (the flag was set while
 *   it was open): then a write open is EBUSY until it closes.
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

static int fits(uint32_t node)
{
	return node >= 1 && node <= LOCKD_MAX_NODE;
}

static uint32_t lowest_other(uint64_t holders, uint32_t node)
{
	uint32_t n;

	for (n = 1; n <= LOCKD_MAX_NODE; n++)
		if (n != node && (holders & bit_of(n)))
			return n;
	return 0;
}

static uint32_t popcount(uint64_t v)
{
	return (uint32_t)__builtin_popcountll(v);
}

/* Sets holders and everything that follows from them and the writer. */
static void settle(struct lockd_state *s, uint32_t writer, uint64_t holders,
		   uint64_t now_ns)
{
	uint32_t mode;

	if (writer)
		mode = CSVFS_OWN_WRITER;
	else if (!holders)
		mode = CSVFS_OWN_NONE;
	else if (s->mode == CSVFS_OWN_MULTI)
		mode = CSVFS_OWN_MULTI;	/* until its last holder leaves */
	else
		mode = CSVFS_OWN_READERS;
	if (mode != s->mode || writer != (mode == CSVFS_OWN_WRITER ? s->node : 0))
		s->since_ns = now_ns;
	if (mode != CSVFS_OWN_WRITER)
		s->iflags &= ~(uint32_t)CSVFS_IFL_HANDOFF;
	s->mode = mode;
	s->holders = holders;
	s->count = popcount(holders);
	s->node = writer ? writer : lowest_other(holders, 0);
	if (mode == CSVFS_OWN_NONE)
		s->since_ns = 0;
	s->epoch++;
}

static int busy(uint32_t who, uint32_t *owner)
{
	if (owner)
		*owner = who;
	return -EBUSY;
}

/* A handoff's reservation that its target never used in time. */
static int reservation_lapsed(const struct lockd_state *s, uint64_t now_ns)
{
	return s->mode == CSVFS_OWN_WRITER &&
	       (s->iflags & CSVFS_IFL_HANDOFF) &&
	       now_ns > s->since_ns && now_ns - s->since_ns > LOCKD_RESERVE_NS;
}

int lockd_holds(const struct lockd_state *s, uint32_t node)
{
	if (node == 0)
		return 0;
	if (s->mode == CSVFS_OWN_WRITER && s->node == node)
		return 1;
	return s->mode != CSVFS_OWN_NONE && fits(node) &&
	       (s->holders & bit_of(node));
}

int lockd_is_writer(const struct lockd_state *s, uint32_t node)
{
	return node && s->mode == CSVFS_OWN_WRITER && s->node == node;
}

int lockd_may_modify(const struct lockd_state *s, uint32_t node, int frees,
		     uint32_t *owner)
{
	switch (s->mode) {
	case CSVFS_OWN_NONE:
	case CSVFS_OWN_READERS:
		/* Readers revalidate their maps after the invalidation. */
		return 0;
	case CSVFS_OWN_WRITER:
		if (s->node == node)
			return 0;
		return busy(s->node, owner);
	case CSVFS_OWN_MULTI:
		/* Other writers write through their maps: never free under
		 * them. */
		if (lockd_holds(s, node) &&
		    (!frees || s->holders == bit_of(node)))
			return 0;
		return busy(lowest_other(s->holders, node), owner);
	default:
		return busy(s->node, owner);
	}
}

/* CSVFS_IFL_MULTIWRITER is set; node is not the single writer. */
static int acquire_multi(struct lockd_state *s, uint32_t node, int access,
			 uint64_t now_ns, uint32_t *owner)
{
	uint64_t me = bit_of(node);

	if (s->mode == CSVFS_OWN_WRITER) {
		/* A single writer from before the flag was set: others
		 * write once it has closed. */
		if (access == LOCKD_WRITE)
			return busy(s->node, owner);
		if (s->holders & me)
			return 0;
		settle(s, s->node, s->holders | me, now_ns);
		return 1;
	}
	if (s->mode == CSVFS_OWN_MULTI && (s->holders & me))
		return 0;
	/* none, multi-writer, or readers from before the flag was set */
	s->mode = CSVFS_OWN_MULTI;
	settle(s, 0, s->holders | me, now_ns);
	return 1;
}

int lockd_acquire(struct lockd_state *s, uint32_t node, int access,
		  uint64_t now_ns, uint32_t *owner)
{
	int strict = !!(s->iflags & CSVFS_IFL_STRICT);
	uint64_t me, others;

	if (node == 0 || (access != LOCKD_READ && access != LOCKD_WRITE))
		return -EINVAL;
	if (reservation_lapsed(s, now_ns) && s->node != node)
		settle(s, 0, s->holders, now_ns);
	if (lockd_is_writer(s, node)) {
		if (access == LOCKD_WRITE && (s->iflags & CSVFS_IFL_HANDOFF)) {
			/* The handoff's target opens for writing: it is
			 * the writer in its own right from now on. */
			s->iflags &= ~(uint32_t)CSVFS_IFL_HANDOFF;
			s->epoch++;
			return 1;
		}
		return 0;
	}
	/* Past here the node needs a bit in the holder bitmap, unless it
	 * becomes the writer of a file nobody else holds. */
	me = fits(node) ? bit_of(node) : 0;
	others = s->holders & ~me;
	if (s->iflags & CSVFS_IFL_MULTIWRITER) {
		if (!me)
			return -ERANGE;
		return acquire_multi(s, node, access, now_ns, owner);
	}
	if (s->mode == CSVFS_OWN_WRITER) {
		/* Two writers never; a reader only if not strict. */
		if (access == LOCKD_WRITE || strict)
			return busy(s->node, owner);
		if (!me)
			return -ERANGE;
		if (s->holders & me)
			return 0;
		settle(s, s->node, s->holders | me, now_ns);
		return 1;
	}
	/* none, readers, or multi-writer left after the flag was cleared */
	if (s->mode == CSVFS_OWN_MULTI && others && access == LOCKD_WRITE)
		return busy(lowest_other(others, node), owner);
	if (access == LOCKD_WRITE) {
		if (strict && others)
			return busy(lowest_other(others, node), owner);
		if (!me && others)
			return -ERANGE;
		settle(s, node, others, now_ns);
		return 1;
	}
	if (!me)
		return -ERANGE;
	if (s->holders & me)
		return 0;
	if (s->mode == CSVFS_OWN_NONE)
		s->mode = CSVFS_OWN_READERS;
	settle(s, 0, s->holders | me, now_ns);
	return 1;
}

int lockd_release(struct lockd_state *s, uint32_t node, int what,
		  uint64_t now_ns)
{
	uint64_t me;

	if (node == 0 || (what != LOCKD_DROP_WRITE && what != LOCKD_DROP_ALL))
		return -EINVAL;
	if (!lockd_holds(s, node))
		return 0;
	me = fits(node) ? bit_of(node) : 0;
	if (lockd_is_writer(s, node)) {
		if (s->iflags & CSVFS_IFL_PINNED)
			return 0;
		/* A reserved target closing read-only handles (QEMU's probe
		 * open) keeps its reservation. */
		if ((s->iflags & CSVFS_IFL_HANDOFF) && what == LOCKD_DROP_ALL)
			return 0;
		if (what == LOCKD_DROP_WRITE && me) {
			settle(s, 0, s->holders | me, now_ns);
			return 1;
		}
		settle(s, 0, s->holders & ~me, now_ns);
		return 1;
	}
	/* A reader keeps reading; a multi-writer hold covers both. */
	if (what == LOCKD_DROP_WRITE)
		return 0;
	if (s->mode == CSVFS_OWN_MULTI && s->count == 1 &&
	    (s->iflags & CSVFS_IFL_PINNED))
		return 0;
	settle(s, s->mode == CSVFS_OWN_WRITER ? s->node : 0,
	       s->holders & ~me, now_ns);
	return 1;
}

int lockd_break(struct lockd_state *s, uint32_t node, uint64_t now_ns)
{
	uint64_t me;

	if (node == 0)
		return -EINVAL;
	if (!lockd_holds(s, node))
		return 0;
	me = fits(node) ? bit_of(node) : 0;
	settle(s, lockd_is_writer(s, node) ? 0 :
		  (s->mode == CSVFS_OWN_WRITER ? s->node : 0),
	       s->holders & ~me, now_ns);
	return 1;
}

int lockd_handoff(struct lockd_state *s, uint32_t from, uint32_t to,
		  int from_open, uint64_t now_ns)
{
	uint64_t holders;

	if (to == 0)
		return -EINVAL;
	if (s->mode == CSVFS_OWN_MULTI)
		return -EBUSY;
	if (s->mode == CSVFS_OWN_WRITER ? s->node != from : from != 0)
		return -ENOLCK;
	if (from == to)
		return 0;
	holders = s->holders & ~(fits(to) ? bit_of(to) : 0);
	if (from && from_open) {
		if (!fits(from))
			return -ERANGE;
		holders |= bit_of(from);
	}
	settle(s, to, holders, now_ns);
	s->since_ns = now_ns;
	s->iflags |= CSVFS_IFL_HANDOFF;
	return 1;
}

const char *lockd_mode_name(uint32_t mode)
{
	switch (mode) {
	case CSVFS_OWN_WRITER:
		return "single-writer";
	case CSVFS_OWN_READERS:
		return "readers";
	case CSVFS_OWN_MULTI:
		return "multi-writer";
	case CSVFS_OWN_NONE:
		return "none";
	default:
		return "unknown";
	}
}

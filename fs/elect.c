/*
 * elect: the coordinator election as a state machine over Corosync's total
 * order.
 *
 * Why it cannot race. CPG delivers configuration changes and AGREED
 * messages to every member in one order, and a member that joins sees
 * exactly the suffix of that order that starts with its own join. So:
 *
 *  - A round starts at a position of the order every current member sees:
 *    a configuration change (round 0), a MOVE or a RESTART (round + 1).
 *    Every member then multicasts one STATE tagged with the round's VIEW
 *    (the member list with pids, and the round number). A STATE tagged
 *    with another view is from an earlier round, sent before its sender
 *    saw the change, and does not count. Between a round's start and its
 *    decision nothing but STATEs is acted on; since each member's STATE
 *    follows everything it sent before (the order keeps each sender's
 *    messages in sequence), every older message has been delivered by
 *    the time the round is decided. This is what the old election
 *    lacked: an ANNOUNCE of a coordinator that had already resigned
 *    reached a node that had just joined, which then tried to connect to
 *    it. (ANNOUNCE carries the VIEW too, as a second line of defence.)
 *  - A round is decided at the position of its last STATE, which is the
 *    same for everyone, from the same set of STATEs: the same preferred
 *    node (from the member that took part in the most recent rounds, i.e.
 *    the highest epoch), the same target (the preferred node if it is a
 *    quorate member, else the lowest quorate member), the same set of
 *    members that still serve.
 *  - The target starts the role only when no other member serves: a
 *    member that serves and is not the target stops (commits, stops
 *    listening) before it multicasts RESIGN, and the target waits for
 *    that RESIGN. A coordinator that left without resigning either ended
 *    (CPG reason PROCDOWN: its daemon exited, and a process that has
 *    exited has no write in flight, since each of its writes is a
 *    synchronous call that completes before the process can end) or went
 *    away with its node (NODEDOWN: cut off or dead): then the target
 *    acts only on a quorum known for the ring that lost that node
 *    (elect_ring: a node cut off alone may see the change before it
 *    hears that it lost quorum, and must not elect itself meanwhile).
 *    Until Corosync has delivered both, it waits the grace time, within
 *    which a cut-off node loses quorum and stops serving by itself; the
 *    grace also ends once that node's heartbeat has stood still for
 *    CSVFS_GRACE_HB_MS (it stops its role before its stamps when it
 *    loses quorum: elect_fenced). A node without quorum never serves.
 *  - The target then bumps the epoch on disk and multicasts ANNOUNCE with
 *    the round's VIEW; members follow only an ANNOUNCE of the target of
 *    their current round.
 *  - A member that stays in the group but stops (its daemon frozen by
 *    SIGSTOP, a VM pause, a hung device) would stall everyone: as
 *    coordinator nobody else may start, and no round can be decided
 *    without its STATE. A member that waits for it and sees its on-disk
 *    heartbeat stand still for CSVFS_DEPOSE_MS (fs/cluster.c watches)
 *    multicasts DEPOSE, tagged with the round's VIEW. Where the first
 *    such DEPOSE of a round lands in the order, every member marks that
 *    member deposed and starts the next round without it: its STATEs do
 *    not count, it is never the target, and it need not resign. The new
 *    coordinator's epoch bump fences it on disk: when it wakes its next
 *    write finds its epoch proof run out, reads the superblock and
 *    writes nothing (meta/jrnl.c); and once its dispatch delivers the
 *    DEPOSE it drops the role without writing (ops.abandon) and
 *    follows the new coordinator. The deposed marks last until the next
 *    configuration change.
 * Only "when" depends on local time (the grace, a retry after a failed
 * start, the heartbeat watch), never "who".
 */
#include <errno.h>
#include <string.h>

#include "csvfs/log.h"
#include "fs/elect.h"
#include "lockd/hb.h"

#define RETRY_MS	1000

static const char *const state_names[] = {
	[ELECT_JOINING] = "joining",
	[ELECT_SYNC] = "sync",
	[ELECT_WAIT_RESIGN] = "wait-resign",
	[ELECT_GRACE] = "grace",
	[ELECT_START_FAILED] = "start-failed",
	[ELECT_SERVING] = "serving",
	[ELECT_WAIT_ANNOUNCE] = "wait-announce",
	[ELECT_FOLLOWING] = "following",
	[ELECT_NO_QUORUM] = "no-quorum",
	[ELECT_LEAVING] = "leaving",
};

const char *elect_state_name(enum elect_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "unknown";
}

void elect_init(struct elect *e, const struct elect_opts *o,
		const struct elect_ops *ops, void *ctx)
{
	memset(e, 0, sizeof(*e));
	e->o = *o;
	if (!e->o.retry_ms)
		e->o.retry_ms = RETRY_MS;
	e->ops = *ops;
	e->ctx = ctx;
	e->state = ELECT_JOINING;
	e->epoch = o->disk_epoch;
}

static int same(const struct msg_elect_member *a,
		const struct msg_elect_member *b)
{
	return a->node == b->node && a->pid == b->pid;
}

static int is_self(const struct elect *e, const struct msg_elect_member *m)
{
	return m->node == e->o.node && m->pid == e->o.pid;
}

static int view_index(const struct elect *e, uint32_t node, uint32_t pid)
{
	uint32_t i;

	for (i = 0; i < e->nview; i++)
		if (e->view[i].node == node && e->view[i].pid == pid)
			return (int)i;
	return -1;
}

static int in_view(const struct elect *e, uint32_t node)
{
	uint32_t i;

	for (i = 0; node && i < e->nview; i++)
		if (e->view[i].node == node)
			return 1;
	return 0;
}

static int view_match(const struct elect *e, const struct msg_elect *m)
{
	uint32_t i;

	if (m->round != e->round || m->n != e->nview)
		return 0;
	for (i = 0; i < m->n; i++)
		if (!same(&m->m[i], &e->view[i]))
			return 0;
	return 1;
}

static void send_msg(struct elect *e, struct msg_elect *m)
{
	struct msg_wr w;
	int rc;

	m->from = e->o.node;
	if (!m->epoch)
		m->epoch = e->epoch;
	if (m->type == CSVFS_MSG_ELECT_STATE ||
	    m->type == CSVFS_MSG_ELECT_ANNOUNCE ||
	    m->type == CSVFS_MSG_ELECT_DEPOSE) {
		m->round = e->round;
		m->n = e->nview;
		memcpy(m->m, e->view, e->nview * sizeof(e->view[0]));
	}
	msg_wr_init(&w);
	rc = msg_elect_encode(m, &w);
	if (!rc)
		rc = e->ops.send(e->ctx, w.p, w.len);
	msg_wr_free(&w);
	/*
	 * A lost STATE stalls the round until the next change: say so. The
	 * multicast fails only when corosync is gone, and then the
	 * membership callback ends everything anyway.
	 */
	if (rc)
		log_err("node %u: cannot multicast %s: %s", e->o.node,
			msg_type_name(m->type), strerror(-rc));
}

static void send_simple(struct elect *e, uint16_t type)
{
	struct msg_elect m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	send_msg(e, &m);
}

static void set_coord(struct elect *e, const struct msg_elect_member *c,
		      uint16_t port, uint64_t epoch)
{
	static const struct msg_elect_member none;

	if (!c)
		c = &none;
	if (same(&e->coord, c) && e->coord_port == port && c->node)
		return;
	if (!c->node && !e->coord.node)
		return;
	e->coord = *c;
	e->coord_port = port;
	e->ops.follow(e->ctx, c->node, port, epoch);
}

static void role_stop(struct elect *e, const char *why, int resign)
{
	if (!e->serving)
		return;
	e->ops.stop(e->ctx, why);
	e->serving = 0;
	if (is_self(e, &e->coord))
		set_coord(e, NULL, 0, 0);
	/* Only after the stop: whoever waits for it may start at once. */
	if (resign)
		send_simple(e, CSVFS_MSG_ELECT_RESIGN);
}

/* This node was deposed: drop the role, write nothing, no RESIGN (the
 * others do not wait for one). */
static void role_abandon(struct elect *e)
{
	if (!e->serving)
		return;
	if (e->ops.abandon)
		e->ops.abandon(e->ctx, "deposed: the others saw this node's "
			       "heartbeat stand still");
	else
		e->ops.stop(e->ctx, "deposed");
	e->serving = 0;
	if (is_self(e, &e->coord))
		set_coord(e, NULL, 0, 0);
}

static void announce(struct elect *e)
{
	struct msg_elect m;

	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_ANNOUNCE;
	m.epoch = e->serve_epoch;
	m.port = e->o.port;
	send_msg(e, &m);
}

static void new_round(struct elect *e)
{
	struct msg_elect m;

	memset(e->st, 0, sizeof(e->st));
	e->nseen = 0;
	e->ops.timer(e->ctx, -1);
	e->state = ELECT_SYNC;
	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_STATE;
	m.flags = (e->serving ? CSVFS_ELECTF_SERVING : 0) |
		  (e->quorate ? CSVFS_ELECTF_QUORATE : 0) |
		  (e->synced ? CSVFS_ELECTF_SYNCED : 0) | e->lost;
	m.preferred = e->preferred;
	m.epoch = e->serving && e->serve_epoch > e->epoch ? e->serve_epoch :
		  e->epoch;
	send_msg(e, &m);
}

/* Some member other than the target still serves. */
static int busy(const struct elect *e)
{
	uint32_t i;

	for (i = 0; i < e->nview; i++)
		if (e->st[i].flags & CSVFS_ELECTF_SERVING && !e->deposed[i] &&
		    !same(&e->view[i], &e->target))
			return 1;
	return 0;
}

static void try_start(struct elect *e)
{
	uint64_t ep = 0;
	int rc;

	if (e->lost & CSVFS_ELECTF_LOST_NODE && e->state != ELECT_GRACE &&
	    !(e->ring_current && e->quorate)) {
		log_warn("node %u: elected; the last coordinator went away "
			 "with its node: waiting %u ms until it has fenced "
			 "itself", e->o.node, e->o.grace_ms);
		e->state = ELECT_GRACE;
		e->ops.timer(e->ctx, (int)e->o.grace_ms);
		return;
	}
	/*
	 * The grace is the time in which a cut-off node hears that it lost
	 * quorum (Corosync may deliver the configuration change first: a
	 * lone node must not start, bump the epoch and so fence the real
	 * coordinator). It proves nothing about the lost coordinator's
	 * writes in flight, so the start after it is fenced by epoch.
	 */
	if (e->lost & CSVFS_ELECTF_LOST_NODE && e->state != ELECT_GRACE)
		log_warn("node %u: elected; the last coordinator went away "
			 "with its node, and this node is quorate in the ring "
			 "that lost it: starting fenced", e->o.node);
	e->start_fence = !!(e->lost & (CSVFS_ELECTF_LOST_DEPOSED |
				       CSVFS_ELECTF_LOST_NODE));
	rc = e->ops.start(e->ctx, &ep);
	e->start_fence = 0;
	if (rc) {
		log_err("node %u: elected, but the coordinator did not start "
			"(%s): a new round in %u ms", e->o.node,
			strerror(rc < 0 && rc > -4096 ? -rc : EIO),
			e->o.retry_ms);
		e->state = ELECT_START_FAILED;
		e->ops.timer(e->ctx, (int)e->o.retry_ms);
		return;
	}
	e->serving = 1;
	e->serve_epoch = ep;
	if (ep > e->epoch)
		e->epoch = ep;
	e->lost = 0;
	e->grace_node = 0;
	e->state = ELECT_SERVING;
	announce(e);
	set_coord(e, &e->view[view_index(e, e->o.node, e->o.pid)],
		  e->o.port, ep);
}

static void decide(struct elect *e)
{
	int best = -1, mine;
	uint32_t i, pref;
	uint64_t top = e->epoch;

	e->rounds++;
	/*
	 * The preferred node of the member with the highest epoch among
	 * those that took part in a round before (a node that just joined
	 * knows no MOVE); ties: the first in view order.
	 */
	for (i = 0; i < e->nview; i++) {
		if (e->st[i].epoch > top)
			top = e->st[i].epoch;
		e->lost |= e->st[i].flags & (CSVFS_ELECTF_LOST_NODE |
					     CSVFS_ELECTF_LOST_PROC |
					     CSVFS_ELECTF_LOST_DEPOSED);
		if (!(e->st[i].flags & CSVFS_ELECTF_SYNCED))
			continue;
		if (best < 0 || e->st[i].epoch > e->st[best].epoch)
			best = (int)i;
	}
	if (best < 0)
		for (i = 0; i < e->nview; i++)
			if (best < 0 || e->st[i].epoch > e->st[best].epoch)
				best = (int)i;
	pref = best >= 0 ? e->st[best].preferred : 0;
	e->epoch = top;
	e->synced = 1;
	memset(&e->target, 0, sizeof(e->target));
	for (i = 0; pref && i < e->nview; i++)
		if (e->view[i].node == pref &&
		    e->st[i].flags & CSVFS_ELECTF_QUORATE) {
			e->target = e->view[i];
			break;
		}
	/* A moved role falls back to the lowest id when its node leaves. */
	if (!e->target.node)
		pref = 0;
	e->preferred = pref;
	for (i = 0; !e->target.node && i < e->nview; i++)
		if (e->st[i].flags & CSVFS_ELECTF_QUORATE)
			e->target = e->view[i];
	mine = is_self(e, &e->target);
	log_info("node %u: election round %u of %u members: coordinator "
		 "node %u (epoch %llu)", e->o.node, e->round, e->nview,
		 e->target.node, (unsigned long long)e->epoch);
	if (!e->quorate) {
		role_stop(e, "quorum lost", 1);
		set_coord(e, NULL, 0, 0);
		e->state = ELECT_NO_QUORUM;
		return;
	}
	if (mine) {
		if (e->serving && e->serve_epoch < top)
			/* Someone served after us: we are stale. */
			role_stop(e, "a newer coordinator epoch exists", 1);
		if (e->serving) {
			e->lost = 0;
			e->state = ELECT_SERVING;
			announce(e);
			return;
		}
		if (busy(e)) {
			e->state = ELECT_WAIT_RESIGN;
			return;
		}
		try_start(e);
		return;
	}
	role_stop(e, "the role moves", 1);
	if (!same(&e->coord, &e->target))
		set_coord(e, NULL, 0, 0);
	e->state = e->coord.node ? ELECT_FOLLOWING : ELECT_WAIT_ANNOUNCE;
}

void elect_confchg(struct elect *e, const struct memb_member *members,
		   size_t n, const struct memb_member *left, size_t nleft)
{
	size_t i;

	if (e->state == ELECT_LEAVING)
		return;
	if (n == 0 || n > CSVFS_ELECT_MAX_MEMBERS) {
		/* Corosync is gone (or the group is absurd): stop at once. */
		role_stop(e, "lost the cluster membership", 0);
		set_coord(e, NULL, 0, 0);
		e->nview = 0;
		e->state = ELECT_NO_QUORUM;
		e->ops.timer(e->ctx, -1);
		return;
	}
	for (i = 0; i < nleft; i++) {
		const struct msg_elect_member g = { left[i].node, left[i].pid };
		int k = view_index(e, g.node, g.pid);
		int may_serve = same(&g, &e->coord) ||
			(same(&g, &e->target) &&
			 e->state == ELECT_WAIT_ANNOUNCE) ||
			(k >= 0 && e->st[k].flags & CSVFS_ELECTF_SERVING);

		if (!may_serve || is_self(e, &g))
			continue;
		if (left[i].reason == MEMB_LEFT_NODE) {
			e->lost |= CSVFS_ELECTF_LOST_NODE;
			e->grace_node = g.node;
		}
		else if (left[i].reason == MEMB_LEFT_PROC)
			e->lost |= CSVFS_ELECTF_LOST_PROC;
		log_warn("node %u: coordinator node %u left without "
			 "resigning (%s)", e->o.node, g.node,
			 left[i].reason == MEMB_LEFT_NODE ? "its node left" :
			 left[i].reason == MEMB_LEFT_PROC ? "its daemon "
			 "ended" : "it left the group");
		if (same(&g, &e->coord))
			set_coord(e, NULL, 0, 0);
	}
	e->nview = (uint32_t)n;
	for (i = 0; i < n; i++) {
		e->view[i].node = members[i].node;
		e->view[i].pid = members[i].pid;
	}
	memset(e->deposed, 0, sizeof(e->deposed));
	e->ndeposed = 0;
	e->conf_gen++;
	e->round = 0;
	new_round(e);
}

void elect_quorum(struct elect *e, int quorate)
{
	int was = e->quorate;

	e->quorate = !!quorate;
	if (e->state == ELECT_LEAVING)
		return;
	if (!quorate) {
		/* Before anything else: a node without quorum may be the cut
		 * off one, and the others take over after the grace. */
		role_stop(e, "quorum lost", 1);
		set_coord(e, NULL, 0, 0);
		/* A round running goes on: its decision is everyone's. */
		if (e->state != ELECT_JOINING && e->state != ELECT_SYNC)
			e->state = ELECT_NO_QUORUM;
		e->ops.timer(e->ctx, -1);
		return;
	}
	/* Our STATEs said "no quorum": a new round for everyone. */
	if (!was && e->nview)
		send_simple(e, CSVFS_MSG_ELECT_RESTART);
}

/*
 * A DEPOSE in the order: the first of this round that names a member of
 * the view (not yet deposed) counts, at every member alike; later ones
 * carry an older round's VIEW and are dropped by view_match.
 */
static void on_depose(struct elect *e, const struct msg_elect *m)
{
	int k;

	if (!view_match(e, m))
		return;
	k = view_index(e, m->node, m->pid);
	if (k < 0 || e->deposed[k])
		return;
	e->deposed[k] = 1;
	e->ndeposed++;
	e->deposes++;
	if (is_self(e, &e->view[k])) {
		log_warn("node %u: deposed by node %u (this daemon's heartbeat "
			 "stood still): dropping the role without writing",
			 e->o.node, m->from);
		role_abandon(e);
	} else {
		log_warn("node %u: member node %u (pid %u) deposed by node %u: "
			 "its heartbeat stood still while it was waited for",
			 e->o.node, m->node, m->pid, m->from);
		if (same(&e->view[k], &e->coord) ||
		    same(&e->view[k], &e->target) ||
		    e->st[k].flags & CSVFS_ELECTF_SERVING)
			e->lost |= CSVFS_ELECTF_LOST_DEPOSED;
		if (same(&e->view[k], &e->coord))
			set_coord(e, NULL, 0, 0);
	}
	e->round++;
	new_round(e);
}

void elect_deliver(struct elect *e, uint32_t node, uint32_t pid,
		   const void *buf, size_t len)
{
	struct msg_elect m;
	int k;

	if (e->state == ELECT_LEAVING || e->state == ELECT_JOINING)
		return;
	if (msg_elect_decode(buf, len, &m) || m.from != node) {
		log_warn("node %u: malformed election message from node %u: "
			 "dropped", e->o.node, node);
		return;
	}
	k = view_index(e, node, pid);
	if (k < 0)
		return;
	switch (m.type) {
	case CSVFS_MSG_ELECT_STATE:
		if (!view_match(e, &m) || e->st[k].seen || e->deposed[k])
			break;
		e->st[k].seen = 1;
		e->st[k].flags = m.flags;
		e->st[k].preferred = m.preferred;
		e->st[k].epoch = m.epoch;
		if (++e->nseen == e->nview - e->ndeposed)
			decide(e);
		break;
	case CSVFS_MSG_ELECT_ANNOUNCE:
		if (!view_match(e, &m) || !same(&e->view[k], &e->target) ||
		    is_self(e, &e->view[k]) || !e->quorate)
			break;
		if (e->state != ELECT_WAIT_ANNOUNCE &&
		    e->state != ELECT_FOLLOWING)
			break;
		if (m.epoch > e->epoch)
			e->epoch = m.epoch;
		e->lost = 0;
		e->state = ELECT_FOLLOWING;
		set_coord(e, &e->view[k], (uint16_t)m.port, m.epoch);
		log_info("node %u: coordinator is node %u (epoch %llu)",
			 e->o.node, node, (unsigned long long)m.epoch);
		break;
	case CSVFS_MSG_ELECT_RESIGN:
		e->st[k].flags &= ~(uint32_t)CSVFS_ELECTF_SERVING;
		if (same(&e->view[k], &e->coord) && !is_self(e, &e->coord)) {
			set_coord(e, NULL, 0, 0);
			if (e->state == ELECT_FOLLOWING)
				e->state = ELECT_WAIT_ANNOUNCE;
		}
		if (e->state == ELECT_WAIT_RESIGN && !busy(e))
			try_start(e);
		break;
	case CSVFS_MSG_ELECT_MOVE:
		/* Everyone has the same view here: all drop it, or none. */
		if (!in_view(e, m.node))
			break;
		e->preferred = m.node;
		e->round++;
		new_round(e);
		break;
	case CSVFS_MSG_ELECT_RESTART:
		e->round++;
		new_round(e);
		break;
	case CSVFS_MSG_ELECT_DEPOSE:
		on_depose(e, &m);
		break;
	}
}

void elect_timer(struct elect *e)
{
	if (e->state == ELECT_GRACE) {
		/* The lost node's heartbeat did not stand still in time: the
		 * fenced start covers it all the same. */
		log_warn("node %u: grace over before lost node %u's heartbeat "
			 "stood still", e->o.node, e->grace_node);
		try_start(e);
	} else if (e->state == ELECT_START_FAILED) {
		send_simple(e, CSVFS_MSG_ELECT_RESTART);
	}
}

static int add_node(uint32_t *nodes, int n, int max, uint32_t node)
{
	int i;

	for (i = 0; i < n; i++)
		if (nodes[i] == node)
			return n;
	if (n < max)
		nodes[n++] = node;
	return n;
}

/* Whether member i is one this node waits for (elect_waiting_for). */
static int waits_for(const struct elect *e, uint32_t i)
{
	const struct msg_elect_member *v = &e->view[i];

	if (e->deposed[i] || is_self(e, v))
		return 0;
	if (same(v, &e->coord))
		return 1;
	if (e->state == ELECT_WAIT_ANNOUNCE && same(v, &e->target))
		return 1;
	if (e->state == ELECT_WAIT_RESIGN &&
	    e->st[i].flags & CSVFS_ELECTF_SERVING)
		return 1;
	return e->state == ELECT_SYNC && !e->st[i].seen;
}

int elect_waiting_for(const struct elect *e, uint32_t *nodes, int max)
{
	uint32_t i;
	int n = 0;

	if (e->state == ELECT_LEAVING || e->state == ELECT_JOINING ||
	    e->state == ELECT_NO_QUORUM || !e->quorate)
		return 0;
	if (e->state == ELECT_GRACE && e->grace_node &&
	    e->grace_node != e->o.node)
		n = add_node(nodes, n, max, e->grace_node);
	for (i = 0; i < e->nview; i++)
		if (waits_for(e, i))
			n = add_node(nodes, n, max, e->view[i].node);
	return n;
}

void elect_ring(struct elect *e, int current, int quorate)
{
	e->ring_current = current;
	if (!current || !quorate || !e->quorate || e->state != ELECT_GRACE)
		return;
	log_info("node %u: quorate in the ring that lost node %u: grace "
		 "over", e->o.node, e->grace_node);
	e->ops.timer(e->ctx, -1);
	try_start(e);
}

void elect_fenced(struct elect *e, uint32_t node)
{
	if (e->state != ELECT_GRACE || !node || node != e->grace_node ||
	    in_view(e, node))
		return;
	log_warn("node %u: lost coordinator node %u stopped its heartbeat "
		 "(it lost quorum and stopped): grace over", e->o.node, node);
	e->ops.timer(e->ctx, -1);
	try_start(e);
}

int elect_depose(struct elect *e, uint32_t node)
{
	struct msg_elect m;
	uint32_t i;

	if (e->state == ELECT_LEAVING || e->state == ELECT_JOINING ||
	    e->state == ELECT_NO_QUORUM || !e->quorate)
		return -ENOENT;
	for (i = 0; i < e->nview; i++)
		if (e->view[i].node == node && waits_for(e, i))
			break;
	if (i == e->nview)
		return -ENOENT;
	if (e->depose_sent == e->conf_gen && e->depose_sent_node == node &&
	    e->depose_sent_round == e->round)
		return -EALREADY;
	e->depose_sent = e->conf_gen;
	e->depose_sent_node = node;
	e->depose_sent_round = e->round;
	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_DEPOSE;
	m.node = node;
	m.pid = e->view[i].pid;
	log_warn("node %u: member node %u (pid %u): heartbeat still for %u "
		 "ms while waited for: deposing it", e->o.node, node,
		 m.pid, (unsigned)CSVFS_DEPOSE_MS);
	send_msg(e, &m);
	return 0;
}

int elect_move(struct elect *e, uint32_t node)
{
	struct msg_elect m;
	struct msg_wr w;
	int rc;

	if (!in_view(e, node))
		return -EHOSTUNREACH;
	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_MOVE;
	m.node = node;
	m.from = e->o.node;
	m.epoch = e->epoch;
	msg_wr_init(&w);
	rc = msg_elect_encode(&m, &w);
	if (!rc)
		rc = e->ops.send(e->ctx, w.p, w.len);
	msg_wr_free(&w);
	return rc;
}

void elect_leave(struct elect *e)
{
	role_stop(e, "unmount", 1);
	e->state = ELECT_LEAVING;
	e->ops.timer(e->ctx, -1);
}

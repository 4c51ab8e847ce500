/*
 * elect_test: the coordinator election (fs/elect.c) under simulated
 * Corosync total orders. A scheduler makes one global log of
 * configuration changes and messages (what CPG agrees on) and lets each
 * member read it at its own pace from its own join on; messages a member
 * multicasts wait a random while before they get their place in the log.
 * So joins at the same instant, stale messages from earlier rounds, kills
 * in the middle of a round and slow members all happen, in thousands of
 * seeded orders. Checked: no two members ever serve at once (a start while
 * another live member serves fails the test), every start writes a higher
 * epoch, and once the log is drained every member follows the same
 * coordinator, the lowest node id (or the node the role was moved to),
 * which serves.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/log.h"
#include "fs/elect.h"
#include "net/msg.h"

#define NMAX	8
#define LOGMAX	20000
#define QMAX	64

enum ev_type { EV_CONF, EV_MSG };

struct ev {
	enum ev_type type;
	struct memb_member mem[NMAX], left[NMAX];
	size_t n, nleft;
	uint32_t node, pid;
	uint8_t *msg;
	size_t len;
};

struct simnode {
	struct elect e;
	uint32_t node, pid;
	int joined, alive, quorate_late;
	size_t pos;			/* next log entry to read */
	struct { uint8_t *msg; size_t len; } q[QMAX];
	size_t nq;
	long timer_at;			/* sim time, -1 = off */
	int role;
	uint32_t follows;
	int starts;
	int fenced_starts;		/* starts that waited out epoch proofs */
	int frozen;			/* SIGSTOP: reads, sends, times nothing */
	int abandoned;			/* dropped the role writing nothing */
	int stops;
};

static struct ev logv[LOGMAX];
static size_t nlog;
static struct simnode nodes[NMAX + 1];
static long now;
static uint64_t disk_epoch;
static int violations, epoch_back, overflow, unfenced_starts;
static unsigned rnd_state;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static int sim_send(void *ctx, const void *msg, size_t len)
{
	struct simnode *s = ctx;

	if (s->nq == QMAX) {
		overflow = 1;
		return -EAGAIN;
	}
	s->q[s->nq].msg = malloc(len);
	memcpy(s->q[s->nq].msg, msg, len);
	s->q[s->nq].len = len;
	s->nq++;
	return 0;
}

static int sim_start(void *ctx, uint64_t *epoch)
{
	struct simnode *s = ctx;
	int i;

	/* A frozen member may still hold the role: only a start that
	 * waits out its epoch proofs may happen then (e.start_fence). */
	for (i = 1; i <= NMAX; i++)
		if (&nodes[i] != s && nodes[i].alive && nodes[i].role) {
			if (!nodes[i].frozen)
				violations++;
			else if (!s->e.start_fence)
				unfenced_starts++;
		}
	s->role = 1;
	s->starts++;
	if (s->e.start_fence)
		s->fenced_starts++;
	*epoch = ++disk_epoch;
	return 0;
}

static void sim_stop(void *ctx, const char *why)
{
	struct simnode *s = ctx;

	(void)why;
	s->role = 0;
	s->stops++;
}

static void sim_abandon(void *ctx, const char *why)
{
	struct simnode *s = ctx;

	(void)why;
	s->role = 0;
	s->abandoned++;
}

static void sim_follow(void *ctx, uint32_t node, uint16_t port,
		       uint64_t epoch)
{
	struct simnode *s = ctx;

	(void)port;
	s->follows = node;
	if (node && epoch < s->e.epoch)
		epoch_back++;
}

static void sim_timer(void *ctx, int ms)
{
	struct simnode *s = ctx;

	s->timer_at = ms < 0 ? -1 : now + 1 + ms / 100;
}

static const struct elect_ops ops = {
	sim_send, sim_start, sim_stop, sim_follow, sim_timer, sim_abandon
};

static void reset(unsigned seed)
{
	size_t i;

	for (i = 0; i < nlog; i++)
		free(logv[i].msg);
	for (i = 0; i <= NMAX; i++) {
		size_t k;

		for (k = 0; k < nodes[i].nq; k++)
			free(nodes[i].q[k].msg);
	}
	memset(logv, 0, sizeof(logv));
	memset(nodes, 0, sizeof(nodes));
	nlog = 0;
	now = 0;
	disk_epoch = 100;
	violations = epoch_back = overflow = unfenced_starts = 0;
	rnd_state = seed * 2654435761u + 1;
}

static struct ev *append(void)
{
	CU_ASSERT_FATAL(nlog < LOGMAX);
	return &logv[nlog++];
}

/* The members after a change: every joined live node, sorted by id. */
static size_t members(struct memb_member *mem)
{
	size_t n = 0;
	int i;

	for (i = 1; i <= NMAX; i++)
		if (nodes[i].joined && nodes[i].alive) {
			mem[n].node = nodes[i].node;
			mem[n].pid = nodes[i].pid;
			mem[n].reason = 0;
			n++;
		}
	return n;
}

static void join(int i, int quorate_late)
{
	struct simnode *s = &nodes[i];
	struct elect_opts o = { 0 };
	struct ev *ev;

	s->node = (uint32_t)i;
	s->pid = 1000u * (uint32_t)i + (uint32_t)s->starts + 1;
	s->joined = s->alive = 1;
	s->timer_at = -1;
	s->quorate_late = quorate_late;
	o.node = s->node;
	o.pid = s->pid;
	o.port = 7420;
	o.disk_epoch = disk_epoch;
	o.grace_ms = 300;
	elect_init(&s->e, &o, &ops, s);
	/* Corosync was quorate before the mount: the callback comes first. */
	if (!quorate_late)
		elect_quorum(&s->e, 1);
	ev = append();
	ev->type = EV_CONF;
	ev->n = members(ev->mem);
	s->pos = nlog - 1;
}

static void kill_node(int i)
{
	struct simnode *s = &nodes[i];
	struct ev *ev;
	size_t k;

	s->alive = 0;
	s->role = 0;	/* a process that ended writes nothing */
	for (k = 0; k < s->nq; k++)
		free(s->q[k].msg);
	s->nq = 0;
	ev = append();
	ev->type = EV_CONF;
	ev->n = members(ev->mem);
	ev->left[0].node = s->node;
	ev->left[0].pid = s->pid;
	ev->left[0].reason = MEMB_LEFT_PROC;
	ev->nleft = 1;
}

/* One queued message of node i gets its place in the total order. */
static void order_one(int i)
{
	struct simnode *s = &nodes[i];
	struct ev *ev;

	if (!s->nq || s->frozen)
		return;
	ev = append();
	ev->type = EV_MSG;
	ev->node = s->node;
	ev->pid = s->pid;
	ev->msg = s->q[0].msg;
	ev->len = s->q[0].len;
	memmove(&s->q[0], &s->q[1], (s->nq - 1) * sizeof(s->q[0]));
	s->nq--;
}

/* Node i reads the next log entry. */
static int step_node(int i)
{
	struct simnode *s = &nodes[i];
	struct ev *ev;
	size_t k;

	if (!s->alive || s->frozen || s->pos >= nlog)
		return 0;
	ev = &logv[s->pos++];
	if (ev->type == EV_MSG) {
		elect_deliver(&s->e, ev->node, ev->pid, ev->msg, ev->len);
		return 1;
	}
	for (k = 0; k < ev->n; k++)
		if (ev->mem[k].node == s->node && ev->mem[k].pid == s->pid)
			break;
	if (k < ev->n)
		elect_confchg(&s->e, ev->mem, ev->n, ev->left, ev->nleft);
	return 1;
}

static int fire_timers(void)
{
	int i, any = 0;

	for (i = 1; i <= NMAX; i++)
		if (nodes[i].alive && !nodes[i].frozen &&
		    nodes[i].timer_at >= 0 &&
		    nodes[i].timer_at <= now) {
			nodes[i].timer_at = -1;
			elect_timer(&nodes[i].e);
			any = 1;
		}
	return any;
}

/*
 * Node i's heartbeat watch (fs/cluster.c): a member it waits for that is
 * frozen has a heartbeat that stands still, so it is deposed.
 */
static int watch(int i)
{
	uint32_t w[NMAX];
	int n, k, sent = 0;

	n = elect_waiting_for(&nodes[i].e, w, NMAX);
	for (k = 0; k < n; k++) {
		CU_ASSERT(w[k] != nodes[i].node);
		if (w[k] <= NMAX && nodes[w[k]].frozen &&
		    !elect_depose(&nodes[i].e, w[k]))
			sent = 1;
	}
	return sent;
}

static void drain(void)
{
	int i, busy = 1, rounds = 0;

	while (busy && rounds++ < 100000) {
		busy = 0;
		for (i = 1; i <= NMAX; i++) {
			if (!nodes[i].alive || nodes[i].frozen)
				continue;
			if (watch(i))
				busy = 1;
			if (nodes[i].nq) {
				order_one(i);
				busy = 1;
			}
			while (step_node(i))
				busy = 1;
			if (nodes[i].timer_at >= 0)
				busy = 1;
		}
		now++;
		fire_timers();
	}
}

/* Random interleaving: at most one action per call. */
static void random_step(void)
{
	int i = 1 + (int)rnd(NMAX);

	switch (rnd(5)) {
	case 4:
		if (nodes[i].alive && !nodes[i].frozen)
			watch(i);
		break;
	case 0:
		order_one(i);
		break;
	case 1:
	case 2:
		step_node(i);
		break;
	case 3:
		now++;
		fire_timers();
		break;
	}
}

/* After the drain: one coordinator, the expected one, followed by all. */
static void check_agreement(uint32_t want)
{
	int i, serving = 0;

	for (i = 1; i <= NMAX; i++) {
		if (!nodes[i].alive || !nodes[i].joined || nodes[i].frozen)
			continue;
		if (nodes[i].role)
			serving++;
		CU_ASSERT_EQUAL(nodes[i].follows, want);
		CU_ASSERT_EQUAL(nodes[i].e.coord.node, want);
		CU_ASSERT(nodes[i].e.state == ELECT_SERVING ||
			  nodes[i].e.state == ELECT_FOLLOWING);
	}
	CU_ASSERT_EQUAL(serving, 1);
	CU_ASSERT(nodes[want].role);
	CU_ASSERT_EQUAL(violations, 0);
	CU_ASSERT_EQUAL(unfenced_starts, 0);
	CU_ASSERT_EQUAL(epoch_back, 0);
	CU_ASSERT_EQUAL(overflow, 0);
}

static uint32_t lowest_alive(void)
{
	int i;

	for (i = 1; i <= NMAX; i++)
		if (nodes[i].alive && nodes[i].joined)
			return (uint32_t)i;
	return 0;
}

/* n nodes join at the same instant, in a random order, read at random
 * speeds: 2000 seeds each for 3 and for 8 nodes. */
static void concurrent_joins(int n)
{
	unsigned seed;

	for (seed = 0; seed < 2000; seed++) {
		int order[NMAX], i, j, t;

		reset(seed);
		for (i = 0; i < n; i++)
			order[i] = i + 1;
		for (i = n - 1; i > 0; i--) {
			j = (int)rnd((unsigned)i + 1);
			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (i = 0; i < n; i++) {
			join(order[i], 0);
			for (j = (int)rnd(30); j > 0; j--)
				random_step();
		}
		for (i = 0; i < 200; i++)
			random_step();
		drain();
		check_agreement(1);
		if (CU_get_number_of_failures())
			break;
	}
}

static void test_three_nodes_join_at_once_agree(void)
{
	concurrent_joins(3);
}

static void test_eight_nodes_join_at_once_agree(void)
{
	concurrent_joins(8);
}

/* Joins, then the coordinator and others die in random moments (their
 * daemons end: no grace), while more nodes join. */
static void test_kills_during_rounds_never_two_coordinators(void)
{
	unsigned seed;

	for (seed = 0; seed < 2000; seed++) {
		int i, k;

		reset(seed);
		for (i = 1; i <= 5; i++)
			join(i, 0);
		for (k = 0; k < 3; k++) {
			for (i = (int)rnd(60); i > 0; i--)
				random_step();
			i = 1 + (int)rnd(5);
			if (nodes[i].alive && lowest_alive() != 0)
				kill_node(i);
		}
		for (i = 6; i <= NMAX; i++) {
			join(i, 0);
			for (k = (int)rnd(20); k > 0; k--)
				random_step();
		}
		drain();
		check_agreement(lowest_alive());
		if (CU_get_number_of_failures())
			break;
	}
}

/* Quorum arrives after the first configuration: RESTART rounds. */
static void test_late_quorum_restarts_the_round(void)
{
	unsigned seed;

	for (seed = 0; seed < 500; seed++) {
		int i;

		reset(seed);
		for (i = 1; i <= 4; i++)
			join(i, 1);
		for (i = 0; i < 100; i++)
			random_step();
		for (i = 1; i <= 4; i++)
			elect_quorum(&nodes[i].e, 1);
		for (i = 0; i < 100; i++)
			random_step();
		drain();
		check_agreement(1);
		if (CU_get_number_of_failures())
			break;
	}
}

/* csvfsctl coordinator move while nodes join: the role moves once, to
 * the node named, and falls back to the lowest when that node dies. */
static void test_move_then_fallback(void)
{
	unsigned seed;

	for (seed = 0; seed < 500; seed++) {
		int i;

		reset(seed);
		for (i = 1; i <= 4; i++)
			join(i, 0);
		drain();
		check_agreement(1);
		CU_ASSERT_EQUAL(elect_move(&nodes[2].e, 3), 0);
		CU_ASSERT_EQUAL(elect_move(&nodes[2].e, 7), -EHOSTUNREACH);
		join(5, 0);
		for (i = 0; i < 100; i++)
			random_step();
		drain();
		check_agreement(3);
		CU_ASSERT_EQUAL(nodes[5].e.preferred, 3);
		kill_node(3);
		drain();
		check_agreement(1);
		if (CU_get_number_of_failures())
			break;
	}
}

/*
 * An ANNOUNCE tagged with another round or view is not followed, even
 * from the elected node (by the time a round is decided every member's
 * older messages have been delivered, since its STATE comes after them;
 * the tag is the second line of defence): here one injected by hand.
 */
static void test_announce_of_another_round_is_ignored(void)
{
	struct msg_elect m;
	struct msg_wr w;
	int bump;

	for (bump = 0; bump < 2; bump++) {
		reset(1);
		join(2, 0);
		join(3, 0);
		drain();
		join(1, 0);
		drain();
		check_agreement(1);
		memset(&m, 0, sizeof(m));
		m.type = CSVFS_MSG_ELECT_ANNOUNCE;
		m.from = 1;
		m.epoch = disk_epoch + 1;
		m.round = nodes[3].e.round + (uint32_t)bump;
		/* bump 0: the round of node 1's lone view before 2, 3 saw it */
		m.n = bump ? 3 : 1;
		m.m[0].node = 1;
		m.m[0].pid = nodes[1].pid;
		m.m[1].node = 2;
		m.m[1].pid = nodes[2].pid;
		m.m[2].node = 3;
		m.m[2].pid = nodes[3].pid;
		m.port = 9999;
		msg_wr_init(&w);
		CU_ASSERT_EQUAL_FATAL(msg_elect_encode(&m, &w), 0);
		elect_deliver(&nodes[3].e, 1, nodes[1].pid, w.p, w.len);
		msg_wr_free(&w);
		CU_ASSERT_EQUAL(nodes[3].e.coord_port, 7420);
		CU_ASSERT(nodes[3].e.epoch < disk_epoch + 1);
	}
}

/*
 * SIGSTOP of a member at a random moment (the coordinator or another),
 * with more joins and a kill meanwhile: the others depose it, decide
 * without its STATE and one of them serves (after the fence wait when
 * the frozen one held the role). Woken, the frozen member drops the role
 * writing nothing (abandon, never a stop with its final commit) and
 * follows the new coordinator; everyone agrees.
 */
static void frozen_member(int coordinator)
{
	unsigned seed;

	for (seed = 0; seed < 1000; seed++) {
		int i, f, want;

		reset(seed);
		for (i = 1; i <= 4; i++)
			join(i, 0);
		drain();
		check_agreement(1);
		f = coordinator ? 1 : 2 + (int)rnd(3);
		for (i = (int)rnd(20); i > 0; i--)
			random_step();
		nodes[f].frozen = 1;
		if (rnd(2))
			join(5, 0);
		for (i = (int)rnd(80); i > 0; i--)
			random_step();
		if (!coordinator && rnd(2) && f != 4)
			kill_node(4);
		drain();
		want = coordinator ? 2 : 1;
		check_agreement((uint32_t)want);
		if (coordinator)
			CU_ASSERT(nodes[want].e.deposes >= 1);
		nodes[f].frozen = 0;
		drain();
		CU_ASSERT_EQUAL(nodes[f].role, 0);
		CU_ASSERT_EQUAL(nodes[f].stops, 0);
		if (coordinator)
			CU_ASSERT_EQUAL(nodes[f].abandoned, 1);
		check_agreement((uint32_t)want);
		CU_ASSERT_EQUAL(nodes[f].follows, (uint32_t)want);
		if (CU_get_number_of_failures()) {
			printf("seed %u frozen %d\n", seed, f);
			break;
		}
	}
}

static void test_frozen_coordinator_is_deposed_and_writes_nothing(void)
{
	frozen_member(1);
}

static void test_frozen_member_does_not_stall_rounds(void)
{
	frozen_member(0);
}

static void test_depose_needs_a_member_waited_for(void)
{
	int i;

	reset(7);
	for (i = 1; i <= 3; i++)
		join(i, 0);
	drain();
	check_agreement(1);
	/* Node 2 waits for the coordinator only, never for node 3. */
	CU_ASSERT_EQUAL(elect_depose(&nodes[2].e, 3), -ENOENT);
	CU_ASSERT_EQUAL(elect_depose(&nodes[2].e, 2), -ENOENT);
	CU_ASSERT_EQUAL(elect_depose(&nodes[2].e, 1), 0);
	CU_ASSERT_EQUAL(elect_depose(&nodes[2].e, 1), -EALREADY);
	CU_ASSERT_EQUAL(elect_depose(&nodes[1].e, 1), -ENOENT);
	/* A live coordinator that gets deposed (one late stamp too many)
	 * drops the role; another starts; no two serve. */
	drain();
	check_agreement(2);
	CU_ASSERT_EQUAL(nodes[1].abandoned, 1);
	CU_ASSERT_EQUAL(nodes[1].follows, 2);
}

/* Node 1, the coordinator of 3, is lost with its node (NODEDOWN). */
static void lose_coordinator_node(void)
{
	int i;

	reset(3);
	for (i = 1; i <= 3; i++)
		join(i, 0);
	drain();
	check_agreement(1);
	kill_node(1);
	logv[nlog - 1].left[0].reason = MEMB_LEFT_NODE;
}

static void run_round(void)
{
	int i;

	for (i = 0; i < 50; i++) {
		order_one(2);
		order_one(3);
		step_node(2);
		step_node(3);
	}
}

/*
 * The coordinator's node is lost (NODEDOWN): the target waits the grace,
 * watching that node's heartbeat; once it has stood still
 * (elect_fenced) the target starts at once, before the timer.
 */
static void test_grace_ends_when_the_lost_node_stopped_stamping(void)
{
	uint32_t w[NMAX];
	int n;

	lose_coordinator_node();
	run_round();
	CU_ASSERT_EQUAL_FATAL(nodes[2].e.state, ELECT_GRACE);
	n = elect_waiting_for(&nodes[2].e, w, NMAX);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(w[0], 1);
	elect_fenced(&nodes[2].e, 3);		/* not the lost node */
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_GRACE);
	elect_fenced(&nodes[2].e, 1);
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_SERVING);
	CU_ASSERT_EQUAL(nodes[2].timer_at, -1);
	/* A stood-still heartbeat proves no write ended: fenced all the
	 * same. */
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 1);
	drain();
	check_agreement(2);
}

/*
 * The same loss, but the lost node's heartbeat never stands still in the
 * grace (its Corosync has not told it yet that it lost quorum, so it
 * still serves): the grace runs out, and the start must wait out the
 * lost coordinator's epoch proofs (start_fence) before replay.
 */
static void test_grace_timeout_fences_by_epoch(void)
{
	lose_coordinator_node();
	run_round();
	CU_ASSERT_EQUAL_FATAL(nodes[2].e.state, ELECT_GRACE);
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 0);
	now = nodes[2].timer_at;
	CU_ASSERT_TRUE(fire_timers());
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_SERVING);
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 1);
	drain();
	check_agreement(2);
}

/*
 * The grace is the time a node cut off alone needs to learn that it lost
 * quorum. Once Corosync delivered the ring that lost the node and its
 * quorum (memb_cb.ring), the quorum is final: the grace ends at once, the
 * start fenced by epoch all the same.
 */
static void test_grace_ends_when_the_ring_is_quorate(void)
{
	lose_coordinator_node();
	run_round();
	CU_ASSERT_EQUAL_FATAL(nodes[2].e.state, ELECT_GRACE);
	elect_ring(&nodes[2].e, 0, 1);		/* not this ring's yet */
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_GRACE);
	elect_ring(&nodes[2].e, 1, 1);
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_SERVING);
	CU_ASSERT_EQUAL(nodes[2].timer_at, -1);
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 1);
	drain();
	check_agreement(2);
}

/* The ring's quorum known before the round is decided: no grace at all. */
static void test_known_ring_quorum_skips_the_grace(void)
{
	lose_coordinator_node();
	elect_ring(&nodes[2].e, 1, 1);
	elect_ring(&nodes[3].e, 1, 1);
	run_round();
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_SERVING);
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 1);
	drain();
	check_agreement(2);
}

/*
 * The node in the grace turns out to be the one cut off: its ring says
 * no quorum. It never starts (no epoch bump that would fence the real
 * coordinator), not even when its timer runs out.
 */
static void test_ring_without_quorum_never_starts(void)
{
	lose_coordinator_node();
	run_round();
	CU_ASSERT_EQUAL_FATAL(nodes[2].e.state, ELECT_GRACE);
	elect_quorum(&nodes[2].e, 0);
	elect_ring(&nodes[2].e, 1, 0);
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_NO_QUORUM);
	now += 10000;
	fire_timers();
	CU_ASSERT_EQUAL(nodes[2].e.state, ELECT_NO_QUORUM);
	CU_ASSERT_EQUAL(nodes[2].fenced_starts, 0);
	CU_ASSERT_FALSE(nodes[2].e.serving);
}

static void test_codec_round_trip_and_rejects(void)
{
	struct msg_elect m, d;
	struct msg_wr w;
	uint8_t *bad;

	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_STATE;
	m.from = 3;
	m.epoch = 77;
	m.round = 2;
	m.n = 2;
	m.m[0].node = 1;
	m.m[0].pid = 10;
	m.m[1].node = 3;
	m.m[1].pid = 5;
	m.flags = CSVFS_ELECTF_SERVING | CSVFS_ELECTF_QUORATE;
	m.preferred = 3;
	msg_wr_init(&w);
	CU_ASSERT_EQUAL_FATAL(msg_elect_encode(&m, &w), 0);
	CU_ASSERT_EQUAL(w.len, CSVFS_MSG_HDR_SIZE + 8 + 16 + 8);
	CU_ASSERT_EQUAL(msg_elect_decode(w.p, w.len, &d), 0);
	CU_ASSERT_EQUAL(d.type, m.type);
	CU_ASSERT_EQUAL(d.from, 3);
	CU_ASSERT_EQUAL(d.epoch, 77);
	CU_ASSERT_EQUAL(d.round, 2);
	CU_ASSERT_EQUAL(d.n, 2);
	CU_ASSERT_EQUAL(d.m[1].pid, 5);
	CU_ASSERT_EQUAL(d.flags, m.flags);
	CU_ASSERT_EQUAL(d.preferred, 3);
	/* Truncated, trailing byte, unsorted view, not an election type. */
	CU_ASSERT_EQUAL(msg_elect_decode(w.p, w.len - 1, &d), -EPROTO);
	bad = malloc(w.len + 1);
	memcpy(bad, w.p, w.len);
	bad[w.len] = 0;
	CU_ASSERT_EQUAL(msg_elect_decode(bad, w.len + 1, &d), -EPROTO);
	memcpy(bad, w.p, w.len);
	bad[CSVFS_MSG_HDR_SIZE + 8] = 9;	/* member 0 node 9 > 3 */
	CU_ASSERT_EQUAL(msg_elect_decode(bad, w.len, &d), -EPROTO);
	memcpy(bad, w.p, w.len);
	bad[6] = CSVFS_MSG_LOOKUP;
	CU_ASSERT_EQUAL(msg_elect_decode(bad, w.len, &d), -EPROTO);
	free(bad);
	msg_wr_free(&w);
	m.n = 0;
	msg_wr_init(&w);
	CU_ASSERT_EQUAL(msg_elect_encode(&m, &w), -EINVAL);
	msg_wr_free(&w);
	CU_ASSERT_STRING_EQUAL(msg_type_name(CSVFS_MSG_ELECT_ANNOUNCE),
			       "elect_announce");
	/* DEPOSE: the VIEW and the member named. */
	memset(&m, 0, sizeof(m));
	m.type = CSVFS_MSG_ELECT_DEPOSE;
	m.from = 2;
	m.round = 4;
	m.n = 1;
	m.m[0].node = 1;
	m.m[0].pid = 10;
	m.node = 1;
	m.pid = 10;
	msg_wr_init(&w);
	CU_ASSERT_EQUAL_FATAL(msg_elect_encode(&m, &w), 0);
	CU_ASSERT_EQUAL(w.len, CSVFS_MSG_HDR_SIZE + 8 + 8 + 8);
	CU_ASSERT_EQUAL(msg_elect_decode(w.p, w.len, &d), 0);
	CU_ASSERT_EQUAL(d.type, CSVFS_MSG_ELECT_DEPOSE);
	CU_ASSERT_EQUAL(d.round, 4);
	CU_ASSERT_EQUAL(d.node, 1);
	CU_ASSERT_EQUAL(d.pid, 10);
	CU_ASSERT_EQUAL(msg_elect_decode(w.p, w.len - 4, &d), -EPROTO);
	msg_wr_free(&w);
	CU_ASSERT_STRING_EQUAL(msg_type_name(CSVFS_MSG_ELECT_DEPOSE),
			       "elect_depose");
}

int main(void)
{
	CU_pSuite s;
	int fails;

	log_open("elect_test", 0, 0);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("elect", NULL, NULL);
	CU_add_test(s, "codec round trip and rejects",
		    test_codec_round_trip_and_rejects);
	CU_add_test(s, "announce of another round is ignored",
		    test_announce_of_another_round_is_ignored);
	CU_add_test(s, "three nodes join at once agree",
		    test_three_nodes_join_at_once_agree);
	CU_add_test(s, "eight nodes join at once agree",
		    test_eight_nodes_join_at_once_agree);
	CU_add_test(s, "kills during rounds never two coordinators",
		    test_kills_during_rounds_never_two_coordinators);
	CU_add_test(s, "late quorum restarts the round",
		    test_late_quorum_restarts_the_round);
	CU_add_test(s, "move then fallback", test_move_then_fallback);
	CU_add_test(s, "frozen coordinator is deposed and writes nothing",
		    test_frozen_coordinator_is_deposed_and_writes_nothing);
	CU_add_test(s, "frozen member does not stall rounds",
		    test_frozen_member_does_not_stall_rounds);
	CU_add_test(s, "depose needs a member waited for",
		    test_depose_needs_a_member_waited_for);
	CU_add_test(s, "grace ends when the lost node stopped stamping",
		    test_grace_ends_when_the_lost_node_stopped_stamping);
	CU_add_test(s, "grace timeout fences the lost node by epoch",
		    test_grace_timeout_fences_by_epoch);
	CU_add_test(s, "grace ends when the ring is quorate",
		    test_grace_ends_when_the_ring_is_quorate);
	CU_add_test(s, "a known ring quorum skips the grace",
		    test_known_ring_quorum_skips_the_grace);
	CU_add_test(s, "a ring without quorum never starts",
		    test_ring_without_quorum_never_starts);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	reset(0);
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

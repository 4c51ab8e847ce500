/*
 * memb: Corosync CPG + quorum, driven by one poll loop in a thread.
 *
 * Membership is the CPG group's member list (the daemons that have the
 * volume mounted, by node id and pid). Quorum is the cluster's votequorum
 * state. Both arrive as callbacks from the poll loop, with the group's
 * messages and one timer: everything the election (fs/elect.c) acts on
 * runs on that one thread, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "csvfs/log.h"
#include "net/memb.h"

#define MAX_MEMBERS	CPG_MEMBERS_MAX
#define TRY_AGAIN_MS	10
#define TRY_AGAIN_MAX	500	/* 5 s */

struct memb {
	cpg_handle_t cpg;
	quorum_handle_t q;
	struct cpg_name name;
	struct memb_cb cb;
	void *ctx;
	uint32_t local;
	uint32_t pid;
	int64_t timer_at;		/* CLOCK_MONOTONIC ms, 0 = disarmed */
	/* Ring tracking (memb_cb.ring); the dispatch thread only. */
	int ring_wait;			/* a node left; its ring not seen yet */
	uint64_t ring_seq;		/* last totem membership's ring */
	uint64_t quorum_seq;		/* ring of the last quorum notice */
	int quorate;
	int ring_told;			/* -1 never, else current last told */
	int stop_pipe[2];
	pthread_t thread;
	int running;
};

static int cs_errno(cs_error_t e)
{
	switch (e) {
	case CS_OK: return 0;
	case CS_ERR_TRY_AGAIN: return -EAGAIN;
	case CS_ERR_LIBRARY: return -ENOTCONN;
	case CS_ERR_NO_MEMORY: return -ENOMEM;
	case CS_ERR_ACCESS: return -EACCES;
	case CS_ERR_EXIST: return -EEXIST;
	case CS_ERR_NOT_EXIST: return -ENOENT;
	case CS_ERR_TIMEOUT: return -ETIMEDOUT;
	default: return -EIO;
	}
}

static int cmp_member(const void *a, const void *b)
{
	const struct memb_member *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group,
		       uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	struct memb *m = NULL;

	(void)group;
	if (cpg_context_get(h, (void **)&m) != CS_OK || !m)
		return;
	if (m->cb.message)
		m->cb.message(m->ctx, nodeid, pid, msg, len);
}

static uint32_t left_reason(uint32_t r)
{
	switch (r) {
	case CPG_REASON_LEAVE: return MEMB_LEFT_CLEAN;
	case CPG_REASON_PROCDOWN: return MEMB_LEFT_PROC;
	default: return MEMB_LEFT_NODE;
	}
}

/* Tells cb.ring when whether the known quorum is the ring's changed. */
static void ring_note(struct memb *m)
{
	int current = !m->ring_wait && m->quorum_seq >= m->ring_seq;

	if (current == m->ring_told)
		return;
	m->ring_told = current;
	if (current)
		log_info("corosync ring %llu: %squorate", (unsigned long long)
			 m->ring_seq, m->quorate ? "" : "not ");
	if (m->cb.ring)
		m->cb.ring(m->ctx, current, m->quorate);
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring,
		     uint32_t n, const uint32_t *nodes)
{
	struct memb *m = NULL;

	(void)n;
	(void)nodes;
	if (cpg_context_get(h, (void **)&m) != CS_OK || !m)
		return;
	m->ring_seq = ring.seq;
	m->ring_wait = 0;
	ring_note(m);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t nmembers,
		       const struct cpg_address *left, size_t nleft,
		       const struct cpg_address *joined, size_t njoined)
{
	static struct memb_member mem[MAX_MEMBERS], gone[MAX_MEMBERS];
	struct memb *m = NULL;
	size_t i, n = 0, ng = 0;

	(void)group;
	(void)joined;
	(void)njoined;
	if (cpg_context_get(h, (void **)&m) != CS_OK || !m)
		return;
	/* Only the dispatch thread gets here: static buffers are fine. */
	for (i = 0; i < nmembers && n < MAX_MEMBERS; i++, n++) {
		mem[n].node = members[i].nodeid;
		mem[n].pid = members[i].pid;
		mem[n].reason = 0;
	}
	for (i = 0; i < nleft && ng < MAX_MEMBERS; i++, ng++) {
		gone[ng].node = left[i].nodeid;
		gone[ng].pid = left[i].pid;
		gone[ng].reason = left_reason(left[i].reason);
	}
	qsort(mem, n, sizeof(mem[0]), cmp_member);
	/* Corosync delivers this ring's totem membership after its group
	 * changes: until then the quorum we know may be the old ring's. */
	for (i = 0; i < ng; i++)
		if (gone[i].reason == MEMB_LEFT_NODE)
			m->ring_wait = 1;
	ring_note(m);
	if (m->cb.confchg)
		m->cb.confchg(m->ctx, mem, n, gone, ng);
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, uint64_t seq,
		      uint32_t n, uint32_t *view)
{
	struct memb *m = NULL;

	(void)n;
	(void)view;
	if (quorum_context_get(h, (const void **)&m) != CS_OK || !m)
		return;
	m->quorate = !!quorate;
	if (seq > m->quorum_seq)
		m->quorum_seq = seq;
	if (m->cb.quorum)
		m->cb.quorum(m->ctx, !!quorate);
	ring_note(m);
}

void memb_timer(struct memb *m, int ms)
{
	/* now_ms() is far above 0 (boot time), so 0 can mean disarmed. */
	__atomic_store_n(&m->timer_at, ms < 0 ? 0 : now_ms() + ms + 1,
			 __ATOMIC_RELAXED);
}

static void *loop(void *arg)
{
	struct memb *m = arg;
	struct pollfd p[3];
	int cfd = -1, qfd = -1;

	cpg_fd_get(m->cpg, &cfd);
	quorum_fd_get(m->q, &qfd);
	for (;;) {
		int64_t wait = -1;
		int rc;
		int64_t at = __atomic_load_n(&m->timer_at, __ATOMIC_RELAXED);

		if (at) {
			wait = at - now_ms();
			if (wait <= 0) {
				__atomic_store_n(&m->timer_at, 0,
						 __ATOMIC_RELAXED);
				if (m->cb.timer)
					m->cb.timer(m->ctx);
				continue;
			}
		}
		p[0].fd = cfd;
		p[1].fd = qfd;
		p[2].fd = m->stop_pipe[0];
		p[0].events = p[1].events = p[2].events = POLLIN;
		rc = poll(p, 3, wait > INT32_MAX ? INT32_MAX : (int)wait);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (rc == 0)
			continue;
		if (p[2].revents)
			break;
		if (p[0].revents & (POLLHUP | POLLERR) ||
		    p[1].revents & (POLLHUP | POLLERR)) {
			log_err("lost the connection to corosync");
			if (m->cb.quorum)
				m->cb.quorum(m->ctx, 0);
			if (m->cb.confchg)
				m->cb.confchg(m->ctx, NULL, 0, NULL, 0);
			break;
		}
		if (p[0].revents & POLLIN)
			cpg_dispatch(m->cpg, CS_DISPATCH_ALL);
		if (p[1].revents & POLLIN)
			quorum_dispatch(m->q, CS_DISPATCH_ALL);
	}
	return NULL;
}

int memb_start(const char *group, const struct memb_cb *cb, void *ctx,
	       struct memb **out)
{
	cpg_model_v1_data_t model;
	quorum_callbacks_t qcb;
	uint32_t qtype = 0;
	struct memb *m;
	unsigned tries = 0;
	cs_error_t e;
	int rc;

	if (strlen(group) >= sizeof(m->name.value))
		return -ENAMETOOLONG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cb = *cb;
	m->ctx = ctx;
	m->stop_pipe[0] = m->stop_pipe[1] = -1;
	m->ring_told = -1;
	strcpy(m->name.value, group);
	m->name.length = (uint32_t)strlen(group);
	memset(&model, 0, sizeof(model));
	model.model = CPG_MODEL_V1;
	model.cpg_deliver_fn = on_deliver;
	model.cpg_confchg_fn = on_confchg;
	model.cpg_totem_confchg_fn = on_totem;
	model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
	e = cpg_model_initialize(&m->cpg, CPG_MODEL_V1,
				 (cpg_model_data_t *)&model, m);
	if (e != CS_OK) {
		free(m);
		return cs_errno(e) == -EIO ? -ENOTCONN : cs_errno(e);
	}
	memset(&qcb, 0, sizeof(qcb));
	qcb.quorum_notify_fn = on_quorum;
	e = quorum_initialize(&m->q, &qcb, &qtype);
	if (e != CS_OK) {
		rc = cs_errno(e);
		goto fail_cpg;
	}
	quorum_context_set(m->q, m);
	e = quorum_trackstart(m->q, CS_TRACK_CHANGES | CS_TRACK_CURRENT);
	if (e != CS_OK) {
		rc = cs_errno(e);
		goto fail_q;
	}
	cpg_local_get(m->cpg, &m->local);
	m->pid = (uint32_t)getpid();
	do {
		e = cpg_join(m->cpg, &m->name);
		if (e == CS_ERR_TRY_AGAIN) {
			if (tries % 100 == 0)
				log_info("cpg_join: corosync busy, "
					 "retrying");
			usleep(TRY_AGAIN_MS * 1000);
		}
	} while (e == CS_ERR_TRY_AGAIN && ++tries < TRY_AGAIN_MAX);
	if (e != CS_OK) {
		rc = cs_errno(e);
		goto fail_q;
	}
	if (pipe2(m->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail_leave;
	}
	/* Callbacks may run before we return: publish m first. */
	*out = m;
	rc = -pthread_create(&m->thread, NULL, loop, m);
	if (rc) {
		*out = NULL;
		goto fail_leave;
	}
	m->running = 1;
	return 0;
fail_leave:
	cpg_leave(m->cpg, &m->name);
fail_q:
	quorum_finalize(m->q);
fail_cpg:
	cpg_finalize(m->cpg);
	if (m->stop_pipe[0] >= 0) {
		close(m->stop_pipe[0]);
		close(m->stop_pipe[1]);
	}
	free(m);
	return rc;
}

void memb_stop(struct memb *m)
{
	if (!m)
		return;
	if (m->running) {
		ssize_t n = write(m->stop_pipe[1], "x", 1);

		(void)n;
		pthread_join(m->thread, NULL);
	}
	cpg_leave(m->cpg, &m->name);
	quorum_trackstop(m->q);
	quorum_finalize(m->q);
	cpg_finalize(m->cpg);
	close(m->stop_pipe[0]);
	close(m->stop_pipe[1]);
	free(m);
}

uint32_t memb_local_node(const struct memb *m)
{
	return m->local;
}

uint32_t memb_local_pid(const struct memb *m)
{
	return m->pid;
}

int memb_send(struct memb *m, const void *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	unsigned tries = 0;
	cs_error_t e;

	do {
		e = cpg_mcast_joined(m->cpg, CPG_TYPE_AGREED, &iov, 1);
		if (e == CS_ERR_TRY_AGAIN) {
			if (tries % 100 == 0)
				log_info("cpg_mcast_joined: corosync "
					 "busy, retrying");
			usleep(TRY_AGAIN_MS * 1000);
		}
	} while (e == CS_ERR_TRY_AGAIN && ++tries < TRY_AGAIN_MAX);
	return cs_errno(e);
}

int memb_node_addr(uint32_t node, char *addr, size_t len)
{
	cmap_handle_t h;
	char key[128], *str = NULL;
	uint32_t id;
	unsigned i;
	int rc = -ENOENT;

	if (cmap_initialize(&h) != CS_OK)
		return -ENOTCONN;
	for (i = 0; i < 1024; i++) {
		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", i);
		if (cmap_get_uint32(h, key, &id) != CS_OK)
			break;
		if (id != node)
			continue;
		snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", i);
		if (cmap_get_string(h, key, &str) != CS_OK)
			break;
		if (strlen(str) >= len) {
			rc = -ENAMETOOLONG;
		} else {
			strcpy(addr, str);
			rc = 0;
		}
		free(str);
		break;
	}
	cmap_finalize(h);
	return rc;
}

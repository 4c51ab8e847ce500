/*
 * rpc: framed messages over TLS, server and client (see rpc.h).
 *
 * Server threads: the acceptor polls the listening socket and a wake pipe;
 * it starts one thread per connection and joins ("reaps") the threads of
 * closed connections. A connection thread runs the handshake (so a slow or
 * hostile peer never holds up the acceptor), then reads frames; it either
 * runs each request itself or queues it for the worker pool. A connection
 * is freed when its thread has ended and no queued request refers to it
 * (refs).
 *
 * Client: callers send their own frames; the reader thread connects,
 * reads replies and hands each to the waiting caller by req_id. Each
 * connection has a generation number and each waiting call remembers the
 * generation it was last sent on: after a reconnect every call whose
 * generation is older sends itself again. So a resend is done by the
 * caller (whose frame it is), never by the reader, which must keep reading
 * replies while requests are being written or both sides could block on
 * full socket buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/log.h"
#include "net/mdc.h"
#include "net/msg.h"
#include "net/rpc.h"
#include "net/tls.h"

#define SRV_MAX_CONNS		64
#define SRV_HANDSHAKE_MS	10000
#define SRV_SEND_MS		10000
#define SRV_CONN_INFLIGHT	64	/* queued requests per connection */

#define CLI_TIMEOUT_MS		30000
#define CLI_CONNECT_MS		5000
#define CLI_SEND_MS		10000
#define CLI_BACKOFF_MIN_MS	20
#define CLI_BACKOFF_MAX_MS	1000
#define CLI_BACKOFF_AUTH_MS	10000
#define HOST_MAX		256

/* ---- shared ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

/* Waits on cv until the monotonic deadline (ms). ETIMEDOUT or 0. */
static int cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *m,
			   int64_t deadline)
{
	struct timespec ts = {
		.tv_sec = deadline / 1000,
		.tv_nsec = (deadline % 1000) * 1000000,
	};

	return pthread_cond_timedwait(cv, m, &ts);
}

/* Header + payload in one buffer, so a frame is one SSL_write. */
static uint8_t *frame_build(const struct csvfs_msg_hdr *h,
			    const void *payload, size_t *len)
{
	uint8_t *f = malloc(CSVFS_MSG_HDR_SIZE + h->length);

	if (!f)
		return NULL;
	msg_hdr_encode(h, f);
	if (h->length)
		memcpy(f + CSVFS_MSG_HDR_SIZE, payload, h->length);
	*len = CSVFS_MSG_HDR_SIZE + h->length;
	return f;
}

/*
 * Reads one frame. The header is checked before the payload is allocated,
 * so a hostile length costs nothing. Returns 0, the read error, or -EPROTO
 * with *why naming the bad field.
 */
static int frame_read(struct tls_conn *conn, struct csvfs_msg_hdr *h,
		      uint8_t **payload, char *why, size_t whylen)
{
	uint8_t raw[CSVFS_MSG_HDR_SIZE];
	int rc;

	*payload = NULL;
	rc = tls_recv_all(conn, raw, sizeof(raw));
	if (rc)
		return rc;
	if (msg_hdr_decode(raw, h)) {
		if (h->magic != CSVFS_MSG_MAGIC)
			snprintf(why, whylen, "bad magic 0x%08x", h->magic);
		else if (h->version != CSVFS_PROTO_VERSION)
			snprintf(why, whylen, "unsupported version %u",
				 h->version);
		else if (h->length > CSVFS_MSG_MAX_PAYLOAD)
			snprintf(why, whylen, "length %u over the limit %u",
				 h->length, CSVFS_MSG_MAX_PAYLOAD);
		else
			snprintf(why, whylen, "bad status %d", h->status);
		return -EPROTO;
	}
	if (!h->length)
		return 0;
	*payload = malloc(h->length);
	if (!*payload)
		return -ENOMEM;
	rc = tls_recv_all(conn, *payload, h->length);
	if (rc) {
		free(*payload);
		*payload = NULL;
		return rc == -ENOTCONN ? -ECONNRESET : rc;
	}
	return 0;
}

/* ---- server ------------------------------------------------------------ */

struct srv_conn {
	struct rpc_server *s;
	struct srv_conn *next;
	pthread_t thread;
	int fd;			/* raw socket, -1 once closed */
	struct tls_conn *tls;	/* after the handshake */
	char peer[64];
	int refs;		/* its thread + queued requests */
	int done;		/* its thread has ended */
	unsigned inflight;	/* requests queued or running in the pool */
	uint32_t node_id;	/* from its latest request, 0 = none yet */
	uint64_t node_stamp;	/* when it last sent node_id */
};

struct srv_job {
	struct srv_job *next;
	struct srv_conn *c;
	struct csvfs_msg_hdr h;
	uint8_t *payload;
};

struct rpc_server {
	rpc_handler_fn handle;
	void *ctx;
	unsigned max_conns, nworkers;
	uint64_t inline_types;
	struct tls_ctx *tls;
	int listen_fd;
	int wake[2];		/* acceptor wake-up pipe */
	uint16_t port;
	pthread_t acceptor;
	pthread_t *workers;

	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cond;	/* job queue, inflight */
	struct srv_conn *conns;
	unsigned nconns;
	int stopping;
	uint64_t stamp;
	struct srv_job *qhead, *qtail;
};

static void srv_wake(struct rpc_server *s)
{
	char b = 0;

	if (write(s->wake[1], &b, 1) < 0) {
		/* Full pipe: the acceptor wakes anyway. */
	}
}

/* Drops a reference; lock held. */
static void conn_unref(struct srv_conn *c)
{
	if (--c->refs == 0)
		srv_wake(c->s);
}

static void srv_reply(struct srv_conn *c, const struct csvfs_msg_hdr *req,
		      const uint8_t *payload)
{
	struct rpc_server *s = c->s;
	struct csvfs_msg_hdr h = *req;
	uint8_t *reply = NULL, *f;
	size_t len = 0, flen;
	int st, rc;

	st = s->handle(s->ctx, req, payload, &reply, &len);
	if (st > 0 || st < -4095) {
		log_err("%s: handler returned status %d for %s; sending EIO",
			c->peer, st, msg_type_name(req->type));
		st = -EIO;
	}
	if (len > CSVFS_MSG_MAX_PAYLOAD || (len && !reply)) {
		log_err("%s: %s reply of %zu bytes is over the limit", c->peer,
			msg_type_name(req->type), len);
		st = -E2BIG;
		len = 0;
	}
	h.flags = CSVFS_MSGF_REPLY;
	h.status = st;
	h.length = (uint32_t)len;
	h.reserved = 0;
	f = frame_build(&h, reply, &flen);
	free(reply);
	if (!f) {
		log_err("%s: no memory for a reply: closing", c->peer);
		tls_shutdown(c->tls);
		return;
	}
	rc = tls_send_all(c->tls, f, flen);
	free(f);
	if (rc) {
		log_warn("%s: sending a reply failed: %s: closing", c->peer,
			 strerror(-rc));
		tls_shutdown(c->tls);
	}
}

static void *srv_worker(void *arg)
{
	struct rpc_server *s = arg;
	struct srv_job *j;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stopping)
			break;
		j = s->qhead;
		s->qhead = j->next;
		if (!s->qhead)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->lock);

		srv_reply(j->c, &j->h, j->payload);
		free(j->payload);

		pthread_mutex_lock(&s->lock);
		j->c->inflight--;
		pthread_cond_broadcast(&s->cond);
		conn_unref(j->c);
		free(j);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Queues a request for the pool, waiting while the connection has too
 * many in flight (so one client cannot fill memory). Takes payload. */
static int srv_enqueue(struct srv_conn *c, const struct csvfs_msg_hdr *h,
		       uint8_t *payload)
{
	struct rpc_server *s = c->s;
	struct srv_job *j = malloc(sizeof(*j));

	if (!j) {
		free(payload);
		return -ENOMEM;
	}
	j->next = NULL;
	j->c = c;
	j->h = *h;
	j->payload = payload;
	pthread_mutex_lock(&s->lock);
	while (c->inflight >= SRV_CONN_INFLIGHT && !s->stopping)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		free(payload);
		free(j);
		return -ESHUTDOWN;
	}
	c->inflight++;
	c->refs++;
	if (s->qtail)
		s->qtail->next = j;
	else
		s->qhead = j;
	s->qtail = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void *srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;
	struct rpc_server *s = c->s;
	struct tls_conn *tls = NULL;
	struct csvfs_msg_hdr h;
	uint8_t *payload;
	char why[96];
	int rc, fd, stopping;

	rc = tls_handshake_fd(s->tls, c->fd, c->peer, SRV_HANDSHAKE_MS, &tls);
	pthread_mutex_lock(&s->lock);
	if (rc) {
		/* Logged by tls; not one request was read. */
		fd = c->fd;
		c->fd = -1;
		pthread_mutex_unlock(&s->lock);
		close(fd);
		goto out;
	}
	tls_set_timeouts(tls, SRV_SEND_MS, -1);
	c->tls = tls;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	if (stopping)
		goto out;
	log_info("connection from %s", c->peer);

	for (;;) {
		rc = frame_read(tls, &h, &payload, why, sizeof(why));
		if (rc == -EPROTO) {
			log_warn("connection from %s: malformed "
				 "message header (%s): closing", c->peer, why);
			break;
		}
		if (rc) {
			pthread_mutex_lock(&s->lock);
			stopping = s->stopping;
			pthread_mutex_unlock(&s->lock);
			if (stopping)
				break;
			if (rc == -ENOTCONN)
				log_info("connection from %s closed", c->peer);
			else
				log_warn("connection from %s: "
					 "receive failed: %s", c->peer,
					 strerror(-rc));
			break;
		}
		if (h.flags & (CSVFS_MSGF_REPLY | CSVFS_MSGF_PUSH)) {
			log_warn("connection from %s: malformed "
				 "request (flags 0x%x): closing", c->peer,
				 h.flags);
			free(payload);
			break;
		}
		if (h.type < 64 && (s->inline_types & (1ull << h.type))) {
			srv_reply(c, &h, payload);
			free(payload);
			continue;
		}
		if (h.node_id) {
			pthread_mutex_lock(&s->lock);
			c->node_id = h.node_id;
			c->node_stamp = ++s->stamp;
			pthread_mutex_unlock(&s->lock);
		}
		if (s->nworkers) {
			if (srv_enqueue(c, &h, payload))
				break;
		} else {
			srv_reply(c, &h, payload);
			free(payload);
		}
	}
	/* Wake senders (pool replies, pushes) still using it. */
	tls_shutdown(tls);
out:
	pthread_mutex_lock(&s->lock);
	c->done = 1;
	conn_unref(c);
	pthread_mutex_unlock(&s->lock);
	srv_wake(s);
	return NULL;
}

/* Unlinks the connections that are finished and unreferenced into *dead;
 * lock held. */
static void srv_collect(struct rpc_server *s, struct srv_conn **dead)
{
	struct srv_conn **pp = &s->conns, *c;

	while ((c = *pp)) {
		if (c->done && c->refs == 0) {
			*pp = c->next;
			s->nconns--;
			c->next = *dead;
			*dead = c;
		} else {
			pp = &c->next;
		}
	}
}

static void srv_free_conns(struct srv_conn *dead)
{
	struct srv_conn *c;

	while ((c = dead)) {
		dead = c->next;
		pthread_join(c->thread, NULL);
		tls_close(c->tls);
		free(c);
	}
}

static void srv_new_conn(struct rpc_server *s, int fd, const char *peer)
{
	struct srv_conn *c;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	if (s->nconns >= s->max_conns) {
		pthread_mutex_unlock(&s->lock);
		log_warn("refused connection from %s: too many "
			 "connections (%u)", peer, s->max_conns);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->refs = 1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	rc = pthread_create(&c->thread, NULL, srv_conn_main, c);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		log_err("refused connection from %s: cannot start a "
			"thread: %s", peer, strerror(rc));
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	pthread_mutex_unlock(&s->lock);
}

static void *srv_acceptor(void *arg)
{
	struct rpc_server *s = arg;
	struct pollfd pfd[2];
	struct srv_conn *dead;
	char peer[64], buf[64];
	int fd, rc;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			log_err("rpc server: poll: %s", strerror(errno));
			usleep(100000);
			continue;
		}
		if (pfd[1].revents & POLLIN) {
			while (read(s->wake[0], buf, sizeof(buf)) > 0)
				;
		}
		dead = NULL;
		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		srv_collect(s, &dead);
		pthread_mutex_unlock(&s->lock);
		srv_free_conns(dead);
		if (!(pfd[0].revents & POLLIN))
			continue;
		rc = tls_accept_fd(s->listen_fd, 0, &fd, peer, sizeof(peer));
		if (rc == -ETIMEDOUT)
			continue;
		if (rc) {
			/* EMFILE and friends: do not spin. */
			log_err("rpc server: accept: %s", strerror(-rc));
			usleep(100000);
			continue;
		}
		srv_new_conn(s, fd, peer);
	}
	return NULL;
}

int rpc_server_start(const struct rpc_server_opts *o, struct rpc_server **out)
{
	struct rpc_server *s;
	unsigned i;
	int rc;

	*out = NULL;
	if (!o->key || !o->identity || !o->handle)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->handle = o->handle;
	s->inline_types = o->inline_types;
	s->ctx = o->ctx;
	s->max_conns = o->max_conns ? o->max_conns : SRV_MAX_CONNS;
	s->listen_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	rc = tls_ctx_new(TLS_SERVER, o->key, o->identity, &s->tls);
	if (rc)
		goto fail;
	if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC)) {
		rc = -errno;
		goto fail;
	}
	rc = tls_listen(o->addr, o->port, &s->listen_fd);
	if (rc)
		goto fail;
	s->port = tls_local_port(s->listen_fd);
	if (o->workers) {
		s->workers = calloc(o->workers, sizeof(*s->workers));
		if (!s->workers) {
			rc = -ENOMEM;
			goto fail;
		}
		for (i = 0; i < o->workers; i++) {
			rc = -pthread_create(&s->workers[i], NULL, srv_worker,
					     s);
			if (rc)
				goto fail;
			s->nworkers++;
		}
	}
	rc = -pthread_create(&s->acceptor, NULL, srv_acceptor, s);
	if (rc)
		goto fail;
	log_info("rpc server listening on %s port %u", o->addr ? o->addr : "*",
		 (unsigned)s->port);
	*out = s;
	return 0;
fail:
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	tls_ctx_free(s->tls);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return rc;
}

uint16_t rpc_server_port(const struct rpc_server *s)
{
	return s->port;
}

unsigned rpc_server_nconns(struct rpc_server *s)
{
	struct srv_conn *c;
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next)
		if (c->tls && !c->done)
			n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int rpc_server_push(struct rpc_server *s, uint32_t node_id,
		    const struct csvfs_msg_hdr *hdr, const void *payload)
{
	struct csvfs_msg_hdr h = *hdr;
	struct srv_conn *c, *best = NULL;
	uint8_t *f;
	size_t flen;
	int rc;

	if (h.length > CSVFS_MSG_MAX_PAYLOAD)
		return -E2BIG;
	if (h.length && !payload)
		return -EINVAL;
	h.magic = CSVFS_MSG_MAGIC;
	h.version = CSVFS_PROTO_VERSION;
	h.flags = (h.flags | CSVFS_MSGF_PUSH) & ~(uint32_t)CSVFS_MSGF_REPLY;
	h.status = 0;
	f = frame_build(&h, payload, &flen);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next)
		if (c->tls && !c->done && !s->stopping &&
		    c->node_id == node_id &&
		    (!best || c->node_stamp > best->node_stamp))
			best = c;
	if (best)
		best->refs++;
	pthread_mutex_unlock(&s->lock);
	if (!best) {
		free(f);
		return -ENOTCONN;
	}
	rc = tls_send_all(best->tls, f, flen);
	free(f);
	if (rc) {
		log_node(LOG_WARNING, node_id, "push to %s failed: %s: closing",
			 best->peer, strerror(-rc));
		tls_shutdown(best->tls);
	}
	pthread_mutex_lock(&s->lock);
	conn_unref(best);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void rpc_server_stop(struct rpc_server *s)
{
	struct srv_conn *c, *all;
	struct srv_job *j;
	unsigned i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	/* Close the listener first: clients that reconnect at once get a
	 * refusal, not a connection left in the backlog. */
	srv_wake(s);
	pthread_join(s->acceptor, NULL);
	close(s->listen_fd);

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next) {
		if (c->tls)
			tls_shutdown(c->tls);
		else if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	}
	while ((j = s->qhead)) {
		s->qhead = j->next;
		j->c->inflight--;
		conn_unref(j->c);
		free(j->payload);
		free(j);
	}
	s->qtail = NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);

	/* Every thread is ended or ending, and nothing refers to a
	 * connection any more: join and free them all. */
	pthread_mutex_lock(&s->lock);
	all = s->conns;
	s->conns = NULL;
	s->nconns = 0;
	pthread_mutex_unlock(&s->lock);
	srv_free_conns(all);

	close(s->wake[0]);
	close(s->wake[1]);
	tls_ctx_free(s->tls);
	free(s->workers);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- client ------------------------------------------------------------ */

static const char *conn_strerror(int err)
{
	if (err == -EACCES)
		return "handshake refused (wrong cluster key, or a node of "
		       "another volume?)";
	return strerror(-err);
}

struct pending {
	struct pending *next, *prev;
	uint64_t req_id;
	uint16_t type;
	uint64_t sent_gen;	/* connection generation it was sent on */
	int done, status;
	uint8_t *reply;
	size_t reply_len;
	pthread_cond_t cond;
};

struct rpc_client {
	struct tls_ctx *tls;
	uint32_t node_id;
	pthread_t reader;

	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cond;	/* reader's backoff; connected waiters */
	pthread_cond_t idle;	/* users dropped to 0 */
	char host[HOST_MAX];
	uint16_t port;
	uint64_t target_gen;	/* ++ on retarget */
	struct tls_conn *conn;	/* current connection, NULL when down */
	uint64_t gen;		/* ++ on each new connection */
	unsigned users;		/* callers sending on conn, unlocked */
	int closing;
	int last_err;		/* of the last connect attempt */
	int timeout_ms;
	uint64_t next_req;
	struct pending pend;	/* list head */
	rpc_push_fn push;
	void *push_ctx;
	rpc_conn_fn on_conn;
	void *conn_ctx;
};

static void wake_pending(struct rpc_client *c)
{
	struct pending *p;

	for (p = c->pend.next; p != &c->pend; p = p->next)
		pthread_cond_signal(&p->cond);
}

static struct pending *find_pending(struct rpc_client *c, uint64_t req_id)
{
	struct pending *p;

	for (p = c->pend.next; p != &c->pend; p = p->next)
		if (p->req_id == req_id)
			return p;
	return NULL;
}

/* Reads frames until the connection fails; lock not held. */
static void cli_read_loop(struct rpc_client *c, struct tls_conn *conn)
{
	struct csvfs_msg_hdr h;
	struct pending *p;
	uint8_t *payload;
	rpc_push_fn push;
	void *push_ctx;
	char why[96];
	int rc;

	for (;;) {
		rc = frame_read(conn, &h, &payload, why, sizeof(why));
		if (rc == -EPROTO) {
			log_err("coordinator %s: malformed message "
				"header (%s): reconnecting", tls_peer(conn),
				why);
			return;
		}
		if (rc) {
			pthread_mutex_lock(&c->lock);
			if (!c->closing && rc != -ENOTCONN)
				log_warn("coordinator %s: receive "
					 "failed: %s", tls_peer(conn),
					 strerror(-rc));
			else if (!c->closing)
				log_warn("coordinator %s closed "
					 "the connection", tls_peer(conn));
			pthread_mutex_unlock(&c->lock);
			return;
		}
		if ((h.flags & (CSVFS_MSGF_REPLY | CSVFS_MSGF_PUSH)) ==
		    CSVFS_MSGF_PUSH) {
			pthread_mutex_lock(&c->lock);
			push = c->push;
			push_ctx = c->push_ctx;
			pthread_mutex_unlock(&c->lock);
			if (push)
				push(push_ctx, &h, payload);
			free(payload);
			continue;
		}
		if (h.flags != CSVFS_MSGF_REPLY) {
			log_err("coordinator %s: malformed message "
				"(flags 0x%x): reconnecting", tls_peer(conn),
				h.flags);
			free(payload);
			return;
		}
		pthread_mutex_lock(&c->lock);
		p = find_pending(c, h.req_id);
		if (p && !p->done && p->type == h.type) {
			p->done = 1;
			p->status = h.status;
			p->reply = payload;
			p->reply_len = h.length;
			payload = NULL;
			pthread_cond_signal(&p->cond);
		} else if (p && p->type != h.type) {
			log_err("coordinator %s: reply %llu is a %s, "
				"the request a %s: dropped", tls_peer(conn),
				(unsigned long long)h.req_id,
				msg_type_name(h.type), msg_type_name(p->type));
		}
		/* else: the caller gave up (timeout); nobody waits. */
		pthread_mutex_unlock(&c->lock);
		free(payload);
	}
}

static void *cli_reader(void *arg)
{
	struct rpc_client *c = arg;
	struct tls_conn *conn;
	char host[HOST_MAX];
	rpc_conn_fn on_conn;
	void *conn_ctx;
	uint64_t tgen;
	uint16_t port;
	int backoff = CLI_BACKOFF_MIN_MS, failing = 0, max, rc;

	pthread_mutex_lock(&c->lock);
	while (!c->closing) {
		snprintf(host, sizeof(host), "%s", c->host);
		port = c->port;
		tgen = c->target_gen;
		pthread_mutex_unlock(&c->lock);

		rc = tls_connect(c->tls, host, port, CLI_CONNECT_MS, &conn);

		pthread_mutex_lock(&c->lock);
		if (!rc && (c->closing || c->target_gen != tgen)) {
			pthread_mutex_unlock(&c->lock);
			tls_close(conn);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (rc) {
			c->last_err = rc;
			pthread_cond_broadcast(&c->cond);
			if (!failing)
				log_warn("coordinator %s:%u: cannot "
					 "connect: %s; retrying", host,
					 (unsigned)port, conn_strerror(rc));
			failing = 1;
			if (c->target_gen == tgen && !c->closing)
				cond_wait_until(&c->cond, &c->lock,
						now_ms() + backoff);
			/* A refused key will not get better soon: do not
			 * flood the coordinator's log. */
			max = rc == -EACCES ? CLI_BACKOFF_AUTH_MS :
					      CLI_BACKOFF_MAX_MS;
			backoff = backoff * 2 > max ? max : backoff * 2;
			if (c->target_gen != tgen)
				backoff = CLI_BACKOFF_MIN_MS;
			continue;
		}
		tls_set_timeouts(conn, CLI_SEND_MS, -1);
		if (failing || c->gen)
			log_info("coordinator %s:%u: connected", host,
				 (unsigned)port);
		failing = 0;
		backoff = CLI_BACKOFF_MIN_MS;
		c->last_err = 0;
		c->conn = conn;
		c->gen++;
		/* Every waiting call sends itself on the new connection. */
		wake_pending(c);
		pthread_cond_broadcast(&c->cond);
		on_conn = c->on_conn;
		conn_ctx = c->conn_ctx;
		pthread_mutex_unlock(&c->lock);

		if (on_conn)
			on_conn(conn_ctx, 1);
		cli_read_loop(c, conn);
		if (on_conn)
			on_conn(conn_ctx, 0);

		pthread_mutex_lock(&c->lock);
		c->conn = NULL;
		tls_shutdown(conn);
		while (c->users)
			pthread_cond_wait(&c->idle, &c->lock);
		pthread_mutex_unlock(&c->lock);
		tls_close(conn);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int cli_call(void *ctx, struct csvfs_msg_hdr *hdr, const void *payload,
		    uint8_t **reply, size_t *reply_len)
{
	struct rpc_client *c = ctx;
	struct tls_conn *conn;
	struct pending p;
	uint8_t *f;
	size_t flen;
	int64_t deadline;
	int rc = 0, src;

	*reply = NULL;
	*reply_len = 0;
	if (hdr->length > CSVFS_MSG_MAX_PAYLOAD)
		return -E2BIG;
	if (hdr->length && !payload)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	cond_init_mono(&p.cond);
	p.type = hdr->type;

	pthread_mutex_lock(&c->lock);
	if (c->closing) {
		pthread_mutex_unlock(&c->lock);
		pthread_cond_destroy(&p.cond);
		return -ESHUTDOWN;
	}
	p.req_id = c->next_req++;
	deadline = now_ms() + c->timeout_ms;
	pthread_mutex_unlock(&c->lock);

	hdr->magic = CSVFS_MSG_MAGIC;
	hdr->version = CSVFS_PROTO_VERSION;
	hdr->flags = 0;
	hdr->status = 0;
	hdr->req_id = p.req_id;
	hdr->node_id = c->node_id;
	f = frame_build(hdr, payload, &flen);
	if (!f) {
		pthread_cond_destroy(&p.cond);
		return -ENOMEM;
	}

	pthread_mutex_lock(&c->lock);
	p.next = &c->pend;
	p.prev = c->pend.prev;
	c->pend.prev->next = &p;
	c->pend.prev = &p;
	while (!p.done) {
		if (c->closing) {
			rc = -ESHUTDOWN;
			break;
		}
		if (c->conn && p.sent_gen != c->gen) {
			/* First send, or a resend after a reconnect:
			 * the same bytes, so the same req_id and seq. */
			conn = c->conn;
			p.sent_gen = c->gen;
			c->users++;
			pthread_mutex_unlock(&c->lock);
			src = tls_send_all(conn, f, flen);
			pthread_mutex_lock(&c->lock);
			if (src && c->conn == conn) {
				log_warn("coordinator %s: send "
					 "failed: %s: reconnecting",
					 tls_peer(conn), strerror(-src));
				tls_shutdown(conn);
			}
			if (--c->users == 0)
				pthread_cond_broadcast(&c->idle);
			continue;
		}
		if (now_ms() >= deadline ||
		    cond_wait_until(&p.cond, &c->lock, deadline) ==
		    ETIMEDOUT) {
			if (p.done)
				break;
			log_err("coordinator %s:%u: no reply to %s "
				"after %d ms%s%s", c->host, (unsigned)c->port,
				msg_type_name(p.type), c->timeout_ms,
				c->last_err ? ": " : "",
				c->last_err ? conn_strerror(c->last_err) : "");
			rc = -ETIMEDOUT;
			break;
		}
	}
	p.prev->next = p.next;
	p.next->prev = p.prev;
	pthread_mutex_unlock(&c->lock);
	free(f);
	pthread_cond_destroy(&p.cond);
	if (p.done) {
		*reply = p.reply;
		*reply_len = p.reply_len;
		return p.status;
	}
	return rc;
}

int rpc_client_new(const char *host, uint16_t port, const uint8_t *key,
		   const char *identity, uint32_t node_id,
		   struct rpc_client **out)
{
	struct rpc_client *c;
	int rc;

	*out = NULL;
	if (!host || strlen(host) >= HOST_MAX || !port || !key || !identity)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = tls_ctx_new(TLS_CLIENT, key, identity, &c->tls);
	if (rc) {
		free(c);
		return rc;
	}
	c->node_id = node_id;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->timeout_ms = CLI_TIMEOUT_MS;
	c->next_req = 1;
	c->pend.next = c->pend.prev = &c->pend;
	pthread_mutex_init(&c->lock, NULL);
	cond_init_mono(&c->cond);
	pthread_cond_init(&c->idle, NULL);
	rc = -pthread_create(&c->reader, NULL, cli_reader, c);
	if (rc) {
		pthread_cond_destroy(&c->idle);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		tls_ctx_free(c->tls);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = 1;
	if (c->conn)
		tls_shutdown(c->conn);
	wake_pending(c);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->reader, NULL);
	tls_ctx_free(c->tls);
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void rpc_client_transport(struct rpc_client *c, struct mdc_transport *t)
{
	t->call = cli_call;
	t->ctx = c;
}

void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms)
{
	pthread_mutex_lock(&c->lock);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLI_TIMEOUT_MS;
	pthread_mutex_unlock(&c->lock);
}

int rpc_client_wait_connected(struct rpc_client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	/* A refused key will not get better: say so at once. */
	while (!c->conn && !c->closing && c->last_err != -EACCES) {
		if (cond_wait_until(&c->cond, &c->lock, deadline) ==
		    ETIMEDOUT) {
			rc = c->conn ? 0 : c->last_err ? c->last_err :
					   -ETIMEDOUT;
			break;
		}
	}
	if (!c->conn && c->last_err == -EACCES)
		rc = -EACCES;
	if (c->closing)
		rc = -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void rpc_client_set_push_handler(struct rpc_client *c, rpc_push_fn fn,
				 void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->push = fn;
	c->push_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

void rpc_client_set_conn_handler(struct rpc_client *c, rpc_conn_fn fn,
				 void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->on_conn = fn;
	c->conn_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

int rpc_client_retarget(struct rpc_client *c, const char *host, uint16_t port)
{
	if (!host || strlen(host) >= HOST_MAX || !port)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->target_gen++;
	if (c->conn)
		tls_shutdown(c->conn);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	log_info("coordinator moved to %s:%u", host, (unsigned)port);
	return 0;
}

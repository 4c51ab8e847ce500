/*
 * rpc_test: the cluster key file, the TLS transport and the RPC client and
 * server, over loopback, with a stub handler in place of the coordinator.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "net/keyfile.h"
#include "net/mdc.h"
#include "net/msg.h"
#include "net/rpc.h"
#include "net/tls.h"

#define LOOP		"127.0.0.1"
#define ECHO_TYPE	CSVFS_MSG_GETATTR
#define UNKNOWN_TYPE	200
#define NODE		7

static uint8_t key[32], wrong_key[32];
static char ident[TLS_IDENTITY_SIZE], other_ident[TLS_IDENTITY_SIZE];
static char tmpdir[64];

/* ---- a stub coordinator ------------------------------------------------ */

struct stub {
	int id;			/* which server answered */
	atomic_int calls;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int hang;		/* a "hang" request is being held */
	int release;
	uint64_t hang_seq, hang_req;
};

static void stub_init(struct stub *st, int id)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cv, NULL);
}

static void stub_destroy(struct stub *st)
{
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->lock);
}

/*
 * Echo: the reply is the server id byte + the payload. Payload "hang"
 * holds the request until released. GETATTR of mdc gets a real ATTR.
 */
static int stub_handle(void *ctx, const struct csvfs_msg_hdr *h,
		       const uint8_t *payload, uint8_t **reply,
		       size_t *reply_len)
{
	struct stub *st = ctx;
	uint8_t *r;

	atomic_fetch_add(&st->calls, 1);
	*reply = NULL;
	*reply_len = 0;
	if (h->type == CSVFS_MSG_STATFS) {
		/* mdc_statfs: le32 bsize then 7 x le64 */
		struct msg_wr w;

		msg_wr_init(&w);
		msg_put_u32(&w, 4096);
		for (int i = 0; i < 7; i++)
			msg_put_u64(&w, (uint64_t)(i + 1) * 1000 + st->id);
		*reply = w.p;
		*reply_len = w.len;
		return 0;
	}
	if (h->type != ECHO_TYPE)
		return -EOPNOTSUPP;
	if (h->length == 4 && !memcmp(payload, "hang", 4)) {
		pthread_mutex_lock(&st->lock);
		st->hang = 1;
		st->hang_seq = h->seq;
		st->hang_req = h->req_id;
		pthread_cond_broadcast(&st->cv);
		while (!st->release)
			pthread_cond_wait(&st->cv, &st->lock);
		pthread_mutex_unlock(&st->lock);
	}
	r = malloc(h->length + 1);
	if (!r)
		return -ENOMEM;
	r[0] = (uint8_t)st->id;
	if (h->length)
		memcpy(r + 1, payload, h->length);
	*reply = r;
	*reply_len = h->length + 1;
	return 0;
}

static struct rpc_server *srv_start(struct stub *st, uint16_t port,
				    unsigned workers)
{
	struct rpc_server_opts o = {
		.addr = LOOP, .port = port, .key = key, .identity = ident,
		.handle = stub_handle, .ctx = st, .workers = workers,
	};
	struct rpc_server *s = NULL;
	int rc = rpc_server_start(&o, &s);

	CU_ASSERT(rc == 0);
	return rc ? NULL : s;
}

static struct rpc_client *cli_new(uint16_t port, const uint8_t *k,
				  const char *id)
{
	struct rpc_client *c = NULL;

	CU_ASSERT_FATAL(rpc_client_new(LOOP, port, k, id, NODE, &c) == 0);
	rpc_client_set_timeout(c, 10000);
	return c;
}

/* One call through the transport, as mdc makes them. */
static int rcall(struct rpc_client *c, uint16_t type, uint64_t seq,
		 const void *buf, size_t len, uint8_t **reply, size_t *rlen)
{
	struct mdc_transport t;
	struct csvfs_msg_hdr h;

	rpc_client_transport(c, &t);
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.length = (uint32_t)len;
	h.seq = seq;
	h.incarnation = 99;
	return t.call(t.ctx, &h, buf, reply, rlen);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- keyfile ------------------------------------------------------------ */

static void test_keyfile_generate_load(void)
{
	char path[128], err[256];
	uint8_t k1[32], k2[32], zero[32] = { 0 };
	struct stat st;

	snprintf(path, sizeof(path), "%s/etc/cluster.key", tmpdir);
	CU_ASSERT(keyfile_generate(path, 0, err, sizeof(err)) == 0);
	CU_ASSERT(stat(path, &st) == 0);
	CU_ASSERT((st.st_mode & 07777) == 0600);
	CU_ASSERT(st.st_size == 65);
	CU_ASSERT(keyfile_load(path, k1, err, sizeof(err)) == 0);
	CU_ASSERT(memcmp(k1, zero, 32) != 0);

	/* No silent overwrite; --force replaces it with a new key. */
	CU_ASSERT(keyfile_generate(path, 0, err, sizeof(err)) == -EEXIST);
	CU_ASSERT(strstr(err, path) != NULL);
	CU_ASSERT(keyfile_load(path, k2, NULL, 0) == 0);
	CU_ASSERT(memcmp(k1, k2, 32) == 0);
	CU_ASSERT(keyfile_generate(path, 1, err, sizeof(err)) == 0);
	CU_ASSERT(stat(path, &st) == 0);
	CU_ASSERT((st.st_mode & 07777) == 0600);
	CU_ASSERT(keyfile_load(path, k2, NULL, 0) == 0);
	CU_ASSERT(memcmp(k1, k2, 32) != 0);
	unlink(path);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CU_ASSERT(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_keyfile_refuses_bad_files(void)
{
	static const char good[] =
		"000102030405060708090a0b0c0d0e0f"
		"101112131415161718191a1b1c1d1e1f\n";
	char path[128], err[256];
	uint8_t k[32];

	snprintf(path, sizeof(path), "%s/k", tmpdir);

	write_file(path, good, 0600);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == 0);
	CU_ASSERT(k[0] == 0 && k[17] == 0x11 && k[31] == 0x1f);

	/* Readable by others: refused, like ssh, naming file and mode. */
	write_file(path, good, 0644);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EPERM);
	CU_ASSERT(strstr(err, path) != NULL);
	CU_ASSERT(strstr(err, "0644") != NULL);
	printf("\n    (0644 key file: \"%s\")", err);
	write_file(path, good, 0640);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EPERM);
	write_file(path, good, 0604);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EPERM);

	write_file(path, "0011\n", 0600);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EBADMSG);
	CU_ASSERT(strstr(err, "bad length") != NULL);
	write_file(path, "", 0600);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EBADMSG);
	write_file(path,
		   "000102030405060708090a0b0c0d0e0f"
		   "101112131415161718191a1b1c1d1e1f00\n", 0600);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EBADMSG);

	write_file(path,
		   "000102030405060708090a0b0c0d0e0f"
		   "101112131415161718191a1b1c1d1e1g\n", 0600);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -EILSEQ);
	CU_ASSERT(strstr(err, "not hex") != NULL);

	unlink(path);
	CU_ASSERT(keyfile_load(path, k, err, sizeof(err)) == -ENOENT);
	CU_ASSERT(strstr(err, path) != NULL);
	CU_ASSERT(keyfile_load(tmpdir, k, err, sizeof(err)) == -EPERM ||
		  keyfile_load(tmpdir, k, err, sizeof(err)) == -EISDIR);
}

/* ---- tls ---------------------------------------------------------------- */

struct acc {
	struct tls_ctx *ctx;
	int fd, rc;
	struct tls_conn *conn;
};

static void *acc_main(void *arg)
{
	struct acc *a = arg;

	a->rc = tls_accept(a->ctx, a->fd, 5000, &a->conn);
	return NULL;
}

static void test_tls_handshake_right_key(void)
{
	struct tls_ctx *sctx, *cctx;
	struct tls_conn *conn;
	struct acc a = { 0 };
	pthread_t th;
	char buf[6];
	int fd;

	CU_ASSERT_FATAL(tls_ctx_new(TLS_SERVER, key, ident, &sctx) == 0);
	CU_ASSERT_FATAL(tls_ctx_new(TLS_CLIENT, key, ident, &cctx) == 0);
	CU_ASSERT_FATAL(tls_listen(LOOP, 0, &fd) == 0);
	a.ctx = sctx;
	a.fd = fd;
	pthread_create(&th, NULL, acc_main, &a);
	CU_ASSERT(tls_connect(cctx, LOOP, tls_local_port(fd), 5000, &conn)
		  == 0);
	pthread_join(th, NULL);
	CU_ASSERT_FATAL(a.rc == 0);
	CU_ASSERT(tls_send_all(conn, "hello", 5) == 0);
	CU_ASSERT(tls_recv_all(a.conn, buf, 5) == 0);
	CU_ASSERT(memcmp(buf, "hello", 5) == 0);
	CU_ASSERT(tls_send_all(a.conn, "back!", 5) == 0);
	CU_ASSERT(tls_recv_all(conn, buf, 5) == 0);
	CU_ASSERT(memcmp(buf, "back!", 5) == 0);
	/* A clean close is seen as -ENOTCONN at a message boundary. */
	tls_close(conn);
	CU_ASSERT(tls_recv_all(a.conn, buf, 5) == -ENOTCONN);
	tls_close(a.conn);
	close(fd);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

/* A listener that takes the ClientHello and hangs up, as a coordinator
 * that resigns mid-handshake does. */
static void *hangup_main(void *arg)
{
	struct acc *a = arg;
	struct pollfd p = { .fd = a->fd, .events = POLLIN };
	char buf[512];
	int fd;

	if (poll(&p, 1, 5000) != 1)	/* the listener is non-blocking */
		return NULL;
	fd = accept(a->fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	p.fd = fd;
	if (poll(&p, 1, 5000) == 1)
		a->rc = (int)read(fd, buf, sizeof(buf));
	close(fd);
	return NULL;
}

static void test_tls_peer_hangup_is_not_a_wrong_key(void)
{
	struct tls_ctx *cctx;
	struct tls_conn *conn = NULL;
	struct acc a = { 0 };
	pthread_t th;
	int fd, rc;

	CU_ASSERT_FATAL(tls_ctx_new(TLS_CLIENT, key, ident, &cctx) == 0);
	CU_ASSERT_FATAL(tls_listen(LOOP, 0, &fd) == 0);
	a.fd = fd;
	pthread_create(&th, NULL, hangup_main, &a);
	rc = tls_connect(cctx, LOOP, tls_local_port(fd), 5000, &conn);
	pthread_join(th, NULL);
	CU_ASSERT(a.rc > 0);		/* it did read the ClientHello */
	/* retryable, never -EACCES: a mount gives up on -EACCES */
	CU_ASSERT(rc == -ECONNRESET);
	CU_ASSERT(conn == NULL);
	close(fd);
	tls_ctx_free(cctx);
}

static void test_tls_refuses_wrong_key_and_identity(void)
{
	struct tls_ctx *bad, *bad_id;
	struct tls_conn *conn = NULL;
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	uint8_t *reply = NULL;
	size_t rlen;
	uint16_t port;

	stub_init(&st, 1);
	s = srv_start(&st, 0, 0);
	CU_ASSERT_FATAL(s != NULL);
	port = rpc_server_port(s);

	CU_ASSERT_FATAL(tls_ctx_new(TLS_CLIENT, wrong_key, ident, &bad) == 0);
	CU_ASSERT(tls_connect(bad, LOOP, port, 5000, &conn) == -EACCES);
	CU_ASSERT(conn == NULL);
	/* The right key but another volume's identity fails as well. */
	CU_ASSERT_FATAL(tls_ctx_new(TLS_CLIENT, key, other_ident, &bad_id)
			== 0);
	CU_ASSERT(tls_connect(bad_id, LOOP, port, 5000, &conn) == -EACCES);

	/* An RPC client with the wrong key never gets a request through. */
	c = cli_new(port, wrong_key, ident);
	CU_ASSERT(rpc_client_wait_connected(c, 500) == -EACCES);
	rpc_client_set_timeout(c, 500);
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "x", 1, &reply, &rlen) ==
		  -ETIMEDOUT);
	CU_ASSERT(reply == NULL);
	rpc_client_free(c);

	CU_ASSERT(atomic_load(&st.calls) == 0);
	CU_ASSERT(rpc_server_nconns(s) == 0);
	tls_ctx_free(bad);
	tls_ctx_free(bad_id);
	rpc_server_stop(s);
	stub_destroy(&st);
}

/* ---- rpc ---------------------------------------------------------------- */

static void round_trips(unsigned workers)
{
	static const size_t sizes[] = { 0, 1, 63, 64, 1000, 65536,
					CSVFS_MSG_MAX_PAYLOAD - 1 };
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	uint8_t *buf, *reply;
	size_t rlen, i, j;

	stub_init(&st, 3);
	s = srv_start(&st, 0, workers);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	buf = malloc(CSVFS_MSG_MAX_PAYLOAD);
	CU_ASSERT_FATAL(buf != NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizes[i]; j++)
			buf[j] = (uint8_t)(j * 7 + i);
		reply = NULL;
		CU_ASSERT(rcall(c, ECHO_TYPE, i + 1, buf, sizes[i], &reply,
				&rlen) == 0);
		CU_ASSERT(rlen == sizes[i] + 1);
		CU_ASSERT(reply && reply[0] == 3);
		if (reply && rlen == sizes[i] + 1)
			CU_ASSERT(memcmp(reply + 1, buf, sizes[i]) == 0);
		free(reply);
	}
	/* The reply to the largest request is over the limit: -E2BIG. */
	reply = NULL;
	CU_ASSERT(rcall(c, ECHO_TYPE, 50, buf, CSVFS_MSG_MAX_PAYLOAD, &reply,
			&rlen) == -E2BIG);
	free(reply);
	/* Over the limit is refused by the client before sending. */
	CU_ASSERT(rcall(c, ECHO_TYPE, 51, buf, CSVFS_MSG_MAX_PAYLOAD + 1,
			&reply, &rlen) == -E2BIG);
	/* An unknown type is the handler's business, sent back as status. */
	reply = NULL;
	CU_ASSERT(rcall(c, UNKNOWN_TYPE, 52, "?", 1, &reply, &rlen) ==
		  -EOPNOTSUPP);
	free(reply);
	free(buf);
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
}

static void test_rpc_round_trips_serial(void)
{
	round_trips(0);
}

static void test_rpc_round_trips_pool(void)
{
	round_trips(4);
}

/* mdc over the rpc transport: the typed calls work unchanged. */
static void test_rpc_carries_mdc_calls(void)
{
	struct rpc_server *s;
	struct rpc_client *c;
	struct mdc_transport t;
	struct mdc_statfs sf;
	struct mdc *m;
	struct stub st;

	stub_init(&st, 5);
	s = srv_start(&st, 0, 0);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	rpc_client_transport(c, &t);
	CU_ASSERT_FATAL(mdc_new(&t, NODE, 1234, &m) == 0);
	CU_ASSERT(mdc_statfs(m, &sf) == 0);
	CU_ASSERT(sf.bsize == 4096 && sf.blocks == 1005 &&
		  sf.provisioned == 7005);
	/* The stub answers FSYNC with -EOPNOTSUPP. */
	CU_ASSERT(mdc_fsync(m, 0) == -EOPNOTSUPP);
	mdc_free(m);
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
}

struct hammer {
	struct rpc_client *c;
	int id, bad, failed;
};

static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;
	uint8_t buf[32], *reply;
	size_t rlen, len;
	int i, rc;

	for (i = 0; i < 1000; i++) {
		len = 8 + (size_t)(i % 24);
		memset(buf, 0, sizeof(buf));
		snprintf((char *)buf, sizeof(buf), "t%d.%d", hm->id, i);
		reply = NULL;
		rc = rcall(hm->c, ECHO_TYPE, (uint64_t)hm->id << 32 | i, buf,
			   len, &reply, &rlen);
		if (rc)
			hm->failed++;
		else if (rlen != len + 1 || memcmp(reply + 1, buf, len))
			hm->bad++;
		free(reply);
	}
	return NULL;
}

static void concurrent(unsigned workers)
{
	struct hammer hm[8];
	pthread_t th[8];
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	int64_t t0, t1;
	int i;

	stub_init(&st, 4);
	s = srv_start(&st, 0, workers);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	t0 = now_ns();
	for (i = 0; i < 8; i++) {
		hm[i] = (struct hammer){ .c = c, .id = i };
		pthread_create(&th[i], NULL, hammer_main, &hm[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT(hm[i].failed == 0);
		CU_ASSERT(hm[i].bad == 0);
	}
	t1 = now_ns();
	CU_ASSERT(atomic_load(&st.calls) == 8000);
	printf("\n    8 threads x 1000 calls, %u workers: %.0f calls/s ",
	       workers, 8000.0 / ((double)(t1 - t0) / 1e9));
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
}

static void test_rpc_concurrent_calls_serial(void)
{
	concurrent(0);
}

static void test_rpc_concurrent_calls_pool(void)
{
	concurrent(4);
}

/* A raw TLS connection with the right key sends a bad frame. */
static void bad_frame(uint16_t port, const uint8_t *raw, size_t len)
{
	struct tls_ctx *ctx;
	struct tls_conn *conn;
	uint8_t b;

	CU_ASSERT_FATAL(tls_ctx_new(TLS_CLIENT, key, ident, &ctx) == 0);
	CU_ASSERT_FATAL(tls_connect(ctx, LOOP, port, 5000, &conn) == 0);
	tls_set_timeouts(conn, 5000, 5000);
	CU_ASSERT(tls_send_all(conn, raw, len) == 0);
	/* The server closes: an error, not a timeout nor a reply. */
	int rc = tls_recv_all(conn, &b, 1);

	CU_ASSERT(rc == -ENOTCONN || rc == -ECONNRESET);
	tls_close(conn);
	tls_ctx_free(ctx);
}

static void test_rpc_malformed_frames_close_connection(void)
{
	struct csvfs_msg_hdr h;
	uint8_t raw[CSVFS_MSG_HDR_SIZE], *reply;
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	size_t rlen, i;

	stub_init(&st, 6);
	s = srv_start(&st, 0, 0);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "a", 1, &reply, &rlen) == 0);
	free(reply);

	/* Garbage. */
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 37 + 11);
	bad_frame(rpc_server_port(s), raw, sizeof(raw));

	/* A good header claiming 2 GiB: refused before any allocation. */
	memset(&h, 0, sizeof(h));
	h.magic = CSVFS_MSG_MAGIC;
	h.version = CSVFS_PROTO_VERSION;
	h.type = ECHO_TYPE;
	h.length = 0x80000000u;
	h.node_id = 9;
	msg_hdr_encode(&h, raw);
	bad_frame(rpc_server_port(s), raw, sizeof(raw));

	/* Just over the limit. */
	h.length = CSVFS_MSG_MAX_PAYLOAD + 1;
	msg_hdr_encode(&h, raw);
	bad_frame(rpc_server_port(s), raw, sizeof(raw));

	/* Another protocol version. */
	h.length = 0;
	h.version = CSVFS_PROTO_VERSION + 1;
	msg_hdr_encode(&h, raw);
	bad_frame(rpc_server_port(s), raw, sizeof(raw));

	/* A "reply" sent to the server. */
	h.version = CSVFS_PROTO_VERSION;
	h.flags = CSVFS_MSGF_REPLY;
	msg_hdr_encode(&h, raw);
	bad_frame(rpc_server_port(s), raw, sizeof(raw));

	CU_ASSERT(atomic_load(&st.calls) == 1);
	/* The server keeps serving the others. */
	CU_ASSERT(rcall(c, ECHO_TYPE, 2, "b", 1, &reply, &rlen) == 0);
	CU_ASSERT(rlen == 2 && reply && reply[1] == 'b');
	free(reply);
	CU_ASSERT(atomic_load(&st.calls) == 2);
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
}

struct bg_call {
	struct rpc_client *c;
	const char *payload;
	uint64_t seq;
	int rc;
	uint8_t *reply;
	size_t rlen;
};

static void *bg_call_main(void *arg)
{
	struct bg_call *b = arg;

	b->rc = rcall(b->c, ECHO_TYPE, b->seq, b->payload,
		      strlen(b->payload), &b->reply, &b->rlen);
	return NULL;
}

static void *stop_main(void *arg)
{
	rpc_server_stop(arg);
	return NULL;
}

/*
 * The coordinator dies with a request in flight and comes back: the
 * client reconnects and resends the request unchanged (same seq), and
 * the retried call succeeds.
 */
static void test_rpc_reconnect_resends_after_restart(void)
{
	struct stub st1, st2;
	struct rpc_server *s1, *s2;
	struct rpc_client *c;
	struct bg_call b = { 0 };
	pthread_t th, stopper;
	uint8_t *reply;
	size_t rlen;
	uint16_t port;

	stub_init(&st1, 1);
	stub_init(&st2, 2);
	s1 = srv_start(&st1, 0, 0);
	CU_ASSERT_FATAL(s1 != NULL);
	port = rpc_server_port(s1);
	c = cli_new(port, key, ident);
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "a", 1, &reply, &rlen) == 0);
	free(reply);

	/* A request that server 1 holds and never answers. */
	b.c = c;
	b.payload = "hang";
	b.seq = 777;
	pthread_create(&th, NULL, bg_call_main, &b);
	pthread_mutex_lock(&st1.lock);
	while (!st1.hang)
		pthread_cond_wait(&st1.cv, &st1.lock);
	pthread_mutex_unlock(&st1.lock);

	/* Server 1 goes away; its handler finishes into a dead socket. */
	pthread_create(&stopper, NULL, stop_main, s1);
	usleep(100000);
	pthread_mutex_lock(&st1.lock);
	st1.release = 1;
	pthread_cond_broadcast(&st1.cv);
	pthread_mutex_unlock(&st1.lock);
	pthread_join(stopper, NULL);
	usleep(200000);		/* the client retries meanwhile */

	st2.release = 1;
	s2 = srv_start(&st2, port, 0);
	CU_ASSERT_FATAL(s2 != NULL);
	pthread_join(th, NULL);
	CU_ASSERT(b.rc == 0);
	CU_ASSERT(b.rlen == 5 && b.reply && b.reply[0] == 2 &&
		  !memcmp(b.reply + 1, "hang", 4));
	free(b.reply);
	/* The same request, by seq and req_id, reached server 2. */
	CU_ASSERT(st2.hang_seq == 777);
	CU_ASSERT(st2.hang_req == st1.hang_req);

	CU_ASSERT(rcall(c, ECHO_TYPE, 3, "z", 1, &reply, &rlen) == 0);
	CU_ASSERT(rlen == 2 && reply && reply[0] == 2);
	free(reply);
	rpc_client_free(c);
	rpc_server_stop(s2);
	stub_destroy(&st1);
	stub_destroy(&st2);
}

/* Nothing listening: a call waits for the coordinator, up to the timeout. */
static void test_rpc_call_times_out_without_server(void)
{
	struct stub st;
	struct rpc_server *s;
	struct rpc_client *c;
	uint8_t *reply = NULL;
	size_t rlen;
	uint16_t port;
	int64_t t0;

	stub_init(&st, 1);
	s = srv_start(&st, 0, 0);
	CU_ASSERT_FATAL(s != NULL);
	port = rpc_server_port(s);
	rpc_server_stop(s);
	c = cli_new(port, key, ident);
	rpc_client_set_timeout(c, 300);
	t0 = now_ns();
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "a", 1, &reply, &rlen) ==
		  -ETIMEDOUT);
	CU_ASSERT(now_ns() - t0 < 2000000000);
	CU_ASSERT(reply == NULL);
	CU_ASSERT(rpc_client_wait_connected(c, 100) == -ECONNREFUSED);
	rpc_client_free(c);
	stub_destroy(&st);
}

static void test_rpc_retarget(void)
{
	struct stub st1, st2;
	struct rpc_server *s1, *s2;
	struct rpc_client *c;
	uint8_t *reply;
	size_t rlen;

	stub_init(&st1, 1);
	stub_init(&st2, 2);
	s1 = srv_start(&st1, 0, 0);
	s2 = srv_start(&st2, 0, 0);
	CU_ASSERT_FATAL(s1 && s2);
	c = cli_new(rpc_server_port(s1), key, ident);
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "a", 1, &reply, &rlen) == 0);
	CU_ASSERT(reply && reply[0] == 1);
	free(reply);
	CU_ASSERT(rpc_client_retarget(c, LOOP, rpc_server_port(s2)) == 0);
	CU_ASSERT(rcall(c, ECHO_TYPE, 2, "b", 1, &reply, &rlen) == 0);
	CU_ASSERT(reply && reply[0] == 2);
	free(reply);
	rpc_client_free(c);
	rpc_server_stop(s1);
	rpc_server_stop(s2);
	stub_destroy(&st1);
	stub_destroy(&st2);
}

struct push_box {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int n;
	struct csvfs_msg_hdr h;
	char data[64];
};

static void on_push(void *ctx, const struct csvfs_msg_hdr *h,
		    const uint8_t *payload)
{
	struct push_box *pb = ctx;

	pthread_mutex_lock(&pb->lock);
	pb->h = *h;
	memset(pb->data, 0, sizeof(pb->data));
	if (h->length < sizeof(pb->data))
		memcpy(pb->data, payload, h->length);
	pb->n++;
	pthread_cond_broadcast(&pb->cv);
	pthread_mutex_unlock(&pb->lock);
}

static void test_rpc_push_reaches_node(void)
{
	struct push_box pb = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cv = PTHREAD_COND_INITIALIZER };
	struct csvfs_msg_hdr h;
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	struct timespec ts;
	uint8_t *reply;
	size_t rlen;

	stub_init(&st, 1);
	s = srv_start(&st, 0, 0);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	rpc_client_set_push_handler(c, on_push, &pb);

	memset(&h, 0, sizeof(h));
	h.type = CSVFS_MSG_GETATTR;
	h.length = 5;
	/* The node has not said who it is yet. */
	CU_ASSERT(rpc_server_push(s, NODE, &h, "inval") == -ENOTCONN);
	CU_ASSERT(rcall(c, ECHO_TYPE, 1, "a", 1, &reply, &rlen) == 0);
	free(reply);
	CU_ASSERT(rpc_server_push(s, NODE, &h, "inval") == 0);
	CU_ASSERT(rpc_server_push(s, NODE + 1, &h, "inval") == -ENOTCONN);

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&pb.lock);
	while (pb.n == 0)
		if (pthread_cond_timedwait(&pb.cv, &pb.lock, &ts))
			break;
	CU_ASSERT(pb.n == 1);
	CU_ASSERT(pb.h.flags == CSVFS_MSGF_PUSH);
	CU_ASSERT(pb.h.type == CSVFS_MSG_GETATTR);
	CU_ASSERT(strcmp(pb.data, "inval") == 0);
	pthread_mutex_unlock(&pb.lock);
	/* Calls still work alongside. */
	CU_ASSERT(rcall(c, ECHO_TYPE, 2, "b", 1, &reply, &rlen) == 0);
	free(reply);
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(unsigned workers)
{
	enum { N = 10000 };
	struct rpc_server *s;
	struct rpc_client *c;
	struct stub st;
	int64_t *lat, t0, sum = 0;
	uint8_t *reply;
	size_t rlen;
	int i, failed = 0;

	lat = calloc(N, sizeof(*lat));
	CU_ASSERT_FATAL(lat != NULL);
	stub_init(&st, 1);
	s = srv_start(&st, 0, workers);
	CU_ASSERT_FATAL(s != NULL);
	c = cli_new(rpc_server_port(s), key, ident);
	for (i = 0; i < 100; i++) {	/* warm up */
		if (rcall(c, ECHO_TYPE, 1, "warmup..", 8, &reply, &rlen) == 0)
			free(reply);
	}
	for (i = 0; i < N; i++) {
		t0 = now_ns();
		reply = NULL;
		if (rcall(c, ECHO_TYPE, (uint64_t)i, "12345678", 8, &reply,
			  &rlen))
			failed++;
		lat[i] = now_ns() - t0;
		sum += lat[i];
		free(reply);
	}
	CU_ASSERT(failed == 0);
	qsort(lat, N, sizeof(*lat), cmp_i64);
	printf("\n    round trip of %d small calls (8-byte payload, TLS over "
	       "loopback, %u workers): p50 %.1f us, p99 %.1f us, "
	       "mean %.1f us, max %.1f us ", N, workers,
	       lat[N / 2] / 1e3, lat[N * 99 / 100] / 1e3,
	       (double)sum / N / 1e3, lat[N - 1] / 1e3);
	rpc_client_free(c);
	rpc_server_stop(s);
	stub_destroy(&st);
	free(lat);
}

static void test_rpc_latency(void)
{
	latency(0);
	latency(4);
}

/* ---- runner -------------------------------------------------------------- */

static int suite_init(void)
{
	static const uint8_t uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
					  5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t other[16];
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 13 + 5);
	memcpy(wrong_key, key, 32);
	wrong_key[31] ^= 1;
	tls_identity(uuid, ident);
	memcpy(other, uuid, 16);
	other[15] ^= 0x80;
	tls_identity(other, other_ident);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rpc_test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/etc", tmpdir);
	rmdir(path);
	return rmdir(tmpdir) ? -1 : 0;
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	/* Log lines (refused connections, malformed frames) to stderr too. */
	openlog("rpc_test", LOG_PERROR, LOG_USER);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("rpc", suite_init, suite_clean);
	if (!s ||
	    !CU_add_test(s, "keyfile generate and load",
			 test_keyfile_generate_load) ||
	    !CU_add_test(s, "keyfile refuses open permissions, bad length, "
			 "not hex, missing", test_keyfile_refuses_bad_files) ||
	    !CU_add_test(s, "tls handshake with the right key",
			 test_tls_handshake_right_key) ||
	    !CU_add_test(s, "tls refuses a wrong key or identity; no "
			 "request reaches the handler",
			 test_tls_refuses_wrong_key_and_identity) ||
	    !CU_add_test(s, "tls: a peer hanging up is not a wrong key",
			 test_tls_peer_hangup_is_not_a_wrong_key) ||
	    !CU_add_test(s, "rpc round trips (serial server)",
			 test_rpc_round_trips_serial) ||
	    !CU_add_test(s, "rpc round trips (worker pool)",
			 test_rpc_round_trips_pool) ||
	    !CU_add_test(s, "rpc carries mdc calls",
			 test_rpc_carries_mdc_calls) ||
	    !CU_add_test(s, "8 threads x 1000 concurrent calls (serial)",
			 test_rpc_concurrent_calls_serial) ||
	    !CU_add_test(s, "8 threads x 1000 concurrent calls (pool)",
			 test_rpc_concurrent_calls_pool) ||
	    !CU_add_test(s, "malformed frames close only their connection",
			 test_rpc_malformed_frames_close_connection) ||
	    !CU_add_test(s, "server restart: reconnect and resend",
			 test_rpc_reconnect_resends_after_restart) ||
	    !CU_add_test(s, "call times out without a server",
			 test_rpc_call_times_out_without_server) ||
	    !CU_add_test(s, "retarget to a moved coordinator",
			 test_rpc_retarget) ||
	    !CU_add_test(s, "push reaches the node",
			 test_rpc_push_reaches_node) ||
	    !CU_add_test(s, "round-trip latency", test_rpc_latency)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	closelog();
	return fails ? 1 : 0;
}

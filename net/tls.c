/*
 * tls: TLS 1.3 with an external PSK over non-blocking TCP (see tls.h).
 *
 * Why non-blocking sockets and one lock around every SSL call: an SSL
 * object must never be entered by two threads at once, yet the RPC client
 * has one thread blocked reading replies while callers write requests. So
 * each SSL_read/SSL_write runs under ssl_lock and returns WANT_READ/WANT_WRITE
 * instead of blocking; the thread then waits in poll() with no lock held.
 * A partial SSL_write must be retried with the same bytes before anything
 * else is written, hence send_lock around a whole tls_send_all.
 *
 * No session tickets are issued (a reconnect runs a full PSK handshake,
 * which costs one ECDHE), so after the handshake the only TLS records on a
 * connection are application data and alerts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "csvfs/log.h"
#include "net/tls.h"

#define CIPHER_NAME	"TLS_AES_128_GCM_SHA256"
/* The IANA id of TLS_AES_128_GCM_SHA256, for SSL_CIPHER_find. */
static const unsigned char cipher_id[2] = { 0x13, 0x01 };

#define DEFAULT_SEND_MS	30000
#define IDENTITY_MAX	255
#define PEER_MAX	64

/* Dead peer detection without traffic: ~20 s (keepalive, user timeout). */
#define KEEPIDLE_S	10
#define KEEPINTVL_S	3
#define KEEPCNT		3
#define USER_TIMEOUT_MS	20000

struct tls_ctx {
	SSL_CTX *ssl;
	enum tls_role role;
	const SSL_CIPHER *cipher;
	uint8_t psk[32];
	char identity[IDENTITY_MAX + 1];
	size_t idlen;
};

struct tls_conn {
	SSL *ssl;
	int fd;
	pthread_mutex_t ssl_lock;	/* every SSL_* call on ssl */
	pthread_mutex_t send_lock;	/* one whole tls_send_all */
	int send_ms, recv_ms;
	int broken;			/* fatal SSL error: no more SSL calls
					 * but SSL_free (under ssl_lock) */
	atomic_int shut;		/* tls_shutdown was called */
	char peer[PEER_MAX];
};

/* ---- time and waiting ------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits for events on fd until deadline (-1 = forever). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n, left;

	for (;;) {
		if (deadline < 0) {
			left = -1;
		} else {
			int64_t d = deadline - now_ms();

			if (d <= 0)
				return -ETIMEDOUT;
			left = d > INT_MAX ? INT_MAX : (int)d;
		}
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;	/* errors and hangups: the call tells */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- context and PSK ------------------------------------------------- */

static SSL_SESSION *psk_session(const struct tls_ctx *t)
{
	SSL_SESSION *s = SSL_SESSION_new();

	if (!s)
		return NULL;
	if (!SSL_SESSION_set1_master_key(s, t->psk, sizeof(t->psk)) ||
	    !SSL_SESSION_set_cipher(s, t->cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

/* Client: offer our identity and PSK. Returning no PSK ends the handshake,
 * since the client accepts no certificate either. */
static int use_session_cb(SSL *ssl, const EVP_MD *md,
			  const unsigned char **id, size_t *idlen,
			  SSL_SESSION **sess)
{
	const struct tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const EVP_MD *want = SSL_CIPHER_get_handshake_digest(t->cipher);

	*sess = NULL;
	*id = NULL;
	*idlen = 0;
	/* After a HelloRetryRequest md is the chosen suite's hash. */
	if (md && (!want || EVP_MD_get_type(md) != EVP_MD_get_type(want)))
		return 1;
	*sess = psk_session(t);
	if (!*sess)
		return 0;
	*id = (const unsigned char *)t->identity;
	*idlen = t->idlen;
	return 1;
}

/* Server: accept our identity only; anything else gets no PSK, and with
 * no certificate to fall back on the handshake fails. */
static int find_session_cb(SSL *ssl, const unsigned char *id, size_t idlen,
			   SSL_SESSION **sess)
{
	const struct tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct tls_conn *c = SSL_get_app_data(ssl);
	char shown[IDENTITY_MAX + 1];
	size_t i;

	*sess = NULL;
	if (idlen != t->idlen || CRYPTO_memcmp(id, t->identity, idlen)) {
		for (i = 0; i < idlen && i < IDENTITY_MAX; i++)
			shown[i] = id[i] >= 0x20 && id[i] < 0x7f ?
				   (char)id[i] : '?';
		shown[i] = '\0';
		log_warn("connection from %s: unknown PSK identity "
			 "'%s' (a node of another volume?)", c ? c->peer : "?",
			 shown);
		return 1;
	}
	*sess = psk_session(t);
	return *sess ? 1 : 0;
}

void tls_identity(const uint8_t uuid[16], char out[TLS_IDENTITY_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "csvfs-", 6);
	for (i = 0; i < 16; i++) {
		out[6 + 2 * i] = hex[uuid[i] >> 4];
		out[7 + 2 * i] = hex[uuid[i] & 15];
	}
	out[38] = '\0';
}

int tls_ctx_new(enum tls_role role, const uint8_t key[TLS_KEY_LEN],
		const char *identity, struct tls_ctx **out)
{
	static const char label[] = TLS_PSK_LABEL;
	unsigned char data[sizeof(label) - 1 + IDENTITY_MAX];
	struct tls_ctx *t;
	SSL *tmp;
	size_t idlen = identity ? strlen(identity) : 0, maclen = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (idlen == 0 || idlen > IDENTITY_MAX)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->role = role;
	memcpy(t->identity, identity, idlen);
	t->idlen = idlen;

	/* Bind the PSK to the identity: a key is good for one volume. */
	memcpy(data, label, sizeof(label) - 1);
	memcpy(data + sizeof(label) - 1, identity, idlen);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, TLS_KEY_LEN,
		       data, sizeof(label) - 1 + idlen, t->psk, sizeof(t->psk),
		       &maclen) || maclen != sizeof(t->psk)) {
		rc = -EIO;
		goto fail;
	}
	t->ssl = SSL_CTX_new(role == TLS_SERVER ? TLS_server_method() :
			     TLS_client_method());
	if (!t->ssl)
		goto fail;
	if (!SSL_CTX_set_min_proto_version(t->ssl, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(t->ssl, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(t->ssl, CIPHER_NAME)) {
		rc = -EIO;
		goto fail;
	}
	/* SSL_CIPHER_find wants an SSL: borrow a throwaway one. */
	tmp = SSL_new(t->ssl);
	if (!tmp)
		goto fail;
	t->cipher = SSL_CIPHER_find(tmp, cipher_id);
	SSL_free(tmp);
	if (!t->cipher) {
		rc = -EIO;
		goto fail;
	}
	SSL_CTX_set_options(t->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF |
			    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(t->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_app_data(t->ssl, t);
	if (role == TLS_SERVER) {
		SSL_CTX_set_num_tickets(t->ssl, 0);
		SSL_CTX_set_psk_find_session_callback(t->ssl,
						      find_session_cb);
	} else {
		/* No trusted certificates at all: a server that does not
		 * take our PSK and shows a certificate instead fails. */
		SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_psk_use_session_callback(t->ssl, use_session_cb);
	}
	OPENSSL_cleanse(data, sizeof(data));
	*out = t;
	return 0;
fail:
	OPENSSL_cleanse(data, sizeof(data));
	tls_ctx_free(t);
	ERR_clear_error();
	return rc;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ssl);
	OPENSSL_cleanse(t->psk, sizeof(t->psk));
	free(t);
}

/* ---- sockets ----------------------------------------------------------- */

static void sock_tune(int fd)
{
	int one = 1, v;

	/* Requests are small and latency-bound. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	v = KEEPIDLE_S;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	v = KEEPINTVL_S;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
	v = KEEPCNT;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
	v = USER_TIMEOUT_MS;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "?");
	}
}

int tls_listen(const char *addr, uint16_t port, int *out)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[8];
	int fd = -1, one = 1, rc, gai;

	*out = -1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	gai = getaddrinfo(addr, portstr, &hints, &res);
	if (gai) {
		log_err("listen on '%s': %s", addr ? addr : "*",
			gai_strerror(gai));
		return gai == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	}
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (rc) {
		log_err("listen on '%s' port %u: %s", addr ? addr : "*",
			(unsigned)port, strerror(-rc));
		return rc;
	}
	*out = fd;
	return 0;
}

uint16_t tls_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

int tls_accept_fd(int listen_fd, int timeout_ms, int *out, char *peer,
		  size_t peerlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc;

	*out = -1;
	for (;;) {
		len = sizeof(ss);
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = wait_fd(listen_fd, POLLIN, deadline);
		if (rc)
			return rc;
	}
	sock_tune(fd);
	if (peer)
		addr_text((struct sockaddr *)&ss, peer, peerlen);
	*out = fd;
	return 0;
}

/* ---- a socket BIO that never raises SIGPIPE --------------------------- */

/*
 * OpenSSL's socket BIO writes with write(2): a peer that went away would
 * kill the process with SIGPIPE. This BIO uses send(MSG_NOSIGNAL) instead,
 * so the library needs no process-wide signal setting. Its data is the
 * connection (which outlives it).
 */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_fd(BIO *b)
{
	return *(int *)BIO_get_data(b);
}

static int nosig_write(BIO *b, const char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(nosig_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(nosig_fd(b), buf, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		BIO_set_retry_read(b);
	else if (n == 0)
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:	/* SSL_OP_IGNORE_UNEXPECTED_EOF asks this */
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	default:
		return 0;
	}
}

static int nosig_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void nosig_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
				     BIO_TYPE_DESCRIPTOR, "csvfs socket");

	if (m && BIO_meth_set_write(m, nosig_write) &&
	    BIO_meth_set_read(m, nosig_read) &&
	    BIO_meth_set_ctrl(m, nosig_ctrl) &&
	    BIO_meth_set_create(m, nosig_create)) {
		nosig_method = m;
		return;
	}
	BIO_meth_free(m);
}

/* ---- connections ------------------------------------------------------ */

static struct tls_conn *conn_new(struct tls_ctx *t, int fd, const char *peer)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	BIO *bio;

	if (!c)
		return NULL;
	pthread_once(&nosig_once, nosig_init);
	c->fd = fd;
	c->ssl = SSL_new(t->ssl);
	bio = nosig_method ? BIO_new(nosig_method) : NULL;
	if (!c->ssl || !bio) {
		BIO_free(bio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_data(bio, &c->fd);
	SSL_set_bio(c->ssl, bio, bio);
	c->send_ms = DEFAULT_SEND_MS;
	c->recv_ms = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	pthread_mutex_init(&c->ssl_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	SSL_set_app_data(c->ssl, c);
	return c;
}

static void conn_free(struct tls_conn *c, int close_fd)
{
	SSL_free(c->ssl);
	if (close_fd)
		close(c->fd);
	pthread_mutex_destroy(&c->ssl_lock);
	pthread_mutex_destroy(&c->send_lock);
	free(c);
}

/* The first OpenSSL error of this thread as text, for logs. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();

	if (!e)
		return "connection closed";
	ERR_error_string_n(e, buf, len);
	return buf;
}

/*
 * Did the handshake end because the peer closed the connection (EOF or a
 * reset, no TLS alert)? A wrong key ends with an alert instead: the side
 * that cannot find the PSK answers handshake_failure or decrypt_error.
 */
static int peer_closed(int ssl_err, int sys_err)
{
	unsigned long e;

	if (ssl_err == SSL_ERROR_ZERO_RETURN)
		return 1;
	if (ssl_err == SSL_ERROR_SYSCALL)
		return !ERR_peek_error() && (!sys_err || sys_err == EPIPE ||
					     sys_err == ECONNRESET);
	if (ssl_err != SSL_ERROR_SSL)
		return 0;
	e = ERR_peek_error();
	return ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

static int handshake(struct tls_ctx *t, struct tls_conn *c, int64_t deadline)
{
	char why[160];
	int r, e, err, rc;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = t->role == TLS_SERVER ? SSL_accept(c->ssl) :
					    SSL_connect(c->ssl);
		if (r == 1)
			break;
		err = errno;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ?
				     POLLIN : POLLOUT, deadline);
			if (rc == -ETIMEDOUT)
				log_warn("%s %s: handshake timed out",
					 t->role == TLS_SERVER ?
					 "refused connection from" :
					 "connection to", c->peer);
			if (rc)
				return rc;
			continue;
		}
		c->broken = 1;
		if (e == SSL_ERROR_SYSCALL && err && err != EPIPE &&
		    !ERR_peek_error())
			rc = -err;
		else if (peer_closed(e, err))
			/*
			 * The peer hung up mid-handshake: a coordinator that
			 * resigns closes its listener and the connections
			 * being accepted. That is not a wrong key, and a
			 * mounting node that took it for one gave up instead
			 * of following the next election (issue 15).
			 */
			rc = -ECONNRESET;
		else
			rc = -EACCES;
		/* A client's caller logs (and rate-limits) its retries. */
		if (t->role == TLS_SERVER)
			log_warn("refused connection from %s: "
				 "handshake failed (wrong cluster key?): %s",
				 c->peer, ssl_reason(why, sizeof(why)));
		else
			log_debug("connection to %s: handshake failed: %s",
				  c->peer, ssl_reason(why, sizeof(why)));
		ERR_clear_error();
		return rc;
	}
	/* Only the PSK may have authenticated the peer. */
	if (!SSL_session_reused(c->ssl) ||
	    SSL_version(c->ssl) != TLS1_3_VERSION) {
		log_warn("%s %s: handshake without the cluster key",
			 t->role == TLS_SERVER ? "refused connection from" :
			 "connection to", c->peer);
		c->broken = 1;
		return -EACCES;
	}
	return 0;
}

int tls_handshake_fd(struct tls_ctx *t, int fd, const char *peer,
		     int timeout_ms, struct tls_conn **out)
{
	struct tls_conn *c;
	int rc;

	*out = NULL;
	c = conn_new(t, fd, peer ? peer : "?");
	if (!c)
		return -ENOMEM;
	rc = handshake(t, c, deadline_of(timeout_ms));
	if (rc) {
		conn_free(c, 0);
		return rc;
	}
	*out = c;
	return 0;
}

int tls_accept(struct tls_ctx *t, int listen_fd, int timeout_ms,
	       struct tls_conn **out)
{
	char peer[PEER_MAX];
	int fd, rc;

	*out = NULL;
	rc = tls_accept_fd(listen_fd, timeout_ms, &fd, peer, sizeof(peer));
	if (rc)
		return rc;
	rc = tls_handshake_fd(t, fd, peer, timeout_ms, out);
	if (rc)
		close(fd);
	return rc;
}

static int tcp_connect(const char *host, uint16_t port, int64_t deadline,
		       int *out)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[8];
	socklen_t len;
	int fd = -1, rc, err, gai;

	*out = -1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rc = -errno;
		if (rc == -EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			len = sizeof(err);
			if (!rc && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
					      &len) == 0)
				rc = -err;
			if (!rc)
				break;
		}
		close(fd);
		fd = -1;
		if (rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return rc;
	sock_tune(fd);
	*out = fd;
	return 0;
}

int tls_connect(struct tls_ctx *t, const char *host, uint16_t port,
		int timeout_ms, struct tls_conn **out)
{
	int64_t deadline = deadline_of(timeout_ms);
	char peer[PEER_MAX];
	struct tls_conn *c;
	int fd, rc;

	*out = NULL;
	if (t->role != TLS_CLIENT)
		return -EINVAL;
	rc = tcp_connect(host, port, deadline, &fd);
	if (rc)
		return rc;
	snprintf(peer, sizeof(peer), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 host, (unsigned)port);
	c = conn_new(t, fd, peer);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	rc = handshake(t, c, deadline);
	if (rc) {
		conn_free(c, 1);
		return rc;
	}
	*out = c;
	return 0;
}

void tls_set_timeouts(struct tls_conn *c, int send_ms, int recv_ms)
{
	c->send_ms = send_ms;
	c->recv_ms = recv_ms;
}

/*
 * One SSL_read or SSL_write under ssl_lock. Returns bytes moved (> 0),
 * or 0 with *want set to POLLIN/POLLOUT, or a negative errno.
 */
static int ssl_io(struct tls_conn *c, int writing, void *buf, size_t len,
		  short *want)
{
	int n, e, err = 0, rc;
	int chunk = len > INT_MAX ? INT_MAX : (int)len;

	*want = 0;
	if (atomic_load(&c->shut))
		return -ECONNRESET;
	pthread_mutex_lock(&c->ssl_lock);
	if (c->broken) {
		pthread_mutex_unlock(&c->ssl_lock);
		return -ECONNRESET;
	}
	ERR_clear_error();
	errno = 0;
	n = writing ? SSL_write(c->ssl, buf, chunk) :
		      SSL_read(c->ssl, buf, chunk);
	err = errno;
	e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, n);
	switch (e) {
	case SSL_ERROR_NONE:
		rc = n;
		break;
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		rc = 0;
		break;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		rc = 0;
		break;
	case SSL_ERROR_ZERO_RETURN:
		rc = -ENOTCONN;
		break;
	case SSL_ERROR_SYSCALL:
		c->broken = 1;
		rc = err && !ERR_peek_error() ? -err : -ECONNRESET;
		if (rc == -EPIPE)
			rc = -ECONNRESET;
		break;
	default:
		c->broken = 1;
		rc = -EPROTO;
		break;
	}
	ERR_clear_error();
	pthread_mutex_unlock(&c->ssl_lock);
	return rc;
}

int tls_send_all(struct tls_conn *c, const void *buf, size_t len)
{
	int64_t deadline = deadline_of(c->send_ms);
	const uint8_t *p = buf;
	size_t off = 0;
	short want;
	int rc = 0;

	pthread_mutex_lock(&c->send_lock);
	while (off < len) {
		rc = ssl_io(c, 1, (void *)(p + off), len - off, &want);
		if (rc > 0) {
			off += (size_t)rc;
			rc = 0;
			continue;
		}
		if (rc == -ENOTCONN)
			rc = -ECONNRESET;
		if (rc)
			break;
		rc = wait_fd(c->fd, want, deadline);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&c->send_lock);
	return rc;
}

int tls_recv_all(struct tls_conn *c, void *buf, size_t len)
{
	int64_t deadline = deadline_of(c->recv_ms);
	uint8_t *p = buf;
	size_t off = 0;
	short want;
	int rc;

	while (off < len) {
		rc = ssl_io(c, 0, p + off, len - off, &want);
		if (rc > 0) {
			off += (size_t)rc;
			continue;
		}
		if (rc == -ENOTCONN && off)
			rc = -ECONNRESET;
		if (rc)
			return rc;
		rc = wait_fd(c->fd, want, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

void tls_shutdown(struct tls_conn *c)
{
	atomic_store(&c->shut, 1);
	shutdown(c->fd, SHUT_RDWR);
}

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->ssl_lock);
	if (!c->broken && !atomic_load(&c->shut)) {
		/* close_notify, without waiting for the peer's. */
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	pthread_mutex_unlock(&c->ssl_lock);
	conn_free(c, 1);
}

const char *tls_peer(const struct tls_conn *c)
{
	return c->peer;
}

/*
 * tls: TCP + TLS 1.3 between csvfs nodes, mutually authenticated by the
 * cluster key (net/keyfile.h) used as an external pre-shared key. No
 * certificates: a peer proves it holds the key by completing the handshake
 * (the PSK binder and the Finished messages are MACs under it), and the
 * (EC)DHE exchange of psk_dhe_ke still gives forward secrecy.
 *
 * The PSK is HMAC-SHA256(cluster key, "csvfs tls psk v1" || identity) and
 * the PSK identity is the volume's ("csvfs-<uuid hex>"), so a key or an
 * identity meant for another volume fails the handshake just like a wrong
 * key.
 *
 * A connection may be used by one reading thread and any number of writing
 * threads at once: each tls_send_all is sent whole, without interleaving,
 * and SSL calls are serialized inside; waits happen in poll() with no lock
 * held, so a blocked reader never holds up a writer.
 *
 * All functions return 0 or a negative errno:
 *   -ETIMEDOUT      the timeout passed
 *   -EACCES         the handshake failed (wrong key or identity, or a peer
 *                   that is not csvfs)
 *   -ENOTCONN       the peer closed the connection cleanly before the
 *                   first byte of a tls_recv_all
 *   -ECONNRESET     the connection broke (or closed inside a message)
 *   -EPROTO         a TLS protocol error
 *   -errno          of the failing socket call
 */
#ifndef CSVFS_TLS_H
#define CSVFS_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_KEY_LEN	32
#define TLS_PSK_LABEL	"csvfs tls psk v1"

enum tls_role {
	TLS_SERVER,
	TLS_CLIENT,
};

struct tls_ctx;
struct tls_conn;

/* "csvfs-" + 32 hex digits + NUL */
#define TLS_IDENTITY_SIZE	39

/* The PSK identity of a volume: "csvfs-<uuid as 32 lowercase hex>". */
void tls_identity(const uint8_t uuid[16], char out[TLS_IDENTITY_SIZE]);

/*
 * A context for one role, key and identity; shared by all connections of
 * that role (thread-safe). The key is not kept, only the derived PSK.
 */
int tls_ctx_new(enum tls_role role, const uint8_t key[TLS_KEY_LEN],
		const char *identity, struct tls_ctx **out);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * A listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec) bound
 * to addr ("127.0.0.1", "::", NULL = any IPv4/IPv6 address) and port (0 =
 * ephemeral; tls_local_port tells which).
 */
int tls_listen(const char *addr, uint16_t port, int *fd);
/* The local port of a bound socket, 0 on error. */
uint16_t tls_local_port(int fd);

/*
 * Accepts one connection from listen_fd (waiting up to timeout_ms, -1 =
 * forever) and runs the server handshake on it (up to timeout_ms again).
 * A refused handshake is logged as "refused connection from ADDR:
 * handshake failed (wrong cluster key?)" and returns -EACCES.
 */
int tls_accept(struct tls_ctx *ctx, int listen_fd, int timeout_ms,
	       struct tls_conn **out);
/*
 * Only the raw accept: a connected non-blocking fd and the peer's address
 * as text ("127.0.0.1:40312", "[::1]:40312"). For servers that run the
 * handshake in the connection's own thread.
 */
int tls_accept_fd(int listen_fd, int timeout_ms, int *fd, char *peer,
		  size_t peerlen);
/*
 * Server handshake on an accepted fd. On success the connection owns the
 * fd; on failure the fd is left open for the caller to close.
 */
int tls_handshake_fd(struct tls_ctx *ctx, int fd, const char *peer,
		     int timeout_ms, struct tls_conn **out);

/*
 * Connects to host:port (a name or address; every resolved address is
 * tried in turn) and runs the client handshake, all within timeout_ms.
 */
int tls_connect(struct tls_ctx *ctx, const char *host, uint16_t port,
		int timeout_ms, struct tls_conn **out);

/*
 * Timeouts of the waits inside tls_send_all and tls_recv_all (-1 =
 * forever, the default for reads; sends default to 30 s). Call before the
 * connection is shared.
 */
void tls_set_timeouts(struct tls_conn *c, int send_ms, int recv_ms);

/* Sends all len bytes, whole: concurrent senders do not interleave. */
int tls_send_all(struct tls_conn *c, const void *buf, size_t len);
/* Reads exactly len bytes. One reader at a time. */
int tls_recv_all(struct tls_conn *c, void *buf, size_t len);

/*
 * Shuts the TCP connection down without freeing it: blocked and later
 * sends and receives fail at once. Any thread, any time before
 * tls_close; used to wake a reader so that it can be joined.
 */
void tls_shutdown(struct tls_conn *c);
/* Sends close_notify (best effort, no waiting), closes and frees. */
void tls_close(struct tls_conn *c);

/* The peer's address as text, for log lines. */
const char *tls_peer(const struct tls_conn *c);

#endif /* CSVFS_TLS_H */

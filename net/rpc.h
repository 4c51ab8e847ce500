/*
 * rpc: framed request/reply messages of include/csvfs/proto.h over TLS
 * connections (net/tls.h), between the nodes' metadata clients and the
 * coordinator.
 *
 * Frame: the 64-byte header (msg_hdr_encode) then exactly header.length
 * payload bytes. A receiver decodes and checks the header (magic, version,
 * length <= CSVFS_MSG_MAX_PAYLOAD, status range) before it allocates or
 * reads the payload; a frame that fails the check closes the connection
 * with a log line naming the peer and the cause.
 *
 * Requests carry flags 0; replies CSVFS_MSGF_REPLY with the request's type,
 * req_id, seq and node_id and the handler's status; pushes (coordinator to
 * node, e.g. invalidations) CSVFS_MSGF_PUSH.
 *
 * Server: an acceptor thread, one thread per connection that runs the TLS
 * handshake and reads requests, and optionally a pool of handler threads.
 * Client: one connection, one reader thread that demultiplexes replies by
 * req_id, so any number of threads may call at once; a broken connection is
 * re-established and the unanswered requests are sent again, unchanged
 * (same req_id and seq: the coordinator recognizes a retry by node, seq).
 */
#ifndef CSVFS_RPC_H
#define CSVFS_RPC_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct mdc_transport;
struct rpc_server;
struct rpc_client;

/*
 * A request handler, shaped as mds_dispatch: payload has h->length bytes;
 * on return *reply (malloc'd, may be NULL) holds reply_len bytes, sent
 * back and freed by the server. Returns the reply status: 0 or a negative
 * errno (an unknown type: -EOPNOTSUPP). A status outside [-4095, 0] is sent
 * as -EIO. Called from connection or pool threads, concurrently.
 */
typedef int (*rpc_handler_fn)(void *ctx, const struct csvfs_msg_hdr *h,
			      const uint8_t *payload, uint8_t **reply,
			      size_t *reply_len);

struct rpc_server_opts {
	const char *addr;	/* bind address ("10.0.0.1"); NULL = all */
	uint16_t port;		/* 0 = ephemeral: see rpc_server_port */
	const uint8_t *key;	/* cluster key, 32 bytes (not kept) */
	const char *identity;	/* PSK identity: "csvfs-<uuid hex>" */
	rpc_handler_fn handle;
	void *ctx;		/* handle's first argument */
	unsigned max_conns;	/* connection threads; 0 = 64; more are
				 * refused with a log line */
	/*
	 * Handler threads shared by all connections. 0: each connection's
	 * thread runs its requests itself, one at a time, in arrival order.
	 * N > 0: up to N requests run at once, even from one node, and
	 * replies may overtake each other (the client does not mind; the
	 * handler must then treat seq as a set, not a high-water mark).
	 */
	unsigned workers;
	/*
	 * Request types (bit 1 << type) handled at once on the connection's
	 * own thread, never queued behind other requests: short handlers
	 * that others wait for (acknowledgements). Such requests do not make
	 * their connection the node's push target.
	 */
	uint64_t inline_types;
};

/*
 * Binds, listens and starts the threads. Returns 0, -EINVAL, -ENOMEM or
 * the bind/listen error (logged).
 */
int rpc_server_start(const struct rpc_server_opts *o, struct rpc_server **out);
/* The port the server listens on (the ephemeral one when port was 0). */
uint16_t rpc_server_port(const struct rpc_server *s);
/*
 * Sends a push message to the connection that most recently sent a
 * request with h->node_id == node_id. The header is copied; flags get
 * CSVFS_MSGF_PUSH; magic, version and length (h->length bytes of payload)
 * are checked/filled. Returns 0, -ENOTCONN (no such node connected),
 * -E2BIG, or the send error (the connection is then closed). Any thread;
 * blocks at most the send timeout (10 s) on a node that does not read.
 */
int rpc_server_push(struct rpc_server *s, uint32_t node_id,
		    const struct csvfs_msg_hdr *h, const void *payload);
/* Number of connections that completed the handshake and are open. */
unsigned rpc_server_nconns(struct rpc_server *s);
/*
 * Stops accepting, closes every connection, waits for the running handlers
 * and joins every thread. Requests not yet handled are dropped (their
 * clients resend them elsewhere). Not from a handler.
 */
void rpc_server_stop(struct rpc_server *s);

/*
 * A client for the coordinator at host:port. Returns at once: the
 * connection is made (and remade) by the client's reader thread; calls
 * wait for it. Returns 0, -EINVAL or -ENOMEM.
 */
int rpc_client_new(const char *host, uint16_t port, const uint8_t *key,
		   const char *identity, uint32_t node_id,
		   struct rpc_client **out);
/* Closes the connection and joins the reader. No call may be running. */
void rpc_client_free(struct rpc_client *c);
/*
 * The mdc transport of this client. Its call() sets node_id, req_id,
 * magic, version and flags of the header (seq, incarnation, epoch and
 * type are the caller's), sends, and waits for the reply: 0 or the reply
 * status with *reply malloc'd; or -ETIMEDOUT when no reply came within
 * the client's timeout (30 s by default, reconnects and resends
 * included), -E2BIG, -ENOMEM, -ESHUTDOWN (client being freed). Any thread,
 * concurrently.
 */
void rpc_client_transport(struct rpc_client *c, struct mdc_transport *t);
/* The call timeout in ms (default 30000). */
void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms);
/*
 * Waits until the client is connected: 0; -EACCES at once when the
 * coordinator refused our key; after timeout_ms the last connect error
 * (-ECONNREFUSED...) or -ETIMEDOUT.
 */
int rpc_client_wait_connected(struct rpc_client *c, int timeout_ms);
/*
 * Push handler: called on the reader thread for each PUSH message, with
 * the payload valid during the call. It must not wait for an RPC of this
 * client (the reader would be waiting for itself).
 */
typedef void (*rpc_push_fn)(void *ctx, const struct csvfs_msg_hdr *h,
			    const uint8_t *payload);
void rpc_client_set_push_handler(struct rpc_client *c, rpc_push_fn fn,
				 void *ctx);
/*
 * Connection handler: called on the reader thread with connected = 1 after
 * each (re)connect and 0 when the connection is lost. Pushes sent while the
 * node was disconnected are lost, so a node drops its caches on a
 * reconnect. Same rule as the push handler.
 */
typedef void (*rpc_conn_fn)(void *ctx, int connected);
void rpc_client_set_conn_handler(struct rpc_client *c, rpc_conn_fn fn,
				 void *ctx);
/*
 * The coordinator moved: drop the current connection and connect to
 * host:port; unanswered calls are resent there. Any thread.
 */
int rpc_client_retarget(struct rpc_client *c, const char *host, uint16_t port);

#endif /* CSVFS_RPC_H */

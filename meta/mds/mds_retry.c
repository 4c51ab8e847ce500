/*
 * mds_retry: answering a retried request as the first time.
 *
 * A node resends a request, unchanged, when its connection broke or the
 * coordinator changed before the reply came (net/rpc.h). For the request
 * types of CSVFS_MSG_RECORDED_MASK (include/csvfs/proto.h) the coordinator
 * writes a record {seq, type, reply} into the node's client slot in the
 * same operation as the request's own changes, so both are durable
 * together or not at all. A request whose record is found (same node,
 * incarnation, seq and type) is not run again: the recorded reply is sent.
 * Only successes are recorded: a failed request changed nothing, and runs
 * again. A reply too long to record (an ALLOC with many extents) marks the
 * record CSVFS_CREC_LONG and the request runs again, which for ALLOC finds
 * the blocks already allocated and returns the same map.
 */
#include <errno.h>
#include <string.h>

#include "meta/jrnl.h"
#include "meta/mds/mds_i.h"
#include "meta/ondisk.h"

static int slot_of(struct mds_req *r, uint64_t *mblk)
{
	uint32_t node = r->hdr->node_id;

	if (node < 1 || node > r->m->sb.max_nodes || !r->hdr->seq)
		return -ENOENT;
	*mblk = r->m->sb.client_mblk + node - 1;
	return 0;
}

int mds_retry_find(struct mds_req *r)
{
	struct csvfs_client cl;
	struct mbuf *mb;
	uint64_t mblk;
	unsigned i;
	int rc;

	if (!csvfs_msg_recorded(r->hdr->type) || slot_of(r, &mblk))
		return 0;
	rc = jop_read(r->op, mblk, CSVFS_MAGIC_CLIENT, &mb);
	if (rc)
		return 0;	/* a damaged slot only loses retries (fsck) */
	od_client_decode(mb->data, &cl);
	if (cl.node_id != r->hdr->node_id ||
	    cl.incarnation != r->hdr->incarnation)
		return 0;
	for (i = 0; i < CSVFS_CLIENT_RECS; i++) {
		const struct csvfs_client_rec *rec = &cl.rec[i];

		if (rec->seq != r->hdr->seq || rec->type != r->hdr->type ||
		    (rec->flags & CSVFS_CREC_LONG) ||
		    rec->reply_len > CSVFS_CLIENT_REPLY_MAX)
			continue;
		msg_put_raw(&r->out, rec->reply, rec->reply_len);
		return r->out.err ? r->out.err : 1;
	}
	return 0;
}

int mds_retry_record(struct mds_req *r)
{
	struct csvfs_client cl;
	struct csvfs_client_rec *rec;
	struct mbuf *mb;
	uint64_t mblk;
	int rc;

	if (!csvfs_msg_recorded(r->hdr->type) || slot_of(r, &mblk))
		return 0;
	rc = jop_read(r->op, mblk, CSVFS_MAGIC_CLIENT, &mb);
	if (!rc)
		rc = jop_write(r->op, mb);
	if (rc)
		return rc;
	od_client_decode(mb->data, &cl);
	if (cl.node_id != r->hdr->node_id ||
	    cl.incarnation != r->hdr->incarnation ||
	    cl.next >= CSVFS_CLIENT_RECS) {
		/* A new mount of that node: its old records are stale. */
		memset(cl.rec, 0, sizeof(cl.rec));
		cl.node_id = r->hdr->node_id;
		cl.incarnation = r->hdr->incarnation;
		cl.next = 0;
	}
	rec = &cl.rec[cl.next];
	memset(rec, 0, sizeof(*rec));
	rec->seq = r->hdr->seq;
	rec->type = r->hdr->type;
	if (r->out.len <= CSVFS_CLIENT_REPLY_MAX) {
		rec->reply_len = (uint16_t)r->out.len;
		if (r->out.len)
			memcpy(rec->reply, r->out.p, r->out.len);
	} else {
		rec->flags = CSVFS_CREC_LONG;
	}
	cl.next = (cl.next + 1) % CSVFS_CLIENT_RECS;
	od_client_encode(&cl, mb->data);
	return 0;
}

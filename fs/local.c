/* local: a client transport that calls the coordinator directly. */
#include "fs/local.h"

static int local_call(void *ctx, struct csvfs_msg_hdr *hdr,
		      const void *payload, uint8_t **reply, size_t *reply_len)
{
	return mds_dispatch(ctx, hdr, payload, reply, reply_len);
}

void local_transport(struct mds *m, struct mdc_transport *t)
{
	t->call = local_call;
	t->ctx = m;
}

/*
 * status: the daemon's status object (see status.h). Appends through one
 * bounded writer that remembers an overflow, so a long member list or
 * label fails as a whole with -ERANGE instead of a cut-off object.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/status.h"
#include "meta/ondisk.h"
#include "net/mcache.h"

struct sbuf {
	char *p;
	size_t size, len;
	int over;
};

static void put(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->len)
		b->over = 1;
	else
		b->len += (size_t)n;
}

/* s as a JSON string: quotes, backslashes and control bytes escaped. */
static void put_str(struct sbuf *b, const char *s)
{
	put(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			put(b, "\\u%04x", c);
		else
			put(b, "%c", c);
	}
	put(b, "\"");
}

int status_json(const struct status_view *v, char *out, size_t size)
{
	struct sbuf b = { out, size, 0, size == 0 };
	char uuid[OD_UUID_STR_LEN];
	size_t i;

	od_uuid_str(v->uuid, uuid);
	put(&b, "{\"mode\":");
	put_str(&b, v->mode);
	put(&b, ",\"volume\":{\"uuid\":\"%s\",\"label\":", uuid);
	put_str(&b, v->label ? v->label : "");
	put(&b, ",\"block_size\":%llu},\"node\":%u,\"quorate\":%s,"
	    "\"coordinator\":{\"node\":%u,\"target\":%u,\"preferred\":%u,"
	    "\"self\":%s},\"members\":[", (unsigned long long)v->block_size,
	    v->node, v->quorate ? "true" : "false", v->coord, v->target,
	    v->preferred, v->self ? "true" : "false");
	for (i = 0; i < v->nmembers; i++)
		put(&b, "%s{\"node\":%u,\"state\":\"%s\"}", i ? "," : "",
		    v->members[i], v->members[i] == v->coord ? "coordinator" :
		    "member");
	put(&b, "]");
	if (v->cache)
		put(&b, ",\"cache\":{\"hits\":%llu,\"misses\":%llu,"
		    "\"fills\":%llu,\"invalidations\":%llu,\"entries\":%llu}",
		    (unsigned long long)v->cache->hits,
		    (unsigned long long)v->cache->misses,
		    (unsigned long long)v->cache->fills,
		    (unsigned long long)v->cache->invals,
		    (unsigned long long)v->cache->entries);
	put(&b, "}");
	return b.over ? -ERANGE : (int)b.len;
}

/*
 * nodeview: the node table of `csvfsctl nodes` (see nodeview.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csvfs/ondisk.h"
#include "fs/nodeview.h"
#include "lockd/hb.h"
#include "meta/dev.h"
#include "meta/format.h"

static struct nodeview_row *row_find(struct nodeview *v, uint32_t node)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->rows[i].node == node)
			return &v->rows[i];
	return NULL;
}

/* Appends a row for node, kept in node id order. NULL on ENOMEM. */
static struct nodeview_row *row_add(struct nodeview *v, uint32_t node)
{
	struct nodeview_row *rows, *r;
	size_t i;

	rows = realloc(v->rows, (v->n + 1) * sizeof(*rows));
	if (!rows)
		return NULL;
	v->rows = rows;
	for (i = v->n; i > 0 && rows[i - 1].node > node; i--)
		rows[i] = rows[i - 1];
	v->n++;
	r = &rows[i];
	memset(r, 0, sizeof(*r));
	r->node = node;
	r->hb_state = ~0u;
	r->hb_age_ms = -1;
	return r;
}

int nodeview_read_slots(const char *device, uint64_t now_ns,
			struct nodeview *v)
{
	struct csvfs_super sb;
	struct dev *d = NULL;
	struct csvfs_hb hb;
	struct nodeview_row *r;
	uint32_t s;
	int rc;

	rc = dev_open(device, DEV_RDONLY, &d);
	if (rc)
		return rc;
	rc = fmt_read_super(d, &sb);
	for (s = 0; !rc && s < sb.max_nodes; s++) {
		/* An unreadable slot is no news: skip it, as hb_watch does. */
		if (hb_read(d, &sb, s, &hb) || !hb.node_id ||
		    hb.state == CSVFS_HB_FREE)
			continue;
		r = row_find(v, hb.node_id);
		if (!r)
			r = row_add(v, hb.node_id);
		if (!r) {
			rc = -ENOMEM;
			break;
		}
		r->hb_state = hb.state;
		r->hb_counter = hb.counter;
		r->hb_age_ms = now_ns > hb.timestamp_ns ?
			       (int64_t)((now_ns - hb.timestamp_ns) / 1000000) : 0;
		memcpy(r->host, hb.hostname, sizeof(r->host) - 1);
		r->host[sizeof(r->host) - 1] = '\0';
	}
	dev_close(d);
	return rc;
}

int nodeview_judge(struct nodeview *v, const uint32_t *members,
		   size_t nmembers)
{
	struct nodeview_row *r;
	size_t i;
	int in_use, stale;

	for (i = 0; i < nmembers; i++) {
		r = row_find(v, members[i]);
		if (!r)
			r = row_add(v, members[i]);
		if (!r)
			return -ENOMEM;
		r->member = 1;
	}
	for (i = 0; i < v->n; i++) {
		r = &v->rows[i];
		r->self = r->node == v->self;
		r->coordinator = v->coord && r->node == v->coord;
		in_use = r->hb_state == CSVFS_HB_CLUSTER ||
			 r->hb_state == CSVFS_HB_STANDALONE;
		stale = in_use && r->hb_age_ms >= NODEVIEW_STALE_MS;
		r->dead = in_use && !r->member &&
			  r->hb_age_ms >= CSVFS_HB_DEAD_MS;
		r->fenced = (r->self && v->cluster && !v->quorate) ||
			    (stale && !r->dead);
	}
	return 0;
}

void nodeview_add_owned(struct nodeview *v, uint32_t node)
{
	struct nodeview_row *r = row_find(v, node);

	if (r)
		r->owned++;
}

static const char *slot_state(uint32_t st)
{
	switch (st) {
	case CSVFS_HB_STANDALONE:
		return "standalone";
	case CSVFS_HB_CLUSTER:
		return "cluster";
	case CSVFS_HB_LEFT:
		return "left";
	case ~0u:
		return "none";
	default:
		return "unknown";
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *yes_no(int b)
{
	return b ? "yes" : "no";
}

void nodeview_print(const struct nodeview *v, int json, FILE *f)
{
	const struct nodeview_row *r;
	char age[32];
	size_t i;

	if (json) {
		fprintf(f, "{\"mode\": \"%s\", \"node\": %u, \"quorate\": %s, "
			"\"coordinator\": %u, \"nodes\": [",
			v->cluster ? "cluster" : "standalone", v->self,
			v->quorate ? "true" : "false", v->coord);
		for (i = 0; i < v->n; i++) {
			r = &v->rows[i];
			fprintf(f, "%s\n    {\"node\": %u, \"host\": ",
				i ? "," : "", r->node);
			json_str(f, r->host);
			fprintf(f, ", \"slot\": \"%s\", \"heartbeat\": %llu, "
				"\"heartbeat_age_ms\": %lld, \"member\": %s, "
				"\"fenced\": %s, \"dead\": %s, "
				"\"coordinator\": %s, \"self\": %s, "
				"\"owned_files\": %u}",
				slot_state(r->hb_state),
				(unsigned long long)r->hb_counter,
				(long long)r->hb_age_ms,
				r->member ? "true" : "false",
				r->fenced ? "true" : "false",
				r->dead ? "true" : "false",
				r->coordinator ? "true" : "false",
				r->self ? "true" : "false", r->owned);
		}
		fprintf(f, "%s]}", v->n ? "\n" : "");
		return;
	}
	fprintf(f, "%-5s %-16s %-10s %9s %-6s %-6s %-4s %-5s %5s\n", "NODE",
		"HOST", "SLOT", "HB AGE", "MEMBER", "FENCED", "DEAD", "COORD",
		"OWNS");
	for (i = 0; i < v->n; i++) {
		r = &v->rows[i];
		if (r->hb_age_ms < 0)
			snprintf(age, sizeof(age), "-");
		else
			snprintf(age, sizeof(age), "%.1f s",
				 (double)r->hb_age_ms / 1000.0);
		fprintf(f, "%-5u %-16.16s %-10s %9s %-6s %-6s %-4s %-5s %5u%s\n",
			r->node, r->host[0] ? r->host : "-",
			slot_state(r->hb_state), age, yes_no(r->member),
			yes_no(r->fenced), yes_no(r->dead), yes_no(r->coordinator),
			r->owned, r->self ? "  (this node)" : "");
	}
}

void nodeview_free(struct nodeview *v)
{
	free(v->rows);
	v->rows = NULL;
	v->n = 0;
}

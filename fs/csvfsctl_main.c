/*
 * csvfsctl: the administrator's tool. Human tables by default, --json for
 * machines.
 *
 *   csvfsctl [--json] status [MOUNTPOINT]
 *   csvfsctl [--json] nodes [MOUNTPOINT]
 *   csvfsctl keygen [--force] [FILE]
 *   csvfsctl coordinator move NODE [MOUNTPOINT]
 *   csvfsctl handoff FILE NODE [--from NODE]
 *   csvfsctl [--json] locks [PATH]
 *   csvfsctl multiwriter on|off FILE
 *   csvfsctl strict on|off FILE
 *   csvfsctl [--json] df [MOUNTPOINT]
 *   csvfsctl reserve FILE [SIZE]
 *   csvfsctl preallocate --zero FILE [SIZE]
 *   csvfsctl grow [MOUNTPOINT]
 *
 * status: size and use of one csvfs mount (or of every csvfs mount in
 * /proc/self/mounts), with the volume, the coordinator and the members as
 * the mounting daemon sees them. The daemon answers through a virtual
 * xattr of the mount's root, "trusted.csvfs.status" (a JSON object);
 * "coordinator move" writes "trusted.csvfs.move". The file ownership
 * commands go through fs/client_api.h (xattrs of the file itself); the
 * space commands through the xattrs of fs/fsops.h (FSOPS_XA_RESERVE...).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <linux/fs.h>
#include <mntent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "csvfs/size.h"
#include "fs/client_api.h"
#include "fs/nodeview.h"
#include "net/keyfile.h"

#define CSVFS_FSTYPE	"fuse.csvfs"

struct ctl {
	int json;
	int single;	/* one mount asked for: print its object alone */
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *help;
};

static void usage(FILE *f);

/* ---- status ------------------------------------------------------------- */

struct mount_info {
	char *source;
	char *dir;
};

/*
 * Reads mounts from mf up to the next csvfs mount (on dir, if not NULL).
 * Returns 1 with *mi filled, 0 at the end, -ENOMEM.
 */
static int mount_find(const char *dir, FILE *mf, struct mount_info *mi)
{
	struct mntent *m;

	while ((m = getmntent(mf))) {
		if (strcmp(m->mnt_type, CSVFS_FSTYPE))
			continue;
		if (dir && strcmp(m->mnt_dir, dir))
			continue;
		mi->source = strdup(m->mnt_fsname);
		mi->dir = strdup(m->mnt_dir);
		if (!mi->source || !mi->dir)
			return -ENOMEM;
		return 1;
	}
	return 0;
}

static void human(uint64_t v, char *buf, size_t size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double d = (double)v;
	int i = 0;

	while (d >= 1024 && i < 6) {
		d /= 1024;
		i++;
	}
	if (i)
		snprintf(buf, size, "%.1f %s", d, unit[i]);
	else
		snprintf(buf, size, "%llu B", (unsigned long long)v);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* The daemon's status object of the mount on dir (malloc'd), or NULL. */
static char *daemon_status(const char *dir)
{
	ssize_t n = getxattr(dir, "trusted.csvfs.status", NULL, 0);
	char *buf;

	if (n <= 0)
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	n = getxattr(dir, "trusted.csvfs.status", buf, (size_t)n);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Crude JSON field readers for the daemon's own, flat-enough output. */
static const char *json_find(const char *js, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(js, pat);
	return p ? p + strlen(pat) : NULL;
}

static void print_cluster(const char *js)
{
	const char *co = json_find(js, "coordinator"), *m, *p;
	unsigned long node = 0;

	if ((p = json_find(js, "mode")))
		printf("  mode         %.*s\n", (int)strcspn(p + 1, "\""),
		       p + 1);
	if ((p = json_find(js, "uuid")))
		printf("  volume       %.*s\n", (int)strcspn(p + 1, "\""),
		       p + 1);
	if ((p = json_find(js, "node")))
		printf("  this node    %lu\n", strtoul(p, NULL, 10));
	if ((p = json_find(js, "quorate")))
		printf("  quorate      %s\n", !strncmp(p, "true", 4) ? "yes" :
		       "no");
	if (co && (p = json_find(co, "node")))
		node = strtoul(p, NULL, 10);
	printf("  coordinator  %s%lu\n", node ? "node " : "none ", node);
	m = json_find(js, "members");
	printf("  members     ");
	while (m && (p = json_find(m, "node"))) {
		const char *st = json_find(p, "state");

		printf(" %lu(%.*s)", strtoul(p, NULL, 10),
		       st ? (int)strcspn(st + 1, "\"") : 0, st ? st + 1 : "");
		m = st ? st : p;
	}
	printf("\n");
}

static int status_one(struct ctl *c, const struct mount_info *mi, int first)
{
	char size[32], used[32], avail[32];
	uint64_t total, free_b, avail_b;
	struct statvfs st;
	char *js = daemon_status(mi->dir);

	if (statvfs(mi->dir, &st)) {
		fprintf(stderr, "csvfsctl: %s: %s\n", mi->dir,
			strerror(errno));
		return -errno;
	}
	total = (uint64_t)st.f_blocks * st.f_frsize;
	free_b = (uint64_t)st.f_bfree * st.f_frsize;
	avail_b = (uint64_t)st.f_bavail * st.f_frsize;
	if (c->json) {
		if (!c->single)
			printf("%s\n    ", first ? "" : ",");
		printf("{\"mountpoint\": ");
		json_str(mi->dir);
		printf(", \"device\": ");
		json_str(mi->source);
		printf(", \"block_size\": %lu, \"size_bytes\": %llu, "
		       "\"used_bytes\": %llu, \"available_bytes\": %llu, "
		       "\"inodes_free\": %llu",
		       (unsigned long)st.f_frsize, (unsigned long long)total,
		       (unsigned long long)(total - free_b),
		       (unsigned long long)avail_b,
		       (unsigned long long)st.f_ffree);
		/* The daemon's fields (volume, coordinator, members...). */
		if (js && js[0] == '{' && js[1] != '}')
			printf(", %s", js + 1);
		else
			printf("}");
		free(js);
		return 0;
	}
	human(total, size, sizeof(size));
	human(total - free_b, used, sizeof(used));
	human(avail_b, avail, sizeof(avail));
	if (first)
		printf("%-24s %-24s %10s %10s %10s %5s\n", "MOUNTPOINT",
		       "DEVICE", "SIZE", "USED", "AVAIL", "USE%");
	printf("%-24s %-24s %10s %10s %10s %4.0f%%\n", mi->dir, mi->source,
	       size, used, avail,
	       total ? 100.0 * (double)(total - free_b) / (double)total : 0.0);
	if (js)
		print_cluster(js);
	free(js);
	return 0;
}

/*
 * Runs one() on the csvfs mount holding path arg, or on every csvfs mount
 * (arg NULL), several wrapped in one JSON object {"mounts": [...]} with
 * --json. what prefixes the messages ("df: "). Returns the exit status.
 */
static int each_mount(struct ctl *c, const char *arg, const char *what,
		      int (*one)(struct ctl *c, const struct mount_info *mi,
				 int first))
{
	struct mount_info mi = { NULL, NULL };
	const char *dir = NULL;
	char real[4096];
	int rc = 0, found = 0, r;
	FILE *mf;

	if (arg) {
		if (!realpath(arg, real)) {
			fprintf(stderr, "csvfsctl: %s%s: %s\n", what, arg,
				strerror(errno));
			return 1;
		}
		dir = real;
		c->single = 1;
	}
	mf = setmntent("/proc/self/mounts", "r");
	if (!mf) {
		fprintf(stderr, "csvfsctl: /proc/self/mounts: %s\n",
			strerror(errno));
		return 1;
	}
	if (c->json && !dir)
		printf("{\"mounts\": [");
	while ((r = mount_find(dir, mf, &mi)) > 0) {
		if (one(c, &mi, !found))
			rc = 1;
		found++;
		free(mi.source);
		free(mi.dir);
		mi.source = mi.dir = NULL;
		if (dir)
			break;
	}
	endmntent(mf);
	if (r < 0) {
		fprintf(stderr, "csvfsctl: out of memory\n");
		rc = 1;
	}
	if (c->json && !dir)
		printf("%s]}\n", found ? "\n" : "");
	else if (c->json && found)
		printf("\n");
	if (!found && dir) {
		fprintf(stderr, "csvfsctl: %s%s: not a csvfs mount\n", what,
			dir);
		rc = 1;
	} else if (!found && !c->json) {
		printf("no csvfs volume is mounted\n");
	}
	free(mi.source);
	free(mi.dir);
	return rc;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	const char *arg = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = 1;
		} else if (!arg && argv[i][0] != '-') {
			arg = argv[i];
		} else {
			fprintf(stderr, "csvfsctl: status: unexpected "
				"argument \"%s\"\n", argv[i]);
			return 1;
		}
	}
	return each_mount(c, arg, "", status_one);
}

/* ---- keygen ---------------------------------------------------------------- */

static int cmd_keygen(struct ctl *c, int argc, char **argv)
{
	const char *path = KEYFILE_DEFAULT_PATH;
	char err[512];
	int i, force = 0, rc;

	(void)c;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = 1;
		else if (argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "csvfsctl: keygen: unknown option "
				"\"%s\"\n", argv[i]);
			return 1;
		}
	}
	rc = keyfile_generate(path, force, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "csvfsctl: keygen: %s\n", err);
		return 1;
	}
	printf("cluster key written to %s (mode 0600); copy it to every "
	       "node\n", path);
	return 0;
}

/* ---- coordinator move ---------------------------------------------------- */

/* The mount point to act on: the argument, or the only csvfs mount. */
static int pick_mount(const char *arg, char *out, size_t len)
{
	struct mount_info mi = { NULL, NULL };
	FILE *mf;
	int n = 0, r;

	if (arg) {
		if (!realpath(arg, out)) {
			fprintf(stderr, "csvfsctl: %s: %s\n", arg,
				strerror(errno));
			return -1;
		}
		return 0;
	}
	mf = setmntent("/proc/self/mounts", "r");
	if (!mf)
		return -1;
	while ((r = mount_find(NULL, mf, &mi)) > 0) {
		if (!n++)
			snprintf(out, len, "%s", mi.dir);
		free(mi.source);
		free(mi.dir);
	}
	endmntent(mf);
	if (n != 1) {
		fprintf(stderr, "csvfsctl: %s; name the mount point\n",
			n ? "several csvfs mounts" : "no csvfs mount");
		return -1;
	}
	return 0;
}

static int cmd_coordinator(struct ctl *c, int argc, char **argv)
{
	char dir[4096], *end;
	unsigned long node;

	(void)c;
	if (argc < 3 || argc > 4 || strcmp(argv[1], "move")) {
		fprintf(stderr, "usage: csvfsctl coordinator move NODE "
			"[MOUNTPOINT]\n");
		return 1;
	}
	node = strtoul(argv[2], &end, 10);
	if (*end || !node) {
		fprintf(stderr, "csvfsctl: coordinator move: \"%s\" is not a "
			"node id\n", argv[2]);
		return 1;
	}
	if (pick_mount(argc == 4 ? argv[3] : NULL, dir, sizeof(dir)))
		return 1;
	if (setxattr(dir, "trusted.csvfs.move", argv[2], strlen(argv[2]),
		     0)) {
		fprintf(stderr, "csvfsctl: coordinator move to node %lu: %s\n",
			node, errno == EHOSTUNREACH ? "not a member of the "
			"cluster" : errno == EOPNOTSUPP ? "not a cluster "
			"mount" : strerror(errno));
		return 1;
	}
	printf("coordinator role moving to node %lu\n", node);
	return 0;
}

/* ---- file ownership ---------------------------------------------------- */

static int parse_node_arg(const char *what, const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !v || v > UINT32_MAX) {
		fprintf(stderr, "csvfsctl: %s: \"%s\" is not a node id\n",
			what, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static const char *own_strerror(int rc)
{
	switch (rc) {
	case -ENOLCK:
		return "the source node is not the file's writer";
	case -EHOSTUNREACH:
		return "the target node is not a member of the cluster";
	case -EBUSY:
		return "the file is multi-writer or another handoff is running";
	case -ETIMEDOUT:
		return "the owner did not finish flushing in time (nothing "
		       "changed)";
	case -EOPNOTSUPP:
		return "not a csvfs cluster mount";
	default:
		return strerror(-rc);
	}
}

static int cmd_handoff(struct ctl *c, int argc, char **argv)
{
	uint32_t from = 0, to;
	struct timespec t0, t1;
	int rc;

	(void)c;
	if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--from"))) {
		fprintf(stderr, "usage: csvfsctl handoff FILE NODE "
			"[--from NODE]\n");
		return 1;
	}
	if (parse_node_arg("handoff", argv[2], &to) ||
	    (argc == 5 && parse_node_arg("handoff --from", argv[4], &from)))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = csvfs_handoff(argv[1], from, to);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc) {
		fprintf(stderr, "csvfsctl: handoff of \"%s\" to node %u: %s\n",
			argv[1], to, own_strerror(rc));
		return 1;
	}
	printf("\"%s\" handed off to node %u in %.1f ms\n", argv[1], to,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}

/* csvfsctl multiwriter|strict on|off FILE: one per-file ownership flag. */
static int cmd_own_flag(struct ctl *c, int argc, char **argv)
{
	int strict = !strcmp(argv[0], "strict");
	int on, rc;

	(void)c;
	if (argc != 3 || (strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
		fprintf(stderr, "usage: csvfsctl %s on|off FILE\n", argv[0]);
		return 1;
	}
	on = !strcmp(argv[1], "on");
	rc = strict ? csvfs_set_strict(argv[2], on) :
		      csvfs_set_multiwriter(argv[2], on);
	if (rc) {
		fprintf(stderr, "csvfsctl: %s %s \"%s\": %s\n", argv[0],
			argv[1], argv[2], rc == -EINVAL ? "not a regular file" :
			own_strerror(rc));
		return 1;
	}
	printf("\"%s\": %s %s\n", argv[2], strict ? "strict" : "multi-writer",
	       on ? "on" : "off");
	return 0;
}

static struct ctl *locks_ctl;
static int locks_n, locks_err;

static int locks_one(const char *path, const struct stat *st, int type,
		     struct FTW *ftw)
{
	struct csvfs_owner o;
	char when[64];
	struct tm tm;
	time_t t;
	int rc;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	rc = csvfs_get_owner(path, &o);
	if (rc) {
		fprintf(stderr, "csvfsctl: locks: %s: %s\n", path,
			own_strerror(rc));
		locks_err = 1;
		return 0;
	}
	if (!strcmp(o.mode, "none"))
		return 0;
	t = (time_t)(o.since_ns / 1000000000ull);
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (locks_ctl->json) {
		printf("%s{\"path\":", locks_n ? "," : "");
		json_str(path);
		printf(",\"node\":%u,\"mode\":\"%s\",\"readers\":%u,"
		       "\"since_ns\":%llu,\"epoch\":%llu}", o.node, o.mode,
		       o.readers, (unsigned long long)o.since_ns,
		       (unsigned long long)o.epoch);
	} else {
		if (!locks_n)
			printf("%-40s %5s %-13s %7s %s\n", "FILE", "NODE",
			       "MODE", "READERS", "SINCE");
		printf("%-40s %5u %-13s %7u %s\n", path, o.node, o.mode,
		       o.readers, when);
	}
	locks_n++;
	return 0;
}

static int cmd_locks(struct ctl *c, int argc, char **argv)
{
	char dir[4096];
	int i, rc;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json")) {
			c->json = 1;
			memmove(&argv[i], &argv[i + 1],
				(size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	if (argc > 2) {
		fprintf(stderr, "usage: csvfsctl locks [PATH]\n");
		return 1;
	}
	if (pick_mount(argc == 2 ? argv[1] : NULL, dir, sizeof(dir)))
		return 1;
	locks_ctl = c;
	if (c->json)
		printf("[");
	rc = nftw(dir, locks_one, 32, FTW_PHYS | FTW_MOUNT);
	if (c->json)
		printf("]\n");
	else if (!locks_n && !rc)
		printf("no file of %s is owned\n", dir);
	if (rc) {
		fprintf(stderr, "csvfsctl: locks: %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	return locks_err;
}

/* ---- nodes ------------------------------------------------------------- */

static struct nodeview *owners_view;

/* nftw callback: counts the writer of each regular file. */
static int owners_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	struct csvfs_owner o;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (!csvfs_get_owner(path, &o) && !strcmp(o.mode, "single-writer"))
		nodeview_add_owned(owners_view, o.node);
	return 0;
}

/* The node ids of the "members" array of the daemon's status. */
static size_t status_members(const char *js, uint32_t *out, size_t max)
{
	const char *m = json_find(js, "members"), *p, *end;
	size_t n = 0;

	end = m ? strchr(m, ']') : NULL;
	while (m && n < max && (p = json_find(m, "node")) && p < end) {
		out[n++] = (uint32_t)strtoul(p, NULL, 10);
		m = p;
	}
	return n;
}

static int nodes_one(struct ctl *c, const struct mount_info *mi, int first)
{
	struct nodeview v = { 0 };
	uint32_t members[CSVFS_MAX_NODES_LIMIT];
	const char *co, *p;
	struct timespec now;
	size_t nm = 0;
	char *js;
	int rc;

	js = daemon_status(mi->dir);
	if (!js) {
		fprintf(stderr, "csvfsctl: nodes: %s: the daemon gives no "
			"status: %s\n", mi->dir, strerror(errno));
		return -EIO;
	}
	p = json_find(js, "mode");
	v.cluster = p && !strncmp(p, "\"cluster\"", 9);
	p = json_find(js, "quorate");
	v.quorate = p && !strncmp(p, "true", 4);
	p = json_find(js, "node");
	v.self = p ? (uint32_t)strtoul(p, NULL, 10) : 0;
	co = json_find(js, "coordinator");
	p = co ? json_find(co, "node") : NULL;
	v.coord = p ? (uint32_t)strtoul(p, NULL, 10) : 0;
	nm = status_members(js, members, CSVFS_MAX_NODES_LIMIT);
	free(js);
	clock_gettime(CLOCK_REALTIME, &now);
	rc = nodeview_read_slots(mi->source, (uint64_t)now.tv_sec *
				 1000000000ull + (uint64_t)now.tv_nsec, &v);
	if (!rc)
		rc = nodeview_judge(&v, members, nm);
	if (rc) {
		fprintf(stderr, "csvfsctl: nodes: %s: reading the heartbeat "
			"slots of %s: %s\n", mi->dir, mi->source,
			csvfs_strerror(rc));
		nodeview_free(&v);
		return rc;
	}
	/* Standalone mounts keep no ownership: nothing to count. */
	if (v.cluster) {
		owners_view = &v;
		nftw(mi->dir, owners_one, 32, FTW_PHYS | FTW_MOUNT);
	}
	if (c->json && !c->single)
		printf("%s\n    ", first ? "" : ",");
	if (!c->json)
		printf("%s%s (%s, volume on %s)\n", first ? "" : "\n",
		       mi->dir, v.cluster ? (v.quorate ? "cluster, quorate" :
		       "cluster, NOT quorate") : "standalone", mi->source);
	nodeview_print(&v, c->json, stdout);
	nodeview_free(&v);
	return 0;
}

static int cmd_nodes(struct ctl *c, int argc, char **argv)
{
	const char *arg = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = 1;
		} else if (!arg && argv[i][0] != '-') {
			arg = argv[i];
		} else {
			fprintf(stderr, "usage: csvfsctl [--json] nodes "
				"[MOUNTPOINT]\n");
			return 1;
		}
	}
	return each_mount(c, arg, "nodes: ", nodes_one);
}

/* ---- space: df, reserve, preallocate, grow ------------------------------ */

struct space {
	uint64_t bsize, blocks, free, avail, reserved, provisioned;
};

/* Reads the coordinator's space figures through the mount at path. */
static int space_get(const char *path, struct space *sp)
{
	unsigned long long b, n, f, a, r, p;
	char v[256];
	ssize_t len;

	len = getxattr(path, "trusted.csvfs.space", v, sizeof(v) - 1);
	if (len < 0)
		return -errno;
	v[len] = '\0';
	if (sscanf(v, "bsize=%llu blocks=%llu free=%llu avail=%llu "
		   "reserved=%llu provisioned=%llu", &b, &n, &f, &a, &r,
		   &p) != 6)
		return -EPROTO;
	sp->bsize = b;
	sp->blocks = n;
	sp->free = f;
	sp->avail = a;
	sp->reserved = r;
	sp->provisioned = p;
	return 0;
}

static const char *space_strerror(int rc)
{
	switch (rc) {
	case -ENODATA:
	case -EOPNOTSUPP:
		return "not on a csvfs mount (or its daemon is too old)";
	default:
		return strerror(-rc);
	}
}

/*
 * 0 when path is on a csvfs mount (its daemon answers the space xattr;
 * another filesystem might store a trusted.csvfs.* xattr without a word),
 * else prints why and returns -1.
 */
static int on_csvfs(const char *what, const char *path)
{
	struct space sp;
	int rc = space_get(path, &sp);

	if (!rc)
		return 0;
	fprintf(stderr, "csvfsctl: %s: \"%s\": %s\n", what, path,
		space_strerror(rc));
	return -1;
}

static int df_one(struct ctl *c, const struct mount_info *mi, int first)
{
	char size[32], used[32], avail[32], resv[32], prov[32];
	uint64_t total, used_b, ratio_x100;
	struct space sp;
	int rc = space_get(mi->dir, &sp);

	if (rc) {
		fprintf(stderr, "csvfsctl: df: %s: %s\n", mi->dir,
			space_strerror(rc));
		return rc;
	}
	total = sp.blocks * sp.bsize;
	used_b = (sp.blocks - sp.free) * sp.bsize;
	ratio_x100 = total ? (sp.provisioned * 100 + total / 2) / total : 0;
	if (c->json) {
		if (!c->single)
			printf("%s\n    ", first ? "" : ",");
		printf("{\"mountpoint\": ");
		json_str(mi->dir);
		printf(", \"device\": ");
		json_str(mi->source);
		printf(", \"block_size\": %llu, \"size_bytes\": %llu, "
		       "\"used_bytes\": %llu, \"free_bytes\": %llu, "
		       "\"available_bytes\": %llu, \"reserved_bytes\": %llu, "
		       "\"provisioned_bytes\": %llu, \"overcommit\": %.2f}",
		       (unsigned long long)sp.bsize, (unsigned long long)total,
		       (unsigned long long)used_b,
		       (unsigned long long)(sp.free * sp.bsize),
		       (unsigned long long)(sp.avail * sp.bsize),
		       (unsigned long long)(sp.reserved * sp.bsize),
		       (unsigned long long)sp.provisioned,
		       total ? (double)sp.provisioned / (double)total : 0.0);
		return 0;
	}
	human(total, size, sizeof(size));
	human(used_b, used, sizeof(used));
	human(sp.avail * sp.bsize, avail, sizeof(avail));
	human(sp.reserved * sp.bsize, resv, sizeof(resv));
	human(sp.provisioned, prov, sizeof(prov));
	if (first)
		printf("%-24s %10s %10s %10s %10s %11s %10s\n", "MOUNTPOINT",
		       "SIZE", "USED", "AVAIL", "RESERVED", "PROVISIONED",
		       "OVERCOMMIT");
	printf("%-24s %10s %10s %10s %10s %11s %6llu.%02llux\n", mi->dir,
	       size, used, avail, resv, prov,
	       (unsigned long long)(ratio_x100 / 100),
	       (unsigned long long)(ratio_x100 % 100));
	return 0;
}

static int cmd_df(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+j", lopts, NULL)) != -1) {
		if (opt != 'j') {
			fprintf(stderr, "usage: csvfsctl [--json] df "
				"[MOUNTPOINT]\n");
			return 1;
		}
		c->json = 1;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "usage: csvfsctl [--json] df [MOUNTPOINT]\n");
		return 1;
	}
	return each_mount(c, optind < argc ? argv[optind] : NULL, "df: ",
			  df_one);
}

static int cmd_reserve(struct ctl *c, int argc, char **argv)
{
	char val[32], h[32], h2[32];
	struct space sp;
	uint64_t bytes;
	ssize_t n;
	int rc;

	(void)c;
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: csvfsctl reserve FILE [SIZE]  (SIZE "
			"with K/M/G/T; 0 removes the reservation)\n");
		return 1;
	}
	if (on_csvfs("reserve", argv[1]))
		return 1;
	if (argc == 2) {
		n = getxattr(argv[1], "trusted.csvfs.reserve", val,
			     sizeof(val) - 1);
		if (n < 0) {
			fprintf(stderr, "csvfsctl: reserve: \"%s\": %s\n",
				argv[1], space_strerror(-errno));
			return 1;
		}
		val[n] = '\0';
		bytes = strtoull(val, NULL, 10);
		human(bytes, h, sizeof(h));
		printf("\"%s\": %s reserved\n", argv[1], h);
		return 0;
	}
	if (csvfs_parse_size(argv[2], &bytes)) {
		fprintf(stderr, "csvfsctl: reserve: \"%s\" is not a size (a "
			"number with an optional K, M, G, T or P, then iB)\n", argv[2]);
		return 1;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
	if (setxattr(argv[1], "trusted.csvfs.reserve", val, strlen(val),
		     0)) {
		rc = -errno;
		human(bytes, h, sizeof(h));
		if (rc == -ENOSPC && !space_get(argv[1], &sp)) {
			human(sp.avail * sp.bsize, h2, sizeof(h2));
			fprintf(stderr, "csvfsctl: reserve %s for \"%s\": "
				"not enough free space on the volume (%s free "
				"and not reserved for other files)\n", h,
				argv[1], h2);
		} else {
			fprintf(stderr, "csvfsctl: reserve %s for \"%s\": "
				"%s\n", h, argv[1], rc == -EINVAL ?
				"not a regular file" : space_strerror(rc));
		}
		return 1;
	}
	human(bytes, h, sizeof(h));
	if (bytes)
		printf("\"%s\": %s reserved\n", argv[1], h);
	else
		printf("\"%s\": reservation removed\n", argv[1]);
	return 0;
}

static int cmd_preallocate(struct ctl *c, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "zero", no_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 }
	};
	const char *use = "usage: csvfsctl preallocate --zero FILE [SIZE]\n";
	uint64_t bytes = 0;
	char val[32];
	int opt, zero = 0;

	(void)c;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "z", lopts, NULL)) != -1) {
		if (opt != 'z') {
			fputs(use, stderr);
			return 1;
		}
		zero = 1;
	}
	if (!zero) {
		fprintf(stderr, "csvfsctl: preallocate: only --zero (written "
			"zeroed blocks) is supported; fallocate(1) reserves "
			"unwritten space\n");
		return 1;
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fputs(use, stderr);
		return 1;
	}
	if (argc - optind == 2 && csvfs_parse_size(argv[optind + 1], &bytes)) {
		fprintf(stderr, "csvfsctl: preallocate: \"%s\" is not a size "
			"(a number with an optional K, M, G, T or P, then iB)\n",
			argv[optind + 1]);
		return 1;
	}
	if (on_csvfs("preallocate", argv[optind]))
		return 1;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)bytes);
	if (setxattr(argv[optind], "trusted.csvfs.preallocate", val,
		     strlen(val), 0)) {
		int rc = -errno;

		fprintf(stderr, "csvfsctl: preallocate \"%s\": %s\n",
			argv[optind], rc == -ENOSPC ? "not enough free space "
			"on the volume (nothing was allocated)" :
			rc == -EINVAL ? "not a regular file" :
			rc == -EBUSY ? "the file is open on another node" :
			space_strerror(rc));
		return 1;
	}
	printf("\"%s\": preallocated with zeroes\n", argv[optind]);
	return 0;
}

/* Size in bytes of the device or image file at path; 0 when unknown. */
static uint64_t device_bytes(const char *path)
{
	uint64_t size = 0;
	struct stat st;
	int fd;

	if (stat(path, &st))
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (!S_ISBLK(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ioctl(fd, BLKGETSIZE64, &size))
		size = 0;
	close(fd);
	return size;
}

struct grow_job {
	const char *dir;
	int rc;
	int done;	/* atomic */
};

static void *grow_main(void *arg)
{
	struct grow_job *j = arg;

	j->rc = setxattr(j->dir, "trusted.csvfs.grow", "1", 1, 0) ? -errno : 0;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Asks the coordinator to grow the volume on dir. On a terminal (stderr),
 * shows the progress meanwhile: the coordinator grows in steps, each
 * committing a larger block count, which the space xattr reports; the
 * target is the device's size (source of the mount), as the coordinator
 * sees it when the device is the same path on its node.
 */
static int grow_run(const char *dir, const char *source,
		    const struct space *before)
{
	struct grow_job j = { dir, 0, 0 };
	uint64_t target = 0, done, want;
	struct space now;
	pthread_t t;
	int tty = isatty(STDERR_FILENO), shown = 0;

	if (!tty)
		return setxattr(dir, "trusted.csvfs.grow", "1", 1, 0) ? -errno :
		       0;
	if (source)
		target = device_bytes(source) / before->bsize;
	if (pthread_create(&t, NULL, grow_main, &j))
		return setxattr(dir, "trusted.csvfs.grow", "1", 1, 0) ? -errno :
		       0;
	for (;;) {
		int fin = __atomic_load_n(&j.done, __ATOMIC_ACQUIRE);

		if (!fin && !space_get(dir, &now) && target > before->blocks) {
			done = now.blocks > before->blocks ?
			       now.blocks - before->blocks : 0;
			want = target - before->blocks;
			fprintf(stderr, "\rcsvfsctl: grow %s: %3u%%", dir,
				(unsigned)(done * 100 / want));
			shown = 1;
		}
		if (fin)
			break;
		usleep(200000);
	}
	pthread_join(t, NULL);
	if (shown || target > before->blocks)
		fprintf(stderr, "\rcsvfsctl: grow %s: %s\n", dir,
			j.rc ? "failed" : "100%, done");
	return j.rc;
}

static int cmd_grow(struct ctl *c, int argc, char **argv)
{
	struct mount_info mi = { NULL, NULL };
	char dir[4096], h0[32], h1[32];
	struct space a, b;
	FILE *mf;
	int rc;

	(void)c;
	if (argc > 2) {
		fprintf(stderr, "usage: csvfsctl grow [MOUNTPOINT]\n");
		return 1;
	}
	if (pick_mount(argc == 2 ? argv[1] : NULL, dir, sizeof(dir)))
		return 1;
	mf = setmntent("/proc/self/mounts", "r");
	if (mf) {
		if (mount_find(dir, mf, &mi) <= 0) {
			free(mi.source);
			mi.source = NULL;
		}
		endmntent(mf);
	}
	rc = space_get(dir, &a);
	if (!rc)
		rc = grow_run(dir, mi.source, &a);
	free(mi.source);
	free(mi.dir);
	if (!rc)
		rc = space_get(dir, &b);
	if (rc) {
		fprintf(stderr, "csvfsctl: grow %s: %s\n", dir,
			rc == -EFBIG ? "the device is larger than the "
			"allocation bitmap can describe (see the daemon's "
			"log for the limit)" : rc == -EBUSY ? "another grow "
			"is running" : space_strerror(rc));
		return 1;
	}
	human(a.blocks * a.bsize, h0, sizeof(h0));
	human(b.blocks * b.bsize, h1, sizeof(h1));
	if (b.blocks == a.blocks)
		printf("%s: already covers the device (%s)\n", dir, h1);
	else
		printf("%s: grown from %s to %s\n", dir, h0, h1);
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static const struct ctl_cmd cmds[] = {
	{ "status", cmd_status,
	  "status [MOUNTPOINT]            volume, coordinator, members, use" },
	{ "nodes", cmd_nodes,
	  "nodes [MOUNTPOINT]             node slots: heartbeat, member, dead" },
	{ "keygen", cmd_keygen,
	  "keygen [--force] [FILE]        write a new cluster key (0600)" },
	{ "coordinator", cmd_coordinator,
	  "coordinator move NODE [MOUNT]  move the coordinator role" },
	{ "handoff", cmd_handoff,
	  "handoff FILE NODE [--from N]   move a file's ownership to NODE" },
	{ "locks", cmd_locks,
	  "locks [PATH]                   owned files: node, mode, since" },
	{ "multiwriter", cmd_own_flag,
	  "multiwriter on|off FILE        allow writers on every node" },
	{ "strict", cmd_own_flag,
	  "strict on|off FILE             no reader elsewhere while written" },
	{ "df", cmd_df,
	  "df [MOUNTPOINT]                size, used, reserved, provisioned" },
	{ "reserve", cmd_reserve,
	  "reserve FILE [SIZE]            guarantee SIZE (K/M/G/T) to FILE" },
	{ "preallocate", cmd_preallocate,
	  "preallocate --zero FILE [SIZE] allocate written zeroed blocks" },
	{ "grow", cmd_grow,
	  "grow [MOUNTPOINT]              grow the volume to its device" },
	{ NULL, NULL, NULL }
};

static void usage(FILE *f)
{
	int i;

	fprintf(f, "usage: csvfsctl [--json] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; cmds[i].name; i++)
		fprintf(f, "  %s\n", cmds[i].help);
	fprintf(f, "\n  --json   machine-readable output\n"
		   "  --help   show this help\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c = { 0 };
	int opt, i;

	/* "+": options end at the command; the command parses the rest. */
	while ((opt = getopt_long(argc, argv, "+jh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; cmds[i].name; i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		/* Commands accept --json after their name too. */
		return cmds[i].run(&c, argc - optind, argv + optind) ? 1 : 0;
	}
	fprintf(stderr, "csvfsctl: unknown command \"%s\" (see "
		"csvfsctl --help)\n", argv[optind]);
	return 2;
}

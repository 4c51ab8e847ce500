/*
 * csvfsctl: the administrator's tool. Human tables by default, --json for
 * machines.
 *
 *   csvfsctl [--json] status [MOUNTPOINT]
 *
 * status: size and use of one csvfs mount, or of every csvfs mount in
 * /proc/self/mounts. Later commands (nodes, locks, handoff, coordinator
 * move, keygen, df, stats) add entries to the command table.
 */
#include <errno.h>
#include <getopt.h>
#include <mntent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define CSVFS_FSTYPE	"fuse.csvfs"

struct ctl {
	int json;
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

static int status_one(struct ctl *c, const struct mount_info *mi, int first)
{
	char size[32], used[32], avail[32];
	uint64_t total, free_b, avail_b;
	struct statvfs st;

	if (statvfs(mi->dir, &st)) {
		fprintf(stderr, "csvfsctl: %s: %s\n", mi->dir,
			strerror(errno));
		return -errno;
	}
	total = (uint64_t)st.f_blocks * st.f_frsize;
	free_b = (uint64_t)st.f_bfree * st.f_frsize;
	avail_b = (uint64_t)st.f_bavail * st.f_frsize;
	if (c->json) {
		printf("%s\n    {\"mountpoint\": ", first ? "" : ",");
		json_str(mi->dir);
		printf(", \"device\": ");
		json_str(mi->source);
		printf(", \"block_size\": %lu, \"size_bytes\": %llu, "
		       "\"used_bytes\": %llu, \"available_bytes\": %llu, "
		       "\"inodes_free\": %llu}",
		       (unsigned long)st.f_frsize, (unsigned long long)total,
		       (unsigned long long)(total - free_b),
		       (unsigned long long)avail_b,
		       (unsigned long long)st.f_ffree);
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
	return 0;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	struct mount_info mi = { NULL, NULL };
	const char *dir = NULL;
	char real[4096];
	int rc = 0, found = 0, r;
	FILE *mf;

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
	if (arg) {
		if (!realpath(arg, real)) {
			fprintf(stderr, "csvfsctl: %s: %s\n", arg,
				strerror(errno));
			return 1;
		}
		dir = real;
	}
	mf = setmntent("/proc/self/mounts", "r");
	if (!mf) {
		fprintf(stderr, "csvfsctl: /proc/self/mounts: %s\n",
			strerror(errno));
		return 1;
	}
	if (c->json)
		printf("{\"mounts\": [");
	while ((r = mount_find(dir, mf, &mi)) > 0) {
		if (status_one(c, &mi, !found))
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
	if (c->json)
		printf("%s]}\n", found ? "\n" : "");
	if (!found && dir) {
		fprintf(stderr, "csvfsctl: %s: not a csvfs mount\n", dir);
		rc = 1;
	} else if (!found && !c->json) {
		printf("no csvfs volume is mounted\n");
	}
	free(mi.source);
	free(mi.dir);
	return rc;
}

/* ---- main ----------------------------------------------------------------- */

static const struct ctl_cmd cmds[] = {
	{ "status", cmd_status, "status [MOUNTPOINT]  size and use of mounts" },
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

/*
 * mount.csvfs: the mount(8) helper, so "mount -t csvfs DEVICE DIR" and
 * fstab lines work. mount(8) runs
 *
 *   mount.csvfs DEVICE DIR [-sfnv] [-N NS] [-o OPTIONS] [-t csvfs]
 *
 * This helper drops the options only mount(8) understands (defaults,
 * noauto, _netdev, user, ...) and execs csvfsd DEVICE DIR -o REST, taken
 * from the directory this helper lives in, else from PATH. csvfsd returns
 * only once the mount is up (or fails with a message on stderr), so its
 * exit status, which becomes ours through exec, is the mount's.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Options for mount(8) / fstab only: never passed on. */
static const char *const dropped[] = {
	"defaults", "auto", "noauto", "_netdev", "user", "users", "nouser",
	"owner", "group", "nofail", "rw", "loop", "sloppy", NULL
};
/* Prefixes of the same kind ("x-systemd.automount", "comment=..."). */
static const char *const dropped_prefix[] = {
	"x-", "comment=", "user=", "loop=", "helper=", NULL
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: mount.csvfs DEVICE DIR [-o OPTIONS] [-n] [-v] [-f] [-s]\n"
"\n"
"Called by mount(8) for \"mount -t csvfs\"; starts csvfsd. OPTIONS are\n"
"csvfsd's (see csvfsd --help); mount(8)-only options are ignored.\n");
}

static int is_dropped(const char *opt)
{
	int i;

	for (i = 0; dropped[i]; i++)
		if (!strcmp(opt, dropped[i]))
			return 1;
	for (i = 0; dropped_prefix[i]; i++)
		if (!strncmp(opt, dropped_prefix[i], strlen(dropped_prefix[i])))
			return 1;
	return 0;
}

/* Appends the kept options of list to *out (comma list). 0 or -ENOMEM. */
static int filter_opts(const char *list, char **out)
{
	char *copy, *opt, *save = NULL, *res = *out, *tmp;
	size_t len;

	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (is_dropped(opt))
			continue;
		len = (res ? strlen(res) + 1 : 0) + strlen(opt) + 1;
		tmp = realloc(res, len);
		if (!tmp) {
			free(copy);
			return -ENOMEM;
		}
		if (res)
			strcat(strcat(tmp, ","), opt);
		else
			strcpy(tmp, opt);
		res = tmp;
	}
	free(copy);
	*out = res;
	return 0;
}

/* csvfsd next to this program (readlink /proc/self/exe), if there. */
static int sibling_daemon(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((size_t)snprintf(path, size, "%s/csvfsd", dirname(self)) >= size)
		return -1;
	return access(path, X_OK);
}

int main(int argc, char **argv)
{
	char daemon[PATH_MAX], *opts = NULL;
	const char *dargv[7];
	int c, verbose = 0, fake = 0, i, n = 0;

	while ((c = getopt(argc, argv, "o:t:N:sfnvh")) != -1) {
		switch (c) {
		case 'o':
			if (filter_opts(optarg, &opts)) {
				fprintf(stderr, "mount.csvfs: out of memory\n");
				return 1;
			}
			break;
		case 'v':
			verbose = 1;
			break;
		case 'f':
			fake = 1;
			break;
		case 't':	/* type, maybe csvfs.SUBTYPE */
		case 'N':	/* mount namespace: mount(8) already entered */
		case 's':	/* sloppy: csvfsd decides */
		case 'n':	/* no mtab: there is none to write */
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 1;
	}
	dargv[n++] = "csvfsd";
	dargv[n++] = argv[optind];
	dargv[n++] = argv[optind + 1];
	if (opts) {
		dargv[n++] = "-o";
		dargv[n++] = opts;
	}
	dargv[n] = NULL;
	if (verbose) {
		fprintf(stderr, "mount.csvfs: running");
		for (i = 0; i < n; i++)
			fprintf(stderr, " %s", dargv[i]);
		fprintf(stderr, "\n");
	}
	if (fake) {
		free(opts);
		return 0;
	}
	if (!sibling_daemon(daemon, sizeof(daemon)))
		execv(daemon, (char *const *)dargv);
	execvp("csvfsd", (char *const *)dargv);
	fprintf(stderr, "mount.csvfs: cannot run csvfsd: %s\n",
		strerror(errno));
	free(opts);
	return 1;
}

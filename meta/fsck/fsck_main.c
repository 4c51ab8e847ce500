/*
 * fsck.csvfs: checks and repairs a csvfs volume (see meta/fsck/fsck.h).
 *
 *   fsck.csvfs [-n|-y|-p] [-f] [-v] DEVICE
 *   fsck.csvfs --dump [INO] DEVICE
 *
 * Exit codes as e2fsck's: 0 clean, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error, 16 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "meta/dev.h"
#include "meta/fsck/fsck.h"

static const char *prog = "fsck.csvfs";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-n|-y|-p] [-f] [-v] DEVICE\n"
		"       %s --dump [INO] DEVICE\n"
		"  -n, --no       check only: open read-only, do not replay "
		"the journal\n"
		"  -y, --yes      replay the journal and repair everything\n"
		"  -p, --preen    replay the journal and repair what is safe "
		"(-a too)\n"
		"  -f, --force    check even a clean volume with -p\n"
		"  -v, --verbose  print each pass\n"
		"      --dump     print the superblock, space and chunk list; "
		"with INO\n"
		"                 (a number, or 'root') that inode too\n"
		"without -n, -y or -p: check as -n and say what -y would "
		"repair\n"
		"exit: 0 clean, 1 errors corrected, 4 errors left, 8 "
		"operational error,\n"
		"      16 usage error\n", prog, prog);
}

/* Parses INO: decimal, or "root" (0 = the root for fsck_dump). */
static int parse_ino(const char *s, uint64_t *ino)
{
	char *end;

	if (!strcmp(s, "root")) {
		*ino = 0;
		return 0;
	}
	errno = 0;
	*ino = strtoull(s, &end, 0);
	return errno || end == s || *end || *ino == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "preen", no_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "dump", optional_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fsck_opts o = { .mode = FSCK_MODE_CHECK };
	const char *dump_ino = NULL, *path;
	int c, nmodes = 0, dump = 0, rc;
	struct dev *d = NULL;
	uint64_t ino = 0;

	while ((c = getopt_long(argc, argv, "nypafvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.mode = FSCK_MODE_NO;
			nmodes++;
			break;
		case 'y':
			o.mode = FSCK_MODE_YES;
			nmodes++;
			break;
		case 'p':
		case 'a':
			o.mode = FSCK_MODE_PREEN;
			nmodes++;
			break;
		case 'f':
			o.force = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'D':
			dump = 1;
			dump_ino = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return FSCK_EXIT_USAGE;
		}
	}
	/* "--dump INO DEVICE": the optional argument as its own word. */
	if (dump && !dump_ino && argc - optind == 2)
		dump_ino = argv[optind++];
	if (optind != argc - 1 || nmodes > 1 || (dump && nmodes)) {
		if (nmodes > 1)
			fprintf(stderr, "%s: -n, -y and -p exclude each "
				"other\n", prog);
		usage(stderr);
		return FSCK_EXIT_USAGE;
	}
	if (dump_ino && parse_ino(dump_ino, &ino)) {
		fprintf(stderr, "%s: invalid inode number '%s'\n", prog,
			dump_ino);
		return FSCK_EXIT_USAGE;
	}
	path = argv[optind];
	rc = dev_open(path, dump || (o.mode != FSCK_MODE_YES &&
				     o.mode != FSCK_MODE_PREEN) ?
		      DEV_RDONLY : 0, &d);
	if (rc) {
		fprintf(stderr, "%s: %s: cannot open: %s\n", prog, path,
			csvfs_strerror(rc));
		return FSCK_EXIT_OPERROR;
	}
	if (dump) {
		rc = fsck_dump(d, dump_ino != NULL, ino, stdout);
		dev_close(d);
		return rc ? FSCK_EXIT_OPERROR : 0;
	}
	o.verbose |= isatty(STDOUT_FILENO);
	o.progress = isatty(STDERR_FILENO);
	o.name = path;
	rc = fsck_run(d, &o, NULL);
	dev_close(d);
	return rc;
}

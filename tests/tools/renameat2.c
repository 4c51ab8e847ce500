/*
 * renameat2 — calls renameat2(2) once, for the integration tests (coreutils
 * 9.1 has no `mv --exchange`).
 *
 *   renameat2 [--noreplace | --exchange] OLD NEW
 *
 * Exit 0 on success; on failure prints "renameat2: OLD -> NEW: <strerror>"
 * to stderr and exits 1. Usage errors exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: renameat2 [--noreplace | --exchange | --whiteout] "
		"OLD NEW\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned flags = 0;
	int i = 1;

	if (argc > 1 && strcmp(argv[1], "--noreplace") == 0) {
		flags = RENAME_NOREPLACE;
		i++;
	} else if (argc > 1 && strcmp(argv[1], "--exchange") == 0) {
		flags = RENAME_EXCHANGE;
		i++;
	} else if (argc > 1 && strcmp(argv[1], "--whiteout") == 0) {
		flags = RENAME_WHITEOUT;
		i++;
	} else if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-' &&
		   argv[1][2] != '\0') {
		return usage();
	}
	if (argc - i != 2)
		return usage();
	if (renameat2(AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], flags) < 0) {
		fprintf(stderr, "renameat2: %s -> %s: %s\n", argv[i],
			argv[i + 1], strerror(errno));
		return 1;
	}
	return 0;
}

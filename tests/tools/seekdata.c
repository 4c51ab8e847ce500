/*
 * seekdata — shows a file's data/hole map through lseek(SEEK_DATA/SEEK_HOLE),
 * for the integration tests.
 *
 *   seekdata FILE              one line per extent, then the size:
 *                                data START END
 *                                hole START END
 *                                size N
 *   seekdata FILE data OFF     prints lseek(fd, OFF, SEEK_DATA) or ENXIO
 *   seekdata FILE hole OFF     prints lseek(fd, OFF, SEEK_HOLE) or ENXIO
 *
 * Offsets are decimal bytes. Exit 0 on success (ENXIO is an answer, not an
 * error), 1 on any other failure, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: seekdata FILE [data|hole OFFSET]\n");
	return 2;
}

static int one(int fd, const char *file, const char *what, const char *arg)
{
	int whence = strcmp(what, "data") == 0 ? SEEK_DATA : SEEK_HOLE;
	char *end;
	long long off;
	off_t r;

	if (strcmp(what, "data") && strcmp(what, "hole"))
		return usage();
	errno = 0;
	off = strtoll(arg, &end, 0);
	if (errno || *end || off < 0)
		return usage();
	r = lseek(fd, (off_t)off, whence);
	if (r < 0 && errno == ENXIO) {
		printf("ENXIO\n");
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "seekdata: %s: lseek %s %lld: %s\n", file, what,
			off, strerror(errno));
		return 1;
	}
	printf("%jd\n", (intmax_t)r);
	return 0;
}

static int map(int fd, const char *file)
{
	struct stat st;
	off_t pos = 0, data, hole;

	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "seekdata: %s: fstat: %s\n", file, strerror(errno));
		return 1;
	}
	while (pos < st.st_size) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = st.st_size;	/* only a hole up to EOF */
		else if (data < 0)
			goto fail;
		if (data > pos)
			printf("hole %jd %jd\n", (intmax_t)pos, (intmax_t)data);
		if (data >= st.st_size)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			goto fail;
		if (hole <= data) {
			fprintf(stderr, "seekdata: %s: SEEK_HOLE from %jd returned %jd\n",
				file, (intmax_t)data, (intmax_t)hole);
			return 1;
		}
		printf("data %jd %jd\n", (intmax_t)data, (intmax_t)hole);
		pos = hole;
	}
	printf("size %jd\n", (intmax_t)st.st_size);
	return 0;
fail:
	fprintf(stderr, "seekdata: %s: lseek from %jd: %s\n", file,
		(intmax_t)pos, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int fd, rc;

	if (argc != 2 && argc != 4)
		return usage();
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "seekdata: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	rc = argc == 2 ? map(fd, argv[1]) : one(fd, argv[1], argv[2], argv[3]);
	close(fd);
	return rc;
}

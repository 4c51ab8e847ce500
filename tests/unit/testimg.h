/*
 * testimg.h: image files for the CUnit suites. Every suite that needs a
 * volume makes it here, so one place says how: a private file under /tmp
 * (mkstemp), sparse (ftruncate), formatted with mkfs's defaults.
 */
#ifndef CSVFS_TESTIMG_H
#define CSVFS_TESTIMG_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "meta/dev.h"
#include "meta/format.h"

/*
 * A new empty file /tmp/<name>.XXXXXX of size bytes; its path in path
 * (len bytes). 0 or -1.
 */
static inline int testimg_new(char *path, size_t len, const char *name,
			      uint64_t size)
{
	int fd;

	snprintf(path, len, "/tmp/%s.XXXXXX", name);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * (Re)makes path as a size-byte volume formatted with the defaults; its
 * superblock in *sb if sb. 0, -1 or the format error.
 */
static inline int testimg_mkfs(const char *path, uint64_t size,
			       struct csvfs_super *sb)
{
	struct fmt_opts fo = { 0 };
	struct dev *d;
	int fd, rc;

	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		return -1;
	}
	close(fd);
	if (dev_open(path, 0, &d))
		return -1;
	rc = fmt_volume(d, &fo, sb);
	dev_close(d);
	return rc;
}

#endif /* CSVFS_TESTIMG_H */

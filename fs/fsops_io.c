/*
 * fsops_io: the daemon reads FUSE requests itself (fuse_session_custom_io,
 * libfuse 3.14's public hook for the device I/O) only to let O_TMPFILE
 * through.
 *
 * Why: the kernel (protocol 7.37 on) sends FUSE_TMPFILE for an
 * open(dir, O_TMPFILE): the layout of FUSE_CREATE (fuse_create_in, then
 * the dentry's name, "/" for a tmpfile dentry) and CREATE's reply (entry
 * + open). libfuse 3.14 has no such opcode and answers ENOSYS, after
 * which the kernel fails every O_TMPFILE with EOPNOTSUPP. So a TMPFILE
 * read here is handed to libfuse as a CREATE, and marked for the worker
 * thread that reads it: libfuse dispatches a request on the thread that
 * received it, before that thread reads the next one, so fsops_create
 * (same thread) sees the mark and makes a file without a name instead
 * (meta/mds_ns.c mds_h_tmpfile). Every read clears the mark, so a
 * request libfuse dropped cannot leave it behind.
 *
 * Only plain read/writev: no splice (the daemon never asked for
 * FUSE_CAP_SPLICE_*), and with clone_fd libfuse passes each worker's own
 * channel fd.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fsops.h"
#include "fs/fsops_i.h"

static __thread int tmpfile_mark;

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	const size_t at = offsetof(struct fuse_in_header, opcode);
	ssize_t n = read(fd, buf, len);
	uint32_t op;

	(void)userdata;
	tmpfile_mark = 0;
	if (n < (ssize_t)sizeof(struct fuse_in_header))
		return n;
	memcpy(&op, (uint8_t *)buf + at, sizeof(op));
	if (op == FUSE_TMPFILE) {
		op = FUSE_CREATE;
		memcpy((uint8_t *)buf + at, &op, sizeof(op));
		tmpfile_mark = 1;
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	(void)userdata;
	return writev(fd, iov, count);
}

int fsops_io_tmpfile(void)
{
	int m = tmpfile_mark;

	tmpfile_mark = 0;
	return m;
}

int fsops_custom_io(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se)) ? -EIO :
									0;
}

/*
 * kreq: request headers libfuse 3.14 does not pass on (see kreq.h).
 *
 * Only the header and, for WRITE, fuse_write_in are looked at; the buffer
 * goes to libfuse untouched. The note is per thread: the multithreaded
 * loop reads a request and processes it on the same thread before it
 * reads the next, so the note describes the request being processed. A
 * note that does not match the asking operation (nodeid, offset) answers
 * "unknown", never a guess.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fs/kreq.h"

struct kreq_note {
	int valid;
	uint32_t opcode;
	uint64_t nodeid;
	uint64_t off;
	uint32_t write_flags;
};

static __thread struct kreq_note note;
static int installed;

static ssize_t hook_read(int fd, void *buf, size_t len, void *ud)
{
	ssize_t n = read(fd, buf, len);
	struct fuse_in_header h;
	struct fuse_write_in w;

	(void)ud;
	note.valid = 0;
	if (n < (ssize_t)sizeof(h))
		return n;
	memcpy(&h, buf, sizeof(h));
	note.opcode = h.opcode;
	note.nodeid = h.nodeid;
	note.off = 0;
	note.write_flags = 0;
	if (h.opcode == FUSE_WRITE) {
		if (n < (ssize_t)(sizeof(h) + sizeof(w)))
			return n;
		memcpy(&w, (const char *)buf + sizeof(h), sizeof(w));
		note.off = w.offset;
		note.write_flags = w.write_flags;
	}
	note.valid = 1;
	return n;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *ud)
{
	(void)ud;
	return writev(fd, iov, count);
}

int kreq_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = hook_read,
		.writev = hook_writev,
	};
	int rc;

	rc = fuse_session_custom_io(se, &io, fuse_session_fd(se));
	if (rc)
		return rc < 0 ? rc : -EINVAL;
	installed = 1;
	return 0;
}

int kreq_write_kills_suid(uint64_t nodeid, uint64_t off)
{
	if (!installed || !note.valid || note.opcode != FUSE_WRITE ||
	    note.nodeid != nodeid || note.off != off)
		return -1;
	return !!(note.write_flags & FUSE_WRITE_KILL_SUIDGID);
}

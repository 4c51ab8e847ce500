/*
 * kreq: what the kernel says in a FUSE request that libfuse 3.14 does not
 * pass on to the operation.
 *
 * The kernel marks a direct-I/O WRITE from a process without CAP_FSETID
 * with FUSE_WRITE_KILL_SUIDGID (fs/fuse/file.c, fuse_direct_io): on that
 * path the filesystem, not the kernel, must clear setuid/setgid. libfuse
 * 3.14's do_write drops write_flags. kreq installs read/writev hooks on the
 * session (fuse_session_custom_io, the same /dev/fuse fd, no splice), notes
 * the header of every request a worker thread reads, and the operation,
 * which runs on that thread right after the read (fuse_loop_mt.c), asks.
 */
#ifndef CSVFS_FS_KREQ_H
#define CSVFS_FS_KREQ_H

#include <stdint.h>

struct fuse_session;

/*
 * Installs the hooks on se (after fuse_session_mount, before the loop).
 * 0 or -errno (the session then works as before, kreq_* answer -1).
 */
int kreq_install(struct fuse_session *se);

/*
 * For the WRITE of nodeid at off running on this thread: 1 when the
 * kernel asked to kill setuid/setgid (writer without CAP_FSETID), 0 when
 * it did not, -1 when unknown (hooks not installed, or this thread's last
 * request is not that write).
 */
int kreq_write_kills_suid(uint64_t nodeid, uint64_t off);

#endif /* CSVFS_FS_KREQ_H */

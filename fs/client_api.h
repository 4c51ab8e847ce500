/*
 * client_api: the calls a hypervisor or a resource agent links to drive
 * file ownership on a mounted csvfs volume. Each call is one xattr system
 * call on the file, answered by the csvfs daemon of the node it runs on
 * (see FSOPS_XA_* in fs/fsops.h); nothing else is needed (no key, no
 * connection). Cluster mounts only. Thread-safe; no state. client_api.c
 * depends on libc alone: a hypervisor may compile it in, or link
 * libcsvfs.a.
 *
 * Errors are negative errno values:
 *   -ENOLCK        "from" is not the file's writer
 *   -EHOSTUNREACH  the target node is not a member
 *   -EBUSY         the file is multi-writer, or another handoff of it is
 *                  running
 *   -ETIMEDOUT     the owner did not finish its recall in time (nothing
 *                  changed)
 *   -EOPNOTSUPP    not a csvfs cluster mount
 */
#ifndef CSVFS_CLIENT_API_H
#define CSVFS_CLIENT_API_H

#include <stdint.h>

/* Ownership of a file as the coordinator has it. */
struct csvfs_owner {
	uint32_t node;		/* the writer, or the first holder, 0 = none */
	char mode[16];		/* "single-writer", "readers", "multi-writer",
				 * "none" */
	uint64_t since_ns;	/* CLOCK_REALTIME ns when it began, 0 = none */
	uint64_t epoch;		/* bumps on every change */
	uint32_t readers;	/* other nodes holding it (read-only, or
				 * multi-writer holders) */
};

/*
 * Moves the write right of path to node "to", for programs that keep
 * their fd open across a switch-over (QEMU and libvirt need none of
 * this: their own migration reopens the image, see README "Running
 * VMs"). from: the writer in the caller's view (0: whoever writes it
 * now). Returns when the old writer has flushed and its handles lost
 * write access, and the move is committed: node "to" may open it for
 * writing at once, and no other node can take it until "to" has opened
 * it read-write (or the reservation lapses after 120 s, or a handoff
 * elsewhere cancels it). 0 or a negative errno (above).
 */
int csvfs_handoff(const char *path, uint32_t from, uint32_t to);
/* Reads the ownership of path. 0 or a negative errno. */
int csvfs_get_owner(const char *path, struct csvfs_owner *o);
/* Sets (on = 1) or clears the multi-writer flag of path. */
int csvfs_set_multiwriter(const char *path, int on);
/* Sets or clears "pinned": ownership kept after the last close. */
int csvfs_set_pinned(const char *path, int on);
/* Sets or clears "strict": while a node writes, no other may even read. */
int csvfs_set_strict(const char *path, int on);

#endif /* CSVFS_CLIENT_API_H */

/*
 * csvfs wire protocol: the messages between a node's FUSE daemon (client)
 * and the volume's coordinator (metadata service). In standalone mode the
 * same encoded messages are handed to the in-process coordinator by a direct
 * call, so there is exactly one request interface.
 *
 * A message is a 64-byte header followed by "length" payload bytes. All
 * integers are little-endian. Payloads are sequences of fixed-width fields
 * and length-prefixed strings, encoded and decoded only in net/msg.c; the
 * layout of each is listed below next to its type number.
 *
 * Rules: a type number is never reused (a retired type keeps its number);
 * every length is checked before use; an unknown type is answered with
 * status EOPNOTSUPP; a malformed payload with EPROTO.
 *
 * Protocol changelog:
 *   1  first version (HANDOFF..CREATE, types 30-34, and RELEASE's
 *      CSVFS_OPEN_LAST were added before any release, so still 1).
 *      + HANDOFF, RECALL, RECALL_DONE, SET_IFLAGS (file ownership; new
 *        types only, numbers 30..33) and the RELEASE flag CSVFS_OPEN_LAST.
 *      + INVAL, INVAL_ACK (client caches; types 35, 36).
 *      + SET_RESERVE, PREALLOC, GROW (space management; new types only,
 *        numbers 40..42; a coordinator without them answers EOPNOTSUPP).
 *      + RELEASE flag CSVFS_OPEN_LAST_WRITE and SET_IFLAGS of
 *        CSVFS_IFL_STRICT (single-writer ownership, issue 11; an older
 *        coordinator ignores the flag and keeps the writer until LAST).
 *      + READDIR counts as cache interest (issue 18; no format change,
 *        but a node that caches listings needs a coordinator that
 *        records it: do not mix with a coordinator built before it;
 *        see "Client caches").
 *      + ELECT_STATE, ELECT_ANNOUNCE, ELECT_RESIGN, ELECT_MOVE,
 *        ELECT_RESTART (coordinator election, issue 15; numbers 60..64,
 *        multicast in the volume's Corosync group only, never over TCP;
 *        they replace the untyped CPG messages of before, so every node
 *        of a cluster must run this version).
 *      + Epoch fencing (issue 13): a request whose header epoch is
 *        neither 0 nor the coordinator's is refused with status
 *        -CSVFS_ESTALEEPOCH (-1006, include/csvfs/errors.h) before it
 *        runs; the node resends it once it follows the new coordinator.
 *        HELLO is always answered (it tells the epoch).
 *      + a retried SET_RESERVE or PREALLOC is answered from the client
 *        slot's record, as every other metadata change (coordinator side
 *        only; no message changes).
 *      + ELECT_DEPOSE (type 65) and the STATE flag
 *        CSVFS_ELECTF_LOST_DEPOSED (issue 13: a frozen coordinator is
 *        replaced; a node without them ignores the message, so every
 *        node of a cluster must run this version for it to work).
 *      + TMPFILE (O_TMPFILE, issue 14; type 43; a coordinator without it
 *        answers EOPNOTSUPP) and LINK of a TMPFILE file without a name;
 *        OPEN/RELEASE of directories (a removed open directory is kept
 *        until its last close; an older coordinator counts them too).
 *      + ALLOC flag CSVFS_ALLOC_SMALL and extents flagged CSVFS_EXT_SUB
 *        (sub-blocks, on-disk format 2 only); STATFS counts in 4 KiB
 *        units (bsize 4096) so that sub-blocks count exactly.
 */
#ifndef CSVFS_PROTO_H
#define CSVFS_PROTO_H

#include <stdint.h>

#define CSVFS_MSG_MAGIC		0x534d5643u	/* "CVMS" */
#define CSVFS_PROTO_VERSION	1
#define CSVFS_MSG_HDR_SIZE	64
#define CSVFS_MSG_MAX_PAYLOAD	(1u << 20)	/* 1 MiB */

/* Header flags. */
#define CSVFS_MSGF_REPLY	0x1	/* this is a reply to req_id */
#define CSVFS_MSGF_PUSH		0x2	/* coordinator-initiated (invalidation) */

struct csvfs_msg_hdr {
	uint32_t magic;		/* 0x00 CSVFS_MSG_MAGIC */
	uint16_t version;	/* 0x04 CSVFS_PROTO_VERSION */
	uint16_t type;		/* 0x06 CSVFS_MSG_* */
	uint32_t length;	/* 0x08 payload bytes after the header */
	uint32_t flags;		/* 0x0c CSVFS_MSGF_* */
	uint64_t req_id;	/* 0x10 chosen by the requester, echoed */
	uint64_t epoch;		/* 0x18 coordinator epoch the sender knows */
	uint32_t node_id;	/* 0x20 sending node */
	int32_t  status;	/* 0x24 replies: 0 or a negative errno */
	uint64_t incarnation;	/* 0x28 sender's mount incarnation */
	uint64_t seq;		/* 0x30 per-node request sequence (retries) */
	uint64_t reserved;	/* 0x38 zero */
};				/* 0x40 */
_Static_assert(sizeof(struct csvfs_msg_hdr) == CSVFS_MSG_HDR_SIZE, "msg hdr");

/*
 * File attributes on the wire (ATTR below = these fields in this order,
 * 136 bytes).
 */
struct csvfs_attr {
	uint64_t ino;		/* 0x00 */
	uint64_t generation;	/* 0x08 */
	uint32_t mode;		/* 0x10 */
	uint32_t nlink;		/* 0x14 */
	uint32_t uid;		/* 0x18 */
	uint32_t gid;		/* 0x1c */
	uint64_t size;		/* 0x20 */
	uint64_t alloc_bytes;	/* 0x28 bytes of allocated large blocks */
	uint64_t rdev;		/* 0x30 */
	int64_t  atime_sec;	/* 0x38 */
	int64_t  mtime_sec;	/* 0x40 */
	int64_t  ctime_sec;	/* 0x48 */
	uint32_t atime_nsec;	/* 0x50 */
	uint32_t mtime_nsec;	/* 0x54 */
	uint32_t ctime_nsec;	/* 0x58 */
	uint32_t flags;		/* 0x5c CSVFS_IFL_* of the inode */
	uint32_t own_node;	/* 0x60 owner node, 0 = none */
	uint32_t own_mode;	/* 0x64 CSVFS_OWN_* */
	uint64_t own_epoch;	/* 0x68 */
	uint64_t own_since_ns;	/* 0x70 */
	uint32_t blksize;	/* 0x78 large block size */
	uint32_t own_count;	/* 0x7c nodes holding it besides the writer
				 *      (readers; multi-writer holders) */
	uint64_t reserve_bytes;	/* 0x80 guaranteed space */
};				/* 0x88 */
_Static_assert(sizeof(struct csvfs_attr) == 136, "attr size");

/* Extent on the wire (EXT below), same fields as the on-disk extent. */
struct csvfs_wext {
	uint64_t lblk;		/* 0x00 */
	uint64_t pblk;		/* 0x08 */
	uint32_t len;		/* 0x10 */
	uint32_t flags;		/* 0x14 CSVFS_EXT_* */
};				/* 0x18 */

/* SETATTR valid bits. */
#define CSVFS_SA_MODE		0x001
#define CSVFS_SA_UID		0x002
#define CSVFS_SA_GID		0x004
#define CSVFS_SA_SIZE		0x008
#define CSVFS_SA_ATIME		0x010
#define CSVFS_SA_MTIME		0x020
#define CSVFS_SA_ATIME_NOW	0x040
#define CSVFS_SA_MTIME_NOW	0x080
#define CSVFS_SA_CTIME		0x100
#define CSVFS_SA_KILL_SUIDGID	0x200	/* clear S_ISUID, and S_ISGID if g+x */

/* FALLOCATE modes (as FALLOC_FL_*). */
#define CSVFS_FA_KEEP_SIZE	0x01
#define CSVFS_FA_PUNCH_HOLE	0x02
#define CSVFS_FA_ZERO_RANGE	0x10

/* ALLOC flags. */
#define CSVFS_ALLOC_AHEAD	0x1	/* sequential writer: allocate ahead */
#define CSVFS_ALLOC_SMALL	0x2	/* lblk 0, count = the byte end of a
					 * write: the coordinator may answer
					 * with one CSVFS_EXT_SUB extent (a
					 * sub-block run), else allocates the
					 * large blocks of [0, end) */

/* RENAME flags (as RENAME_*). */
#define CSVFS_RENAME_NOREPLACE	0x1
#define CSVFS_RENAME_EXCHANGE	0x2
#define CSVFS_RENAME_WHITEOUT	0x4	/* leave a whiteout (char device
					 * 0/0) at the old name; le32 uid,
					 * le32 gid of it follow the flags */

/* OPEN flags. */
#define CSVFS_OPEN_WRITE	0x1	/* the open has write access */
#define CSVFS_OPEN_TRUNC	0x2	/* O_TRUNC */
#define CSVFS_OPEN_LAST		0x4	/* RELEASE: the node's last open handle
					 * of the file: drop its ownership */
#define CSVFS_OPEN_LAST_WRITE	0x8	/* RELEASE: the node's last read-write
					 * handle; read-only ones stay open:
					 * the writer becomes a reader */

/* XATTR set flags (as XATTR_*). */
#define CSVFS_XATTR_CREATE	0x1
#define CSVFS_XATTR_REPLACE	0x2

/*
 * An application lock on the wire (LOCK below, 40 bytes): fcntl/OFD
 * (class 0) or flock (class 1) byte range [start, end], end inclusive,
 * UINT64_MAX = to the end of the file (lockd/plock.h).
 */
struct csvfs_wlock {
	uint32_t node;		/* 0x00 holder's node (requests: ignored,
				 *      the header's node_id counts) */
	uint32_t pid;		/* 0x04 holder's process on that node */
	uint64_t owner;		/* 0x08 the kernel's lock_owner */
	uint32_t type;		/* 0x10 0 unlock, 1 read, 2 write */
	uint32_t cls;		/* 0x14 0 posix (fcntl, OFD), 1 flock */
	uint64_t start;		/* 0x18 */
	uint64_t end;		/* 0x20 inclusive */
};				/* 0x28 */
_Static_assert(sizeof(struct csvfs_wlock) == 40, "wlock size");

/* LOCK_SET flags. */
#define CSVFS_LK_WAIT		0x1	/* queue on conflict (F_SETLKW) */
#define CSVFS_LK_RECLAIM	0x2	/* a held lock, to a new coordinator */

/*
 * Message types. Request payloads (→) and reply payloads (←).
 * STR = le16 length + bytes (no NUL). BYTES = le32 length + bytes.
 */
enum csvfs_msg_type {
	CSVFS_MSG_HELLO		= 1,	/* → le32 node, le64 incarnation, STR host
					 * ← le64 root_ino, le32 block_shift,
					 *   le64 epoch, 16 bytes uuid */
	CSVFS_MSG_LOOKUP	= 2,	/* → le64 parent, STR name  ← ATTR */
	CSVFS_MSG_GETATTR	= 3,	/* → le64 ino  ← ATTR */
	CSVFS_MSG_SETATTR	= 4,	/* → le64 ino, le32 valid, le32 mode,
					 *   le32 uid, le32 gid, le64 size,
					 *   le64 atime_sec, le32 atime_nsec,
					 *   le64 mtime_sec, le32 mtime_nsec
					 * ← ATTR */
	CSVFS_MSG_MKNOD		= 5,	/* → le64 parent, STR name, le32 mode,
					 *   le64 rdev, le32 uid, le32 gid
					 * ← ATTR (regular files too) */
	CSVFS_MSG_MKDIR		= 6,	/* → le64 parent, STR name, le32 mode,
					 *   le32 uid, le32 gid  ← ATTR */
	CSVFS_MSG_SYMLINK	= 7,	/* → le64 parent, STR name, STR target,
					 *   le32 uid, le32 gid  ← ATTR */
	CSVFS_MSG_UNLINK	= 8,	/* → le64 parent, STR name  ← (none) */
	CSVFS_MSG_RMDIR		= 9,	/* → le64 parent, STR name  ← (none) */
	CSVFS_MSG_RENAME	= 10,	/* → le64 parent, STR name, le64 newparent,
					 *   STR newname, le32 flags, [le32 uid,
					 *   le32 gid: with RENAME_WHITEOUT]
					 *   ← (none) */
	CSVFS_MSG_LINK		= 11,	/* → le64 ino, le64 newparent,
					 *   STR newname  ← ATTR */
	CSVFS_MSG_READLINK	= 12,	/* → le64 ino  ← STR target */
	CSVFS_MSG_READDIR	= 13,	/* → le64 ino, le64 cookie, le32 max
					 *   bytes, le32 plus, le32 max entries
					 * ← le32 count, le32 eof, count x
					 *   {le64 ino, le64 next_cookie, u8 type,
					 *    STR name, [ATTR if plus]} */
	CSVFS_MSG_STATFS	= 14,	/* → (none)
					 * ← le32 bsize, le64 blocks, le64 bfree,
					 *   le64 bavail, le64 files, le64 ffree,
					 *   le64 reserved, le64 provisioned */
	CSVFS_MSG_OPEN		= 15,	/* → le64 ino, le32 flags  ← ATTR */
	CSVFS_MSG_RELEASE	= 16,	/* → le64 ino, le32 flags  ← (none) */
	CSVFS_MSG_GET_EXTENTS	= 17,	/* → le64 ino, le64 lblk, le64 count,
					 *   le32 max extents
					 * ← le32 n, n x EXT (sorted; may stop
					 *   early: ask again from the end) */
	CSVFS_MSG_ALLOC		= 18,	/* → le64 ino, le64 lblk, le64 count,
					 *   le32 flags, le32 max extents
					 * ← ATTR, le32 n, n x EXT covering at
					 *   least [lblk, lblk+count) */
	CSVFS_MSG_WRITE_DONE	= 19,	/* → le64 ino, le64 size (new size if
					 *   larger), le32 mtime_valid,
					 *   le64 mtime_sec, le32 mtime_nsec,
					 *   le32 n, n x {le64 lblk, le64 count}
					 *   ranges now written  ← ATTR */
	CSVFS_MSG_FALLOCATE	= 20,	/* → le64 ino, le32 mode, le64 off,
					 *   le64 len  ← ATTR */
	CSVFS_MSG_INLINE_READ	= 21,	/* → le64 ino, le64 off, le32 len
					 * ← BYTES data */
	CSVFS_MSG_INLINE_WRITE	= 22,	/* → le64 ino, le64 off, BYTES data
					 * ← ATTR (flags without INLINE when
					 *   the file no longer fits inline:
					 *   nothing written, use ALLOC) */
	CSVFS_MSG_GETXATTR	= 23,	/* → le64 ino, STR name  ← BYTES value */
	CSVFS_MSG_SETXATTR	= 24,	/* → le64 ino, STR name, BYTES value,
					 *   le32 flags  ← (none) */
	CSVFS_MSG_LISTXATTR	= 25,	/* → le64 ino  ← BYTES names, each
					 *   NUL-terminated */
	CSVFS_MSG_REMOVEXATTR	= 26,	/* → le64 ino, STR name  ← (none) */
	CSVFS_MSG_FSYNC		= 27,	/* → le64 ino (0 = whole volume)
					 * ← (none), after the journal commit */
	CSVFS_MSG_LSEEK		= 28,	/* → le64 ino, le64 off, le32 whence
					 * ← le64 off */
	CSVFS_MSG_FORGET	= 29,	/* → le64 ino: the node dropped its last
					 *   reference  ← (none) */
	CSVFS_MSG_HANDOFF	= 30,	/* → le64 ino, le32 from (the exclusive
					 *   owner in the caller's view, 0 =
					 *   none), le32 to  ← ATTR after the
					 *   move is committed */
	CSVFS_MSG_RECALL	= 31,	/* push → le64 ino, le32 to: flush the
					 *   file, drop its caches, revoke its
					 *   handles, then send RECALL_DONE */
	CSVFS_MSG_RECALL_DONE	= 32,	/* → le64 ino, le32 status (0 or a
					 *   negative errno)  ← (none) */
	CSVFS_MSG_SET_IFLAGS	= 33,	/* → le64 ino, le32 set, le32 clear
					 *   (CSVFS_IFL_MULTIWRITER / PINNED /
					 *   STRICT only)  ← ATTR */
	CSVFS_MSG_CREATE	= 34,	/* → as MKNOD (regular files only),
					 *   le32 open flags  ← ATTR: created
					 *   and opened in one round trip */
	CSVFS_MSG_INVAL		= 35,	/* push → le64 inval_id (0: no ack
					 *   wanted), le32 n, n × le64 ino:
					 *   drop the cached attributes of
					 *   each ino and the cached entries
					 *   of each directory ino, then send
					 *   INVAL_ACK */
	CSVFS_MSG_INVAL_ACK	= 36,	/* → le64 inval_id  ← (none) */
	/* 37..39: unused; space management from 40. */
	CSVFS_MSG_SET_RESERVE	= 40,	/* → le64 ino, le64 bytes (rounded up to
					 *   whole large blocks; 0 removes)
					 * ← ATTR. -ENOSPC when the volume
					 *   cannot hold the extra space back */
	CSVFS_MSG_PREALLOC	= 41,	/* → le64 ino, le64 size (0 = the file's
					 *   size; larger also extends the
					 *   file)  ← ATTR: every block of
					 *   [0, size) allocated and written
					 *   (reads zeroes, no UNWRITTEN) */
	CSVFS_MSG_GROW		= 42,	/* → (none)  ← le64 old total blocks,
					 *   le64 new total blocks: the volume
					 *   now covers the device (re-read) */
	CSVFS_MSG_TMPFILE	= 43,	/* → le64 parent, le32 mode, le32 uid,
					 *   le32 gid, le32 open flags  ← ATTR:
					 *   a regular file without a name
					 *   (O_TMPFILE: nlink 0, an orphan,
					 *   CSVFS_IFL_TMPFILE), opened; LINK
					 *   may give it its first name */
	/* 44..49: unused; application locks from 50 (meta/mds/mds_lock.c). */
	CSVFS_MSG_LOCK_SET	= 50,	/* → le64 ino, LOCK, le32 flags
					 *   (CSVFS_LK_*), le64 wait_id (WAIT:
					 *   unique on the node)  ← (none).
					 *   Status: 0 granted (or unlocked);
					 *   -EAGAIN conflict; -EINPROGRESS
					 *   queued: LOCK_WAKE wait_id follows
					 *   when it may be granted, then send
					 *   it again; -EDEADLK; -ERESTART the
					 *   coordinator is in its grace period
					 *   (only RECLAIM now): retry soon;
					 *   -ENOLCK a RECLAIM conflicts */
	CSVFS_MSG_LOCK_GET	= 51,	/* → le64 ino, LOCK  ← le32 found,
					 *   LOCK (the conflicting holder if
					 *   found, else zeroes) (F_GETLK).
					 *   -ERESTART as LOCK_SET */
	CSVFS_MSG_LOCK_WAKE	= 52,	/* push → le64 wait_id: the queued
					 *   request may be granted now: send
					 *   it again (it left the queue) */
	CSVFS_MSG_LOCK_CANCEL	= 53,	/* → le64 ino, le64 wait_id: leave the
					 *   queue (interrupted)  ← (none) */
	CSVFS_MSG_LOCK_RECLAIM_DONE = 54, /* → (none): the node has sent
					 *   every lock it holds (RECLAIM)
					 *   ← (none) */
	CSVFS_MSG_LOCK_LIST	= 55,	/* → le64 ino  ← le32 n, n × LOCK:
					 *   every lock held on ino */
	/* 56..59: reserved for application locks. */
	/*
	 * Election (fs/elect.c). Multicast with CPG_TYPE_AGREED in the
	 * volume's Corosync group, so every member gets them, with the
	 * group's configuration changes, in one total order; a coordinator
	 * answers them over TCP with EOPNOTSUPP. Header: node_id = sender,
	 * epoch = the highest coordinator epoch the sender knows, req_id,
	 * seq, incarnation 0.
	 * VIEW = le32 round, le32 n (1..CSVFS_ELECT_MAX_MEMBERS),
	 *   n x {le32 node, le32 pid} sorted: the group's members as the
	 *   sender saw them and the round of the election within that
	 *   configuration (0 after the change, +1 per MOVE or RESTART).
	 */
	CSVFS_MSG_ELECT_STATE	= 60,	/* VIEW, le32 flags (CSVFS_ELECTF_*),
					 *   le32 preferred node (0: none):
					 *   every member sends one per round */
	CSVFS_MSG_ELECT_ANNOUNCE = 61,	/* VIEW, le32 port: the sender serves
					 *   as coordinator with the header's
					 *   epoch (written on disk) */
	CSVFS_MSG_ELECT_RESIGN	= 62,	/* (none): the sender stopped serving
					 *   and wrote everything */
	CSVFS_MSG_ELECT_MOVE	= 63,	/* le32 node: csvfsctl coordinator
					 *   move; a new round */
	CSVFS_MSG_ELECT_RESTART	= 64,	/* (none): quorum came back at the
					 *   sender; a new round */
	CSVFS_MSG_ELECT_DEPOSE	= 65,	/* VIEW, le32 node, le32 pid: that
					 *   member (node, pid) of the VIEW is
					 *   frozen (its heartbeat slot has not
					 *   advanced for CSVFS_DEPOSE_MS): it
					 *   is out of the elections of this
					 *   configuration and a new round
					 *   starts without it (fs/elect.c) */
	/* 66..69: reserved for the election. */
	CSVFS_MSG_TYPE_MAX
};

/* Election: at most this many group members (Corosync's CPG_MEMBERS_MAX). */
#define CSVFS_ELECT_MAX_MEMBERS	128

/* ELECT_STATE flags. */
#define CSVFS_ELECTF_SERVING	0x1	/* the sender serves as coordinator */
#define CSVFS_ELECTF_QUORATE	0x2	/* the sender's node has quorum */
#define CSVFS_ELECTF_SYNCED	0x4	/* the sender took part in an earlier
					 * round: its preferred node counts */
#define CSVFS_ELECTF_LOST_NODE	0x8	/* the coordinator it followed went
					 * away with its node, unresigned */
#define CSVFS_ELECTF_LOST_PROC	0x10	/* ... its process ended (its node
					 * stays): it writes nothing more */
#define CSVFS_ELECTF_LOST_DEPOSED 0x20	/* ... it was deposed (ELECT_DEPOSE):
					 * it may wake and still hold an
					 * epoch proof (csvfs/fencing.h) */

/*
 * Client caches (net/mcache.h). A node may answer LOOKUP, GETATTR and
 * READDIR from its cache for at most CSVFS_CACHE_LEASE_MS after the send
 * time of the latest request the coordinator answered (the lease, renewed
 * by every answer; once it ran out the node drops everything it cached).
 * LOOKUP, GETATTR and READDIR (the directory, and for readdirplus each
 * entry) count as interest; every change of a directory entry stamps the
 * directory's inode, so it invalidates the directory's cached listing.
 * The coordinator records which nodes fetched what; a
 * change is answered only after every such node acknowledged an INVAL, or,
 * for a node that does not, CSVFS_CACHE_LEASE_MS after the last request it
 * received from that node (its entries have expired by then). A new
 * coordinator answers changes only CSVFS_CACHE_LEASE_MS after it started
 * (entries filled by its predecessor have expired).
 */
#define CSVFS_CACHE_LEASE_MS	1000
#define CSVFS_INVAL_WAIT_MS	1500	/* wait for acks; > the lease */

#define CSVFS_MSG_BIT(t)	(1ull << (t))

/*
 * The requests that change metadata: the one list of them. The coordinator
 * (meta/mds/mds.c mds_dispatch) resyncs its allocator after one of them failed
 * and sends the cache invalidations of one that succeeded; each is also
 * recorded for retries (below). tests/unit/proto_test.c checks both lists
 * against the coordinator's table.
 */
#define CSVFS_MSG_MUTATING_MASK						\
	(CSVFS_MSG_BIT(CSVFS_MSG_SETATTR) | CSVFS_MSG_BIT(CSVFS_MSG_MKNOD) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_MKDIR) | CSVFS_MSG_BIT(CSVFS_MSG_SYMLINK) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_UNLINK) | CSVFS_MSG_BIT(CSVFS_MSG_RMDIR) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_RENAME) | CSVFS_MSG_BIT(CSVFS_MSG_LINK) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_RELEASE) | CSVFS_MSG_BIT(CSVFS_MSG_ALLOC) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_WRITE_DONE) |				\
	 CSVFS_MSG_BIT(CSVFS_MSG_FALLOCATE) |					\
	 CSVFS_MSG_BIT(CSVFS_MSG_INLINE_WRITE) |				\
	 CSVFS_MSG_BIT(CSVFS_MSG_SETXATTR) |					\
	 CSVFS_MSG_BIT(CSVFS_MSG_REMOVEXATTR) |				\
	 CSVFS_MSG_BIT(CSVFS_MSG_SET_IFLAGS) | CSVFS_MSG_BIT(CSVFS_MSG_CREATE) |	\
	 CSVFS_MSG_BIT(CSVFS_MSG_SET_RESERVE) |				\
	 CSVFS_MSG_BIT(CSVFS_MSG_PREALLOC) | CSVFS_MSG_BIT(CSVFS_MSG_TMPFILE))

/*
 * Retries. A node sends a request again, unchanged (same incarnation and
 * seq), after its connection broke or the coordinator changed. The
 * coordinator records the requests below, with their replies, in the
 * node's client slot (include/csvfs/ondisk.h, journaled with the change),
 * and answers a retry of one of them from there: a retried mkdir does not
 * fail with EEXIST, a retried unlink not with ENOENT, a retried
 * SET_RESERVE or PREALLOC does not undo another node's later change. A
 * node keeps at most CSVFS_CLIENT_RECS of them in flight, so a retry finds
 * its record. Recorded: every metadata-changing request, and OPEN, which
 * changes only the inode's ownership (a second open would count a second
 * holder), so needs no allocator resync.
 */
#define CSVFS_MSG_RECORDED_MASK						\
	(CSVFS_MSG_MUTATING_MASK | CSVFS_MSG_BIT(CSVFS_MSG_OPEN))

/* The masks are 64 bits: a type from 64 on (the election's CPG messages
 * end there) can never be recorded or mutating. */
_Static_assert(CSVFS_MSG_ELECT_STATE < 64 && CSVFS_MSG_LOCK_LIST < 64,
	       "request masks are 64 bits");

static inline int csvfs_msg_mutating(unsigned type)
{
	return type < 64 && (CSVFS_MSG_MUTATING_MASK >> type) & 1;
}

static inline int csvfs_msg_recorded(unsigned type)
{
	return type < 64 && (CSVFS_MSG_RECORDED_MASK >> type) & 1;
}

#endif /* CSVFS_PROTO_H */

/*
 * csvfs domain errors. Inside csvfs every function returns 0 or a negative
 * number: -errno for system errors, -CSVFS_E* (below, in 1000..1099) for
 * conditions errno has no name for. csvfs_strerror() names both. At the FUSE
 * reply and in a wire reply a domain error is mapped to an errno with
 * csvfs_errno() (EIO for corruption, ESTALE for a stale epoch...).
 */
#ifndef CSVFS_ERRORS_H
#define CSVFS_ERRORS_H

#define CSVFS_EBASE	1000
#define CSVFS_EBADMAGIC	1000	/* block has the wrong magic number */
#define CSVFS_EBADBLK	1001	/* block claims another block number */
#define CSVFS_EFOREIGN	1002	/* block belongs to another volume */
#define CSVFS_EVERSION	1003	/* unsupported format version */
#define CSVFS_EBADCRC	1004	/* checksum mismatch */
#define CSVFS_ECORRUPT	1005	/* structure inconsistent */
#define CSVFS_ESTALEEPOCH 1006	/* a newer coordinator epoch exists */
#define CSVFS_ELEASE	1007	/* ownership lost (handed off or broken) */
#define CSVFS_ENOTCSVFS	1008	/* device holds no csvfs volume */
#define CSVFS_ETOOSMALL	1009	/* device too small */
#define CSVFS_EJOURNAL	1010	/* journal unusable */
#define CSVFS_ELIVE	1011	/* another node's heartbeat is alive */
#define CSVFS_EMAX	1099

/* Human text for -errno or -CSVFS_E*; never NULL. */
const char *csvfs_strerror(int err);
/* Maps a negative csvfs error to a negative errno for FUSE and the wire. */
int csvfs_errno(int err);

#endif /* CSVFS_ERRORS_H */

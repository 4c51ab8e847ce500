/*
 * csvfs domain errors. Inside csvfs every function returns 0 or a negative
 * number: -errno for system errors, -CSVFS_E* (below, in 1000..1099) for
 * conditions errno has no name for. csvfs_strerror() names both. At the FUSE
 * reply and in a wire reply a domain error is mapped to an errno with
 * csvfs_errno() (EIO for corruption, ESTALE for a stale epoch...).
 *
 * Header-only, with nothing of csvfs included: the bottom layer, so every
 * folder names its errors without linking meta/.
 *
 * Mapping used by csvfs_errno(), and why:
 *
 *   domain error         errno     reason
 *   -------------------  --------  -----------------------------------------
 *   CSVFS_EBADMAGIC      EIO       metadata block unreadable as its type
 *   CSVFS_EBADBLK        EIO       misdirected write: the block is elsewhere
 *   CSVFS_EFOREIGN       EIO       block of another volume on our device
 *   CSVFS_EVERSION       EINVAL    as mount(2) for a format it cannot mount
 *   CSVFS_EBADCRC        EUCLEAN   filesystem corrupted (ext4 EFSCORRUPTED)
 *   CSVFS_ECORRUPT       EUCLEAN   filesystem corrupted (ext4 EFSCORRUPTED)
 *   CSVFS_ESTALEEPOCH    ESTALE    a newer coordinator owns the volume
 *   CSVFS_ELEASE         EIO       file ownership lost: the write is refused
 *   CSVFS_ENOTCSVFS      EINVAL    as mount(2) for a device of another type
 *   CSVFS_ETOOSMALL      ENOSPC    the volume does not fit on the device
 *   CSVFS_EJOURNAL       EIO       journal unusable: nothing can commit
 *   CSVFS_ELIVE          EBUSY     another node has the volume in use
 *   other 1012..1099     EIO       not assigned yet: fail safe
 *   anything else        itself    already an errno (or 0)
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

#include <errno.h>
#include <limits.h>
#include <string.h>

struct csvfs_errdesc {
	const char *text;
	int errnum;		/* positive errno it maps to */
};

/* Entry of a negative domain error, NULL for an errno or unassigned code. */
static inline const struct csvfs_errdesc *csvfs_errdesc(int err)
{
	static const struct csvfs_errdesc tab[] = {
		[CSVFS_EBADMAGIC - CSVFS_EBASE]   = { "bad magic number", EIO },
		[CSVFS_EBADBLK - CSVFS_EBASE]     = { "block number mismatch",
						      EIO },
		[CSVFS_EFOREIGN - CSVFS_EBASE]    = {
			"block belongs to another volume", EIO },
		[CSVFS_EVERSION - CSVFS_EBASE]    = {
			"unsupported format version", EINVAL },
		[CSVFS_EBADCRC - CSVFS_EBASE]     = { "bad checksum", EUCLEAN },
		[CSVFS_ECORRUPT - CSVFS_EBASE]    = {
			"filesystem structure corrupted", EUCLEAN },
		[CSVFS_ESTALEEPOCH - CSVFS_EBASE] = {
			"stale coordinator epoch", ESTALE },
		[CSVFS_ELEASE - CSVFS_EBASE]      = { "file ownership lost",
						      EIO },
		[CSVFS_ENOTCSVFS - CSVFS_EBASE]   = { "not a csvfs volume",
						      EINVAL },
		[CSVFS_ETOOSMALL - CSVFS_EBASE]   = { "device too small",
						      ENOSPC },
		[CSVFS_EJOURNAL - CSVFS_EBASE]    = { "journal unusable", EIO },
		[CSVFS_ELIVE - CSVFS_EBASE]       = {
			"volume in use by a live node", EBUSY },
	};

	if (err > -CSVFS_EBASE || err < -CSVFS_EMAX)
		return NULL;
	if ((unsigned)(-err - CSVFS_EBASE) >= sizeof(tab) / sizeof(tab[0]))
		return NULL;
	return &tab[-err - CSVFS_EBASE];
}

static inline int csvfs_is_domain(int err)
{
	return err <= -CSVFS_EBASE && err >= -CSVFS_EMAX;
}

/*
 * Human text for -errno or -CSVFS_E*; never NULL. Thread-safe: only
 * static strings are returned; strerrordesc_np (glibc 2.32) gives the text
 * of an errno without strerror()'s shared buffer. A positive errno is
 * accepted too, so a log line never prints "(null)".
 */
static inline const char *csvfs_strerror(int err)
{
	const struct csvfs_errdesc *d = csvfs_errdesc(err);
	const char *text;

	if (d && d->text)
		return d->text;
	if (csvfs_is_domain(err))
		return "unknown csvfs error";
	if (err == 0)
		return "success";
	if (err == INT_MIN)
		return "unknown error";
	text = strerrordesc_np(err < 0 ? -err : err);
	return text ? text : "unknown error";
}

/* Maps a negative csvfs error to a negative errno for FUSE and the wire. */
static inline int csvfs_errno(int err)
{
	const struct csvfs_errdesc *d = csvfs_errdesc(err);

	if (d && d->errnum)
		return -d->errnum;
	if (csvfs_is_domain(err))
		return -EIO;
	return err;
}

#endif /* CSVFS_ERRORS_H */

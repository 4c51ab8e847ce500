/*
 * errors: names for csvfs's domain errors (include/csvfs/errors.h) and their
 * mapping to an errno at the edges (FUSE replies, wire replies).
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
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "csvfs/errors.h"

struct csvfs_errdesc {
	const char *text;
	int errnum;		/* positive errno it maps to */
};

static const struct csvfs_errdesc csvfs_errtab[] = {
	[CSVFS_EBADMAGIC - CSVFS_EBASE]   = { "bad magic number", EIO },
	[CSVFS_EBADBLK - CSVFS_EBASE]     = { "block number mismatch", EIO },
	[CSVFS_EFOREIGN - CSVFS_EBASE]    = { "block belongs to another volume",
					      EIO },
	[CSVFS_EVERSION - CSVFS_EBASE]    = { "unsupported format version",
					      EINVAL },
	[CSVFS_EBADCRC - CSVFS_EBASE]     = { "bad checksum", EUCLEAN },
	[CSVFS_ECORRUPT - CSVFS_EBASE]    = { "filesystem structure corrupted",
					      EUCLEAN },
	[CSVFS_ESTALEEPOCH - CSVFS_EBASE] = { "stale coordinator epoch",
					      ESTALE },
	[CSVFS_ELEASE - CSVFS_EBASE]      = { "file ownership lost", EIO },
	[CSVFS_ENOTCSVFS - CSVFS_EBASE]   = { "not a csvfs volume", EINVAL },
	[CSVFS_ETOOSMALL - CSVFS_EBASE]   = { "device too small", ENOSPC },
	[CSVFS_EJOURNAL - CSVFS_EBASE]    = { "journal unusable", EIO },
	[CSVFS_ELIVE - CSVFS_EBASE]       = { "volume in use by a live node",
					      EBUSY },
};

#define CSVFS_NERRTAB	(sizeof(csvfs_errtab) / sizeof(csvfs_errtab[0]))

/* Entry of a negative domain error, NULL for an errno or unassigned code. */
static const struct csvfs_errdesc *csvfs_errdesc(int err)
{
	if (err > -CSVFS_EBASE || err < -CSVFS_EMAX)
		return NULL;
	if ((unsigned)(-err - CSVFS_EBASE) >= CSVFS_NERRTAB)
		return NULL;
	return &csvfs_errtab[-err - CSVFS_EBASE];
}

static int csvfs_is_domain(int err)
{
	return err <= -CSVFS_EBASE && err >= -CSVFS_EMAX;
}

/*
 * Thread-safe: only static strings are returned. strerrordesc_np (glibc
 * 2.32) gives the text of an errno without strerror()'s shared buffer.
 * A positive errno is accepted too, so a log line never prints "(null)".
 */
const char *csvfs_strerror(int err)
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

int csvfs_errno(int err)
{
	const struct csvfs_errdesc *d = csvfs_errdesc(err);

	if (d && d->errnum)
		return -d->errnum;
	if (csvfs_is_domain(err))
		return -EIO;
	return err;
}

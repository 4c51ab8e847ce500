/*
 * keyfile: the cluster key. Every node of a cluster holds the same 32
 * random bytes; net/tls.c derives the TLS 1.3 pre-shared key from them, so a
 * node without the key is refused before any request is read.
 *
 * File format: 64 lowercase hex characters and a newline, mode 0600, owned
 * by whoever runs the daemon (root). Like ssh with a private key, a key file
 * that group or others may access is refused: a key that others could have
 * read is no longer a secret.
 */
#ifndef CSVFS_KEYFILE_H
#define CSVFS_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_DEFAULT_PATH	"/etc/csvfs/cluster.key"
#define KEYFILE_KEY_LEN		32

/*
 * Writes a fresh key (RAND_bytes) to path with mode 0600. The key is
 * written to a temporary file in the same directory, synced, then linked
 * into place, so a crash never leaves a half-written key. Without force an
 * existing file is kept and -EEXIST returned; with force it is replaced.
 * The parent directory is created (0755) if it is missing.
 *
 * Returns 0, -EEXIST, -EIO (no randomness) or the -errno of the failing
 * system call. err (may be NULL) receives a message naming the file and
 * the cause. Any thread.
 */
int keyfile_generate(const char *path, int force, char *err, size_t errlen);

/*
 * Reads the key of path into key. Returns 0 or
 *   -ENOENT   the file does not exist
 *   -EPERM    group or others have access to it (mode & 077), or it is not
 *             a regular file
 *   -EBADMSG  wrong length (not 64 hex characters + optional newline)
 *   -EILSEQ   a character that is not a hex digit
 *   -errno    open/read failed otherwise (-EACCES...)
 * err (may be NULL) receives a message naming the file and the cause,
 * e.g. "/etc/csvfs/cluster.key: permissions 0644 are too open (the key
 * must be accessible by its owner only: chmod 600 /etc/csvfs/cluster.key)".
 * key is zeroed on error. Any thread.
 */
int keyfile_load(const char *path, uint8_t key[KEYFILE_KEY_LEN], char *err,
		 size_t errlen);

#endif /* CSVFS_KEYFILE_H */

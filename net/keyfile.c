/*
 * keyfile: generate and load the cluster key (see keyfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "net/keyfile.h"

/* 64 hex digits + newline, and room to notice a longer file. */
#define KEY_HEX_LEN	(2 * KEYFILE_KEY_LEN)
#define READ_MAX	(KEY_HEX_LEN + 8)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path, created (one level, 0755) if missing. */
static int ensure_dir(const char *path, char *dir, size_t dirlen)
{
	char tmp[4096];
	struct stat st;

	if (strlen(path) >= sizeof(tmp) || strlen(path) >= dirlen)
		return -ENAMETOOLONG;
	strcpy(tmp, path);
	snprintf(dir, dirlen, "%s", dirname(tmp));
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (errno != ENOENT)
		return -errno;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int keyfile_generate(const char *path, int force, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t key[KEYFILE_KEY_LEN];
	char text[KEY_HEX_LEN + 1];
	char dir[4096], tmp[4200];
	int fd = -1, dfd = -1, linked = 0, rc, i;

	rc = ensure_dir(path, dir, sizeof(dir));
	if (rc) {
		set_err(err, errlen, "%s: cannot create its directory: %s",
			path, strerror(-rc));
		return rc;
	}
	if (!force && access(path, F_OK) == 0) {
		set_err(err, errlen, "%s: already exists (use --force to "
			"replace it; every node then needs the new key)", path);
		return -EEXIST;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		set_err(err, errlen, "%s: no random bytes available", path);
		return -EIO;
	}
	for (i = 0; i < KEYFILE_KEY_LEN; i++) {
		text[2 * i] = hex[key[i] >> 4];
		text[2 * i + 1] = hex[key[i] & 15];
	}
	text[KEY_HEX_LEN] = '\n';
	OPENSSL_cleanse(key, sizeof(key));

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot create: %s", tmp,
			strerror(errno));
		goto out;
	}
	rc = write_all(fd, text, sizeof(text));
	if (!rc && fsync(fd))
		rc = -errno;
	if (rc) {
		set_err(err, errlen, "%s: cannot write: %s", tmp,
			strerror(-rc));
		goto out;
	}
	/*
	 * Without force, link() is the O_EXCL of the final name: it fails if
	 * the key appeared meanwhile, and never exposes a partial file.
	 */
	if (force) {
		if (rename(tmp, path)) {
			rc = -errno;
			set_err(err, errlen, "%s: cannot replace: %s", path,
				strerror(errno));
			goto out;
		}
	} else {
		if (link(tmp, path)) {
			rc = -errno;
			if (rc == -EEXIST)
				set_err(err, errlen, "%s: already exists (use "
					"--force to replace it; every node "
					"then needs the new key)", path);
			else
				set_err(err, errlen, "%s: cannot create: %s",
					path, strerror(errno));
			goto out;
		}
		unlink(tmp);
	}
	linked = 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd)) {
			rc = -errno;
			set_err(err, errlen, "%s: cannot sync directory: %s",
				dir, strerror(errno));
		}
		close(dfd);
	}
out:
	OPENSSL_cleanse(text, sizeof(text));
	if (fd >= 0)
		close(fd);
	if (!linked)
		unlink(tmp);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int keyfile_load(const char *path, uint8_t key[KEYFILE_KEY_LEN], char *err,
		 size_t errlen)
{
	char text[READ_MAX];
	struct stat st;
	size_t len = 0;
	int fd, rc = 0, i;

	memset(key, 0, KEYFILE_KEY_LEN);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			set_err(err, errlen, "%s: no cluster key (create one "
				"with 'csvfsctl keygen' and copy it to every "
				"node)", path);
		else
			set_err(err, errlen, "%s: cannot open: %s", path,
				strerror(errno));
		return rc;
	}
	/* Checked on the open file, so a swap after the check is moot. */
	if (fstat(fd, &st)) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot stat: %s", path,
			strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EPERM;
		set_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		set_err(err, errlen, "%s: permissions %04o are too open (the "
			"key must be accessible by its owner only: chmod 600 "
			"%s)", path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while (len < sizeof(text)) {
		ssize_t n = read(fd, text + len, sizeof(text) - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			set_err(err, errlen, "%s: cannot read: %s", path,
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == KEY_HEX_LEN + 1 && text[KEY_HEX_LEN] == '\n')
		len--;
	else if (len == KEY_HEX_LEN + 2 && text[KEY_HEX_LEN] == '\r' &&
		 text[KEY_HEX_LEN + 1] == '\n')
		len -= 2;
	if (len != KEY_HEX_LEN) {
		rc = -EBADMSG;
		set_err(err, errlen, "%s: bad length: a cluster key is %d hex "
			"characters and a newline, the file has %s%zu bytes",
			path, KEY_HEX_LEN, len >= sizeof(text) ? "at least " :
			"", len);
		goto out;
	}
	for (i = 0; i < KEYFILE_KEY_LEN; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			rc = -EILSEQ;
			set_err(err, errlen, "%s: not hex: bad character at "
				"offset %d", path, hi < 0 ? 2 * i : 2 * i + 1);
			goto out;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
out:
	OPENSSL_cleanse(text, sizeof(text));
	if (rc)
		OPENSSL_cleanse(key, KEYFILE_KEY_LEN);
	close(fd);
	return rc;
}

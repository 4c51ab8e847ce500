/*
 * dev: O_DIRECT access to the shared device or image file.
 *
 * Zeroing prefers offloads: a punched hole keeps an image file sparse and
 * costs no writes; BLKZEROOUT lets a block device (or a loop device backed
 * by a file) zero without data transfer where it can, and the kernel falls
 * back to writing zeroes where it cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/dev.h"

void *dev_alloc_buf(size_t len)
{
	void *p = NULL;
	size_t sz = (len + DEV_ALIGN - 1) & ~(size_t)(DEV_ALIGN - 1);

	if (sz == 0)
		sz = DEV_ALIGN;
	if (posix_memalign(&p, DEV_ALIGN, sz))
		return NULL;
	memset(p, 0, sz);
	return p;
}

int dev_refresh_size(struct dev *d)
{
	struct stat st;
	uint64_t size;

	if (fstat(d->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(d->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return -ENOTBLK;
	}
	__atomic_store_n(&d->size, size, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Whether [off, off+len) lies on the device. A range past the size known
 * so far makes us look again: after an online grow another node's
 * coordinator hands out blocks past the end this node saw at mount.
 */
static int in_range(struct dev *d, uint64_t off, size_t len)
{
	if (off + len <= __atomic_load_n(&d->size, __ATOMIC_RELAXED))
		return 1;
	return !dev_refresh_size(d) && off + len <= d->size;
}

int dev_open(const char *path, int flags, struct dev **out)
{
	struct dev *d;
	struct stat st;
	int oflags = O_CLOEXEC;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->rdonly = !!(flags & DEV_RDONLY);
	d->path = strdup(path);
	if (!d->path) {
		rc = -ENOMEM;
		goto out;
	}
	oflags |= d->rdonly ? O_RDONLY : O_RDWR;
	if (!(flags & DEV_BUFFERED))
		oflags |= O_DIRECT;
	d->fd = open(path, oflags);
	if (d->fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(d->fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	d->is_blkdev = S_ISBLK(st.st_mode);
	d->sector = 512;
	if (d->is_blkdev) {
		int ssz = 0;

		if (ioctl(d->fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
			d->sector = (unsigned)ssz;
	}
	rc = dev_refresh_size(d);
	if (rc)
		goto out;
	*out = d;
	return 0;
out:
	dev_close(d);
	return rc;
}

void dev_close(struct dev *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}

int dev_pread(struct dev *d, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (!in_range(d, off, len))
		return -EIO;
	while (done < len) {
		ssize_t n = pread(d->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int dev_pwrite(struct dev *d, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (d->rdonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EIO;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_WRITE, off, buf, len);
	while (done < len) {
		ssize_t n = pwrite(d->fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int dev_flush(struct dev *d)
{
	if (d->rdonly)
		return 0;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_FLUSH, 0, NULL, 0);
	if (fdatasync(d->fd) < 0)
		return -errno;
	return 0;
}

int dev_zero(struct dev *d, uint64_t off, uint64_t len)
{
	if (d->rdonly)
		return -EROFS;
	if (len == 0)
		return 0;
	if (!in_range(d, off, len))
		return -EIO;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_ZERO, off, NULL, len);
	if (d->is_blkdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(d->fd, BLKZEROOUT, range) < 0)
			return -errno;
		return 0;
	}
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE, (off_t)off,
		      (off_t)len) == 0)
		return 0;
	return -errno;
}

int dev_zero_bytes(struct dev *d, uint64_t off, uint64_t len)
{
	uint64_t a0, a1, edges[2], k;
	uint8_t *buf;
	int rc = 0;

	if (len == 0)
		return 0;
	a0 = (off + DEV_ALIGN - 1) & ~(uint64_t)(DEV_ALIGN - 1);
	a1 = (off + len) & ~(uint64_t)(DEV_ALIGN - 1);
	if (a0 < a1) {
		rc = dev_zero(d, a0, a1 - a0);
		if (rc)
			return rc;
	}
	if (a0 < a1 && off == a0 && off + len == a1)
		return 0;
	/* Partial 4 KiB edges: read, clear, write back. */
	buf = dev_alloc_buf(DEV_ALIGN);
	if (!buf)
		return -ENOMEM;
	edges[0] = off & ~(uint64_t)(DEV_ALIGN - 1);
	edges[1] = (off + len - 1) & ~(uint64_t)(DEV_ALIGN - 1);
	for (k = 0; k < 2 && !rc; k++) {
		uint64_t s = edges[k], from, to;

		if (k == 1 && edges[1] == edges[0])
			break;
		if (s >= a0 && s + DEV_ALIGN <= a1)
			continue;
		from = off > s ? off - s : 0;
		to = off + len < s + DEV_ALIGN ? off + len - s : DEV_ALIGN;
		rc = dev_pread(d, buf, DEV_ALIGN, s);
		if (!rc) {
			memset(buf + from, 0, to - from);
			rc = dev_pwrite(d, buf, DEV_ALIGN, s);
		}
	}
	free(buf);
	return rc;
}

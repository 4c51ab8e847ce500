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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/log.h"
#include "meta/dev.h"
#include "csvfs/fencing.h"

/*
 * The watchdog's table of writes in flight: a slot per concurrent write,
 * claimed with a compare-and-swap of its start time (0: free), so a write
 * costs one clock read and two atomic stores. More concurrent writes than
 * slots share the last one's start (the oldest still counts).
 */
#define WD_SLOTS	256

struct dev_wd {
	uint64_t start_ns[WD_SLOTS];	/* atomic; 0 = free */
	unsigned deadline_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	int stop;
	char path[64];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Marks a write as begun: returns its slot (-1: not timed). */
static int io_begin(struct dev *d)
{
	uint64_t now, zero;
	int i;

	if (!d->wd)
		return -1;
	now = mono_ns();
	for (i = 0; i < WD_SLOTS; i++) {
		zero = 0;
		if (__atomic_compare_exchange_n(&d->wd->start_ns[i], &zero, now,
						0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return i;
	}
	return -1;
}

static void io_end(struct dev *d, int slot)
{
	if (slot >= 0)
		__atomic_store_n(&d->wd->start_ns[slot], 0, __ATOMIC_RELEASE);
}

static void *wd_main(void *arg)
{
	struct dev_wd *w = arg;
	uint64_t limit = w->deadline_ms * 1000000ull;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		uint64_t now = mono_ns(), t;
		struct timespec ts;
		int i;

		for (i = 0; i < WD_SLOTS; i++) {
			uint64_t s = __atomic_load_n(&w->start_ns[i],
						     __ATOMIC_ACQUIRE);

			if (!s || now <= s || now - s <= limit)
				continue;
			/* No way to cancel a write the kernel holds: end
			 * the process, before others may take our files. */
			log_at(LOG_CRIT, "%s: a device write has been in flight "
			       "for %llu ms (deadline %u ms): stopping this "
			       "node hard (watchdog)", w->path,
			       (unsigned long long)((now - s) / 1000000),
			       w->deadline_ms);
			kill(getpid(), SIGKILL);
		}
		t = now + CSVFS_WATCHDOG_TICK_MS * 1000000ull;
		ts.tv_sec = (time_t)(t / 1000000000ull);
		ts.tv_nsec = (long)(t % 1000000000ull);
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int dev_watchdog_start(struct dev *d, unsigned deadline_ms)
{
	struct dev_wd *w;
	pthread_condattr_t ca;
	int rc;

	if (d->wd)
		return -EBUSY;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->deadline_ms = deadline_ms;
	snprintf(w->path, sizeof(w->path), "%s", d->path);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&w->thread, NULL, wd_main, w);
	if (rc) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return rc;
	}
	d->wd = w;
	return 0;
}

static void wd_stop(struct dev_wd *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Test only (dev.h, CSVFS_TEST_DEV_STALL): sleeps as the control says. */
static void test_stall(struct dev *d)
{
	char buf[32];
	ssize_t n;
	long ms;
	int fd;

	if (!d->stall_path)
		return;
	fd = open(d->stall_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	ms = strtol(buf, NULL, 10);
	if (ms > 0 && ms < 3600 * 1000L)
		usleep((useconds_t)ms * 1000u);
}

static void stall_init(struct dev *d)
{
	const char *dir = getenv("CSVFS_TEST_DEV_STALL");
	char host[64] = "";
	size_t len;

	if (!dir || !*dir)
		return;
	gethostname(host, sizeof(host) - 1);
	len = strlen(dir) + strlen(host) + 2;
	d->stall_path = malloc(len);
	if (d->stall_path)
		snprintf(d->stall_path, len, "%s/%s", dir, host);
}

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
	stall_init(d);
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
	wd_stop(d->wd);
	if (d->fd >= 0)
		close(d->fd);
	free(d->stall_path);
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
	int slot, rc = 0;

	if (d->rdonly)
		return -EROFS;
	if (!in_range(d, off, len))
		return -EIO;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_WRITE, off, buf, len);
	slot = io_begin(d);
	test_stall(d);
	while (done < len) {
		ssize_t n = pwrite(d->fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0) {
			rc = -EIO;
			goto out;
		}
		done += (size_t)n;
	}
out:
	io_end(d, slot);
	return rc;
}

int dev_flush(struct dev *d)
{
	int rc = 0;

	if (d->rdonly)
		return 0;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_FLUSH, 0, NULL, 0);
	/*
	 * Not timed: a flush submits no new data (the writes it makes
	 * durable have completed, each within the deadline, and the
	 * storage orders them for every host alike), while on a busy host
	 * file system it can take long.
	 */
	if (fdatasync(d->fd) < 0)
		rc = -errno;
	return rc;
}

/* The zeroing itself, on a range checked by dev_zero. */
static int zero_range(struct dev *d, uint64_t off, uint64_t len)
{
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

int dev_zero(struct dev *d, uint64_t off, uint64_t len)
{
	int slot, rc;

	if (d->rdonly)
		return -EROFS;
	if (len == 0)
		return 0;
	if (!in_range(d, off, len))
		return -EIO;
	if (d->record)
		d->record(d->record_ctx, DEV_REC_ZERO, off, NULL, len);
	slot = io_begin(d);
	test_stall(d);
	rc = zero_range(d, off, len);
	io_end(d, slot);
	return rc;
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

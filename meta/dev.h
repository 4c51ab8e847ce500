/*
 * dev: the shared device (a block device or an image file), opened with
 * O_DIRECT. Every byte csvfs reads or writes on the volume goes through
 * here, so the crash-consistency harness can record writes and flushes at
 * this one place.
 *
 * All offsets and lengths given to dev_pread/dev_pwrite must be multiples of
 * DEV_ALIGN and buffers DEV_ALIGN-aligned (dev_alloc_buf). Calls return 0 or
 * a negative errno; short transfers are retried and end in -EIO. Thread-safe.
 */
#ifndef CSVFS_DEV_H
#define CSVFS_DEV_H

#include <stddef.h>
#include <stdint.h>

#define DEV_ALIGN 4096u

#define DEV_RDONLY	0x1	/* open read-only */
#define DEV_BUFFERED	0x2	/* no O_DIRECT (tools reading small bits) */

struct dev {
	int fd;
	int is_blkdev;
	int rdonly;
	uint64_t size;		/* bytes */
	unsigned sector;	/* logical sector size */
	char *path;
	/* Write recorder for crash tests; NULL in normal operation. */
	void (*record)(void *ctx, int op, uint64_t off, const void *buf,
		       size_t len);
	void *record_ctx;
	/* Bounded I/O (dev_watchdog_start); NULL: writes are not timed. */
	struct dev_wd *wd;
	/* Test-only stall (CSVFS_TEST_DEV_STALL): the control file. */
	char *stall_path;
};

/* Recorder ops. */
#define DEV_REC_WRITE	1
#define DEV_REC_FLUSH	2
#define DEV_REC_ZERO	3

int dev_open(const char *path, int flags, struct dev **out);
void dev_close(struct dev *d);
/*
 * Re-reads the size (online grow). dev_pread/pwrite/zero do it by
 * themselves when asked for a range past the size they know.
 */
int dev_refresh_size(struct dev *d);
int dev_pread(struct dev *d, void *buf, size_t len, uint64_t off);
int dev_pwrite(struct dev *d, const void *buf, size_t len, uint64_t off);
/* Makes every completed write durable (fdatasync). */
int dev_flush(struct dev *d);
/*
 * Makes [off, off+len) read as zeroes without writing zeroes where the
 * device can: a punched hole on an image file, BLKZEROOUT on a block
 * device. Not durable until dev_flush.
 */
int dev_zero(struct dev *d, uint64_t off, uint64_t len);
/*
 * Zeroes any byte range: dev_zero on the DEV_ALIGN-aligned middle, a
 * read-modify-write of the partial 4 KiB edges. Not durable until
 * dev_flush. The caller keeps others from writing the edges meanwhile.
 */
int dev_zero_bytes(struct dev *d, uint64_t off, uint64_t len);
/*
 * Bounded I/O (csvfs/fencing.h, rule 1): from now on every write and zeroing
 * of d is timed (a flush is not: it submits no new data), and a thread checks every CSVFS_WATCHDOG_TICK_MS;
 * when one has been in flight longer than deadline_ms, it logs the fact
 * and kills this process with SIGKILL (a node whose I/O cannot complete
 * in time stops itself before others may take its files, as a hardware
 * watchdog would reset it). 0 or -errno. Call once, before other threads
 * write; dev_close stops it.
 */
int dev_watchdog_start(struct dev *d, unsigned deadline_ms);

/*
 * Test only. When the environment variable CSVFS_TEST_DEV_STALL names a
 * directory at dev_open, every write and zeroing of the device first
 * reads the file DIR/HOSTNAME (this host's name at dev_open, e.g. "node3"
 * in scripts/cluster) and, when it holds a number, sleeps that many
 * milliseconds inside the timed window: a write the storage holds, as
 * the watchdog sees it. Without the variable nothing is read.
 */

/* DEV_ALIGN-aligned, zero-filled; free with free(). NULL on ENOMEM. */
void *dev_alloc_buf(size_t len);

#endif /* CSVFS_DEV_H */

/*
 * guestwriter — the workload of the QEMU test guest (tests/vm): started by
 * the guest's /init, it writes numbered, checksummed, timestamped 4 KiB
 * records (tests/tools/vmrec.h) to the virtio disk with O_DIRECT, one after
 * the other at a fixed rate, and fdatasyncs every few records, like a
 * database in a VM. Built static (gcc -static) by tests/vm/build-guest.sh.
 *
 *   guestwriter DISK CMDTTY RATE SYNC
 *
 * DISK is written from the end of its valid prefix on (a VM restarted on
 * another host resumes the stream). RATE records per second, fdatasync
 * every SYNC records. Lines on stdout (the serial console), all starting
 * with "gw: ":
 *   resume N            N valid records were found at start
 *   synced N            the first N records are flushed (after every sync)
 *   I/O error: ...      a failed write, read or fdatasync (retried)
 *   verified N / verify failed: record K: why
 *   stopped N           after the "stop" command
 * Commands, one per line on CMDTTY (a second serial port, a socket on the
 * host): "verify" flushes and checks every record written so far; "stop"
 * flushes and stops writing (verify still works).
 *
 * The guest never exits this program: a guest whose init exits panics and
 * its console would say nothing useful.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../tools/vmrec.h"

#define CHUNK	(1u << 20)

static uint8_t *rec, *want, *chunk;
static int disk = -1, cmd = -1;
static uint64_t nrec;		/* records the disk holds */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("gw: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Checks records [0, n) (or the valid prefix when n is 0 and prefix is
 * set): returns the number of leading valid records; *why names the first
 * bad one.
 */
static uint64_t scan(uint64_t n, const char **why, uint64_t *bad)
{
	uint64_t i = 0, off = 0, lim = n ? n : nrec;
	ssize_t r, j;

	*why = NULL;
	while (i < lim) {
		r = pread(disk, chunk, CHUNK, (off_t)off);
		if (r < 0) {
			say("I/O error: read at %llu: %s",
			    (unsigned long long)off, strerror(errno));
			*why = "read error";
			*bad = i;
			return i;
		}
		if (r == 0)
			break;
		for (j = 0; j + VMREC_SIZE <= r && i < lim;
		     j += VMREC_SIZE, i++) {
			*why = vmrec_check(chunk + j, i, want);
			if (*why) {
				*bad = i;
				return i;
			}
		}
		off += (uint64_t)r;
	}
	return i;
}

static int flush(uint64_t n)
{
	while (fdatasync(disk)) {
		say("I/O error: fdatasync after record %llu: %s",
		    (unsigned long long)n, strerror(errno));
		sleep_ms(200);
	}
	return 0;
}

static void verify(uint64_t n)
{
	const char *why;
	uint64_t bad = 0, ok;

	flush(n);
	ok = scan(n, &why, &bad);
	if (why || ok != n)
		say("verify failed: record %llu: %s",
		    (unsigned long long)bad, why ? why : "short disk");
	else
		say("verified %llu", (unsigned long long)n);
}

/* Reads what the host sent; runs complete lines. */
static void commands(uint64_t n, int *stopped)
{
	static char line[128];
	static size_t len;
	char c;

	while (read(cmd, &c, 1) == 1) {
		if (c != '\n' && c != '\r') {
			if (len + 1 < sizeof(line))
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		len = 0;
		if (!strcmp(line, "verify")) {
			verify(n);
		} else if (!strcmp(line, "stop")) {
			if (!*stopped) {
				flush(n);
				say("stopped %llu", (unsigned long long)n);
			}
			*stopped = 1;
		} else if (line[0]) {
			say("unknown command \"%s\"", line);
		}
	}
}

static int open_cmd(const char *path)
{
	struct termios t;
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		say("cannot open %s: %s (no commands)", path, strerror(errno));
		return -1;
	}
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t n, bad, t0, next, size = 0, period;
	const char *why;
	int rate, every, stopped = 0, full = 0;

	if (argc != 5) {
		say("usage: guestwriter DISK CMDTTY RATE SYNC");
		for (;;)
			pause();
	}
	rate = atoi(argv[3]) > 0 ? atoi(argv[3]) : 100;
	every = atoi(argv[4]) > 0 ? atoi(argv[4]) : 8;
	period = 1000000000ull / (uint64_t)rate;
	if (posix_memalign((void **)&rec, VMREC_SIZE, VMREC_SIZE) ||
	    posix_memalign((void **)&want, VMREC_SIZE, VMREC_SIZE) ||
	    posix_memalign((void **)&chunk, VMREC_SIZE, CHUNK)) {
		say("out of memory");
		for (;;)
			pause();
	}
	while ((disk = open(argv[1], O_RDWR | O_DIRECT)) < 0) {
		say("cannot open %s: %s", argv[1], strerror(errno));
		sleep(1);
	}
	if (ioctl(disk, BLKGETSIZE64, &size))
		say("BLKGETSIZE64 %s: %s", argv[1], strerror(errno));
	nrec = size / VMREC_SIZE;
	cmd = open_cmd(argv[2]);
	n = scan(0, &why, &bad);
	say("resume %llu (disk of %llu records, %d/s, sync every %d)",
	    (unsigned long long)n, (unsigned long long)nrec, rate, every);

	t0 = now_ns();
	next = t0;
	for (;;) {
		uint64_t t = now_ns();
		struct pollfd p = { cmd, POLLIN, 0 };
		int wait_ms = 0;

		if (stopped || full)
			wait_ms = 1000;
		else if (next > t)
			wait_ms = (int)((next - t + 999999) / 1000000);
		if (cmd >= 0) {
			if (poll(&p, 1, wait_ms) > 0)
				commands(n, &stopped);
		} else if (wait_ms) {
			sleep_ms(wait_ms);
		}
		if (stopped || full || now_ns() < next)
			continue;
		if (n >= nrec) {
			flush(n);
			say("disk full at %llu", (unsigned long long)n);
			full = 1;
			continue;
		}
		vmrec_fill(rec, n, 1, now_ns());
		if (pwrite(disk, rec, VMREC_SIZE, (off_t)(n * VMREC_SIZE)) !=
		    VMREC_SIZE) {
			say("I/O error: write record %llu: %s",
			    (unsigned long long)n, strerror(errno));
			sleep_ms(200);
			continue;
		}
		n++;
		/* A stall does not make the writer burst afterwards. */
		next += period;
		if (next + 10 * period < now_ns())
			next = now_ns();
		if (n % (uint64_t)every == 0) {
			flush(n);
			say("synced %llu", (unsigned long long)n);
		}
	}
}

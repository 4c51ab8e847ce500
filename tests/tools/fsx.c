/*
 * fsx — randomized file data-integrity tester for csvfs (written fresh, after
 * the idea of xfstests' fsx).
 *
 *   fsx [-s SEED] [-N OPS] [-f NFILES] [-m MAXSIZE] [-S STATEFILE] [-d] [-X]
 *       [--no-direct] [--no-fallocate] DIR
 *   fsx --verify-only -S STATEFILE [-X] DIR
 *
 * Keeps an in-memory model (one byte array per file) of NFILES files
 * DIR/fsx.0 .. DIR/fsx.N-1 and runs OPS random operations on them: pwrite
 * (4 KiB-aligned, unaligned, crossing 1 MiB boundaries, past EOF leaving
 * holes; 1 B .. 1.5 MiB), pread compared against the model, ftruncate up and
 * down, fallocate punch-hole / mode 0 / KEEP_SIZE, fsync/fdatasync, close and
 * reopen, and O_DIRECT opens used for aligned I/O. Every op goes into a ring
 * buffer; on the first mismatch fsx prints the offset, expected and got bytes
 * and the tail of the op history, then exits 1. At the end every file is read
 * whole and compared, and st_size checked. With -S the model is saved (a
 * header, then each file's size and contents, then a checksum) so that
 * `fsx --verify-only -S STATEFILE DIR` can check the files after a remount.
 *
 * A run is a pure function of its seed (the seed is printed). Bytes written
 * by op N at file offset O are (O % 251 + N) & 0xff, so a wrong byte hints at
 * the op that wrote it.
 *
 * -X flips one byte of the model once (at the middle of the run, followed by
 * a read of that byte; with --verify-only, before the check) to prove that
 * the checker fires: a run with -X must fail.
 *
 * Exit: 0 all data verified, 1 a mismatch or a failed system call, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KIB		1024ULL
#define MIB		(1024ULL * 1024ULL)
#define ALIGN		4096ULL
#define MAX_IO		(3 * MIB / 2)	/* longest single read or write */
#define HIST		64		/* ops kept in the ring buffer */
#define HIST_SHOW	32		/* ops printed on failure */
#define STATE_MAGIC	"CSVFSFSX"
#define STATE_VERSION	1

enum op_type {
	OP_WRITE, OP_READ, OP_TRUNCATE, OP_PUNCH, OP_FALLOC, OP_FALLOC_KEEP,
	OP_FSYNC, OP_REOPEN, OP_NTYPES
};

static const char *const op_names[OP_NTYPES] = {
	"write", "read", "truncate", "punch_hole", "fallocate",
	"fallocate_keep", "fsync", "reopen",
};

/* Relative frequency of each op (out of the sum). */
static const unsigned op_weight[OP_NTYPES] = {
	[OP_WRITE] = 36, [OP_READ] = 30, [OP_TRUNCATE] = 6, [OP_PUNCH] = 6,
	[OP_FALLOC] = 4, [OP_FALLOC_KEEP] = 4, [OP_FSYNC] = 6, [OP_REOPEN] = 8,
};

struct hist_ent {
	uint64_t opnum;
	int type;
	int file;
	uint64_t off;
	uint64_t len;
	uint64_t size_before;
	uint64_t size_after;
	const char *how;	/* "direct", "aligned", "cross1M", ... */
};

struct mfile {
	char path[PATH_MAX];
	char name[64];
	int fd;			/* buffered fd, always open during a run */
	int dfd;		/* O_DIRECT fd or -1 */
	uint64_t size;
	uint8_t *data;		/* maxsize bytes; bytes past size are zero */
};

static struct {
	uint64_t seed;
	uint64_t rng;
	uint64_t nops;
	unsigned nfiles;
	uint64_t maxsize;
	const char *statefile;
	const char *dir;
	int debug;
	int corrupt;
	int verify_only;
	int no_direct;
	int no_falloc;

	struct mfile *files;
	uint8_t *buf;		/* ALIGN-aligned I/O buffer, MAX_IO + ALIGN */
	uint8_t *vbuf;		/* verification buffer */
	uint64_t opnum;
	struct hist_ent hist[HIST];
	uint64_t nhist;
	uint64_t count[OP_NTYPES];
	uint64_t ndirect;	/* O_DIRECT opens */
	uint64_t ndirect_io;	/* reads and writes through them */
} g;

static void print_ent(FILE *fp, const struct hist_ent *h)
{
	fprintf(fp, "  op %6" PRIu64 " %-14s fsx.%d [0x%07" PRIx64 "..0x%07"
		PRIx64 ") len 0x%06" PRIx64 " size 0x%" PRIx64 " -> 0x%" PRIx64
		"%s%s\n", h->opnum, op_names[h->type], h->file, h->off,
		h->off + h->len, h->len, h->size_before, h->size_after,
		h->how ? " " : "", h->how ? h->how : "");
}

static void dump_history(void)
{
	uint64_t first = g.nhist > HIST_SHOW ? g.nhist - HIST_SHOW : 0;

	fprintf(stderr, "fsx: last %" PRIu64 " ops (of %" PRIu64 "):\n",
		g.nhist - first, g.nhist);
	for (uint64_t i = first; i < g.nhist; i++)
		print_ent(stderr, &g.hist[i % HIST]);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fsx: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (g.nhist)
		dump_history();
	if (g.verify_only)
		fprintf(stderr, "fsx: FAILED (verify of the run with seed %"
			PRIu64 ")\n", g.seed);
	else
		fprintf(stderr, "fsx: FAILED (seed %" PRIu64 ", op %" PRIu64
			")\n", g.seed, g.opnum);
	exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-s SEED] [-N OPS] [-f NFILES] [-m MAXSIZE] [-S STATEFILE]\n"
		"           [-d] [-X] [--no-direct] [--no-fallocate] DIR\n"
		"       fsx --verify-only -S STATEFILE [-X] DIR\n"
		"  -s SEED     random seed (default: from the clock; always printed)\n"
		"  -N OPS      number of operations (default 3000)\n"
		"  -f NFILES   number of files (default 4)\n"
		"  -m MAXSIZE  largest file size, suffix K/M/G allowed (default 8M)\n"
		"  -S FILE     save the final model to FILE (or read it, --verify-only)\n"
		"  -d          print every operation\n"
		"  -X          corrupt one byte of the model once: the run must fail\n"
		"  --verify-only     only check DIR against the model saved with -S\n"
		"  --no-direct       never open with O_DIRECT\n"
		"  --no-fallocate    no fallocate / punch-hole ops\n");
	exit(2);
}

/* splitmix64: small, fast, and the same sequence everywhere. */
static uint64_t rnd(void)
{
	uint64_t z = (g.rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (inclusive). */
static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + rnd() % (hi - lo + 1);
}

static int chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'k': case 'K': v *= KIB; end++; break;
	case 'm': case 'M': v *= MIB; end++; break;
	case 'g': case 'G': v *= 1024 * MIB; end++; break;
	default: break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	if (*end)
		goto bad;
	return v;
bad:
	fprintf(stderr, "fsx: bad %s '%s'\n", what, s);
	usage();
}

static uint8_t pattern(uint64_t opnum, uint64_t off)
{
	return (uint8_t)(off % 251 + opnum);
}

static struct hist_ent *log_op(int type, int file, uint64_t off, uint64_t len,
			       const char *how)
{
	struct hist_ent *h = &g.hist[g.nhist % HIST];

	g.nhist++;
	g.count[type]++;
	*h = (struct hist_ent){
		.opnum = g.opnum, .type = type, .file = file, .off = off,
		.len = len, .size_before = g.files[file].size,
		.size_after = g.files[file].size, .how = how,
	};
	return h;
}

static void log_done(struct hist_ent *h)
{
	h->size_after = g.files[h->file].size;
	if (g.debug)
		print_ent(stdout, h);
}

/* Compares got[0..len) with the model of file f at off; dies on mismatch. */
static void check_bytes(struct mfile *f, uint64_t off, const uint8_t *got,
			uint64_t len, const char *ctx)
{
	const uint8_t *exp = f->data + off;
	uint64_t i, bad = 0, first = UINT64_MAX, last = 0;

	if (memcmp(exp, got, len) == 0)
		return;
	for (i = 0; i < len; i++) {
		if (exp[i] != got[i]) {
			if (first == UINT64_MAX)
				first = i;
			last = i;
			bad++;
		}
	}
	fprintf(stderr,
		"fsx: %s: DATA MISMATCH in %s at offset 0x%" PRIx64 " (%" PRIu64
		"): expected 0x%02x, got 0x%02x\n",
		ctx, f->name, off + first, off + first, exp[first], got[first]);
	fprintf(stderr,
		"fsx: %" PRIu64 " bad bytes in [0x%" PRIx64 "..0x%" PRIx64
		"] of the range read [0x%" PRIx64 "..0x%" PRIx64 "), file size 0x%"
		PRIx64 "\n", bad, off + first, off + last, off, off + len, f->size);
	fprintf(stderr, "fsx: expected:");
	for (i = first; i < len && i < first + 16; i++)
		fprintf(stderr, " %02x", exp[i]);
	fprintf(stderr, "\nfsx: got:     ");
	for (i = first; i < len && i < first + 16; i++)
		fprintf(stderr, " %02x", got[i]);
	fputc('\n', stderr);
	if (got[first] == 0)
		fprintf(stderr, "fsx: got zero: a lost write or a hole where data should be\n");
	else
		fprintf(stderr, "fsx: the bad byte looks written by an op = %u (mod 256)\n",
			(unsigned)(uint8_t)(got[first] - (off + first) % 251));
	die("%s: data mismatch in %s", ctx, f->name);
}

static void xpwrite(struct mfile *f, int fd, const uint8_t *b, uint64_t len,
		    uint64_t off, const char *ctx)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, b + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: pwrite %s off 0x%" PRIx64 " len 0x%" PRIx64
			    ": %s", ctx, f->name, off + done, len - done,
			    strerror(errno));
		if (n == 0)
			die("%s: pwrite %s returned 0", ctx, f->name);
		if (fd == f->dfd && (uint64_t)n != len - done)
			die("%s: short O_DIRECT pwrite %s: %zd of %" PRIu64,
			    ctx, f->name, n, len - done);
		done += (uint64_t)n;
	}
}

/* Reads up to len bytes; returns the count (short only at EOF). */
static uint64_t xpread(struct mfile *f, int fd, uint8_t *b, uint64_t len,
		       uint64_t off, const char *ctx)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, b + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: pread %s off 0x%" PRIx64 " len 0x%" PRIx64
			    ": %s", ctx, f->name, off + done, len - done,
			    strerror(errno));
		if (n == 0)
			break;
		done += (uint64_t)n;
		if (fd == f->dfd)
			break;	/* O_DIRECT: a short read means EOF */
	}
	return done;
}

static void open_file(struct mfile *f, int create)
{
	int flags = O_RDWR | (create ? O_CREAT | O_TRUNC : 0);

	f->fd = open(f->path, flags, 0644);
	if (f->fd < 0)
		die("open %s: %s", f->path, strerror(errno));
	f->dfd = -1;
}

static void open_direct(struct mfile *f)
{
	f->dfd = open(f->path, O_RDWR | O_DIRECT);
	if (f->dfd < 0)
		die("open %s O_DIRECT: %s (use --no-direct if the filesystem"
		    " cannot do O_DIRECT)", f->path, strerror(errno));
	g.ndirect++;
}

static void close_file(struct mfile *f)
{
	if (f->dfd >= 0 && close(f->dfd) < 0)
		die("close %s (O_DIRECT fd): %s", f->name, strerror(errno));
	if (f->fd >= 0 && close(f->fd) < 0)
		die("close %s: %s", f->name, strerror(errno));
	f->fd = f->dfd = -1;
}

/* A length: mostly small, sometimes up to MAX_IO. */
static uint64_t pick_len(void)
{
	unsigned r = rnd() % 100;

	if (r < 45)
		return rnd_range(1, 16 * KIB);
	if (r < 85)
		return rnd_range(1, 256 * KIB);
	return rnd_range(256 * KIB, MAX_IO);
}

/* Clips [*off, *off + *len) to maxsize, keeping 4 KiB alignment if set. */
static void clip(uint64_t *off, uint64_t *len, int aligned)
{
	if (*off >= g.maxsize)
		*off = aligned ? g.maxsize - ALIGN : g.maxsize - 1;
	if (*off + *len > g.maxsize)
		*len = g.maxsize - *off;
	if (*len == 0)
		*len = 1;
}

static void do_write(int fi)
{
	struct mfile *f = &g.files[fi];
	uint64_t off, len = pick_len();
	const char *how;
	int aligned = 0, fd = f->fd;
	struct hist_ent *h;

	switch (rnd() % 4) {
	case 0:
		how = "aligned";
		aligned = 1;
		len = (len + ALIGN - 1) & ~(ALIGN - 1);
		off = rnd_range(0, (f->size + ALIGN) / ALIGN) * ALIGN;
		break;
	case 1:
		how = "unaligned";
		off = rnd_range(0, f->size);
		break;
	case 2: {
		uint64_t nb = g.maxsize / MIB, b;

		how = "cross1M";
		if (nb < 2) {
			off = rnd_range(0, f->size);
			break;
		}
		b = rnd_range(1, nb - 1) * MIB;
		if (len < 2)
			len = 2;
		off = b - rnd_range(1, len - 1 < b ? len - 1 : b);
		break;
	}
	default:
		how = "past_eof";
		off = f->size + rnd_range(0, 2 * MIB);
		if (off + ALIGN >= g.maxsize) {
			/* no room past EOF: an unaligned write inside */
			how = "unaligned";
			off = rnd_range(0, f->size);
			break;
		}
		if (chance(50)) {
			aligned = 1;
			off &= ~(ALIGN - 1);
			len = (len + ALIGN - 1) & ~(ALIGN - 1);
		}
		break;
	}
	clip(&off, &len, aligned);
	if (aligned && f->dfd >= 0 && len % ALIGN == 0 && chance(70)) {
		fd = f->dfd;
		how = aligned && off >= f->size ? "past_eof+direct" : "aligned+direct";
	}
	h = log_op(OP_WRITE, fi, off, len, how);
	for (uint64_t i = 0; i < len; i++)
		g.buf[i] = pattern(g.opnum, off + i);
	if (fd == f->dfd)
		g.ndirect_io++;
	xpwrite(f, fd, g.buf, len, off, "write");
	memcpy(f->data + off, g.buf, len);
	if (off + len > f->size)
		f->size = off + len;
	log_done(h);
}

static void do_read(int fi)
{
	struct mfile *f = &g.files[fi];
	uint64_t off, len = pick_len(), want, got;
	const char *how = NULL;
	int fd = f->fd;
	struct hist_ent *h;

	if (f->size == 0 || chance(10)) {
		how = "across_eof";
		off = f->size > len ? f->size - rnd_range(0, len) : 0;
	} else if (chance(30)) {
		how = "aligned";
		len = (len + ALIGN - 1) & ~(ALIGN - 1);
		off = rnd_range(0, (f->size - 1) / ALIGN) * ALIGN;
		if (f->dfd >= 0 && chance(70)) {
			fd = f->dfd;
			how = "aligned+direct";
		}
	} else {
		off = rnd_range(0, f->size - 1);
	}
	h = log_op(OP_READ, fi, off, len, how);
	want = off >= f->size ? 0 : (off + len > f->size ? f->size - off : len);
	if (fd == f->dfd)
		g.ndirect_io++;
	got = xpread(f, fd, g.buf, len, off, "read");
	if (got != want)
		die("read %s off 0x%" PRIx64 " len 0x%" PRIx64 ": got %" PRIu64
		    " bytes, expected %" PRIu64 " (model size 0x%" PRIx64 ")",
		    f->name, off, len, got, want, f->size);
	check_bytes(f, off, g.buf, got, "read");
	log_done(h);
}

static void do_truncate(int fi)
{
	struct mfile *f = &g.files[fi];
	uint64_t nsize;
	struct hist_ent *h;

	/* Down more often the larger the file, so sizes keep varying. */
	if (f->size > 0 && rnd() % g.maxsize < f->size)
		nsize = rnd_range(0, f->size - 1);		/* down */
	else
		nsize = rnd_range(f->size, g.maxsize);		/* up */
	if (chance(25))
		nsize &= ~(ALIGN - 1);
	h = log_op(OP_TRUNCATE, fi, nsize, 0, nsize < f->size ? "down" : "up");
	if (ftruncate(f->fd, (off_t)nsize) < 0)
		die("ftruncate %s to 0x%" PRIx64 ": %s", f->name, nsize,
		    strerror(errno));
	if (nsize < f->size)
		memset(f->data + nsize, 0, f->size - nsize);
	f->size = nsize;
	log_done(h);
}

static void do_fallocate(int fi, int type)
{
	struct mfile *f = &g.files[fi];
	uint64_t off, len = pick_len();
	int mode;
	struct hist_ent *h;

	if (type == OP_PUNCH) {
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		off = rnd_range(0, f->size);
		if (chance(40)) {
			off &= ~(ALIGN - 1);
			len = (len + ALIGN - 1) & ~(ALIGN - 1);
		}
	} else {
		mode = type == OP_FALLOC_KEEP ? FALLOC_FL_KEEP_SIZE : 0;
		off = rnd_range(0, f->size + MIB);
	}
	clip(&off, &len, 0);
	h = log_op(type, fi, off, len, NULL);
	if (fallocate(f->fd, mode, (off_t)off, (off_t)len) < 0)
		die("fallocate(%s) %s off 0x%" PRIx64 " len 0x%" PRIx64
		    ": %s (use --no-fallocate to skip these ops)",
		    op_names[type], f->name, off, len, strerror(errno));
	if (type == OP_PUNCH) {
		if (off < f->size)
			memset(f->data + off, 0,
			       (off + len > f->size ? f->size : off + len) - off);
	} else if (type == OP_FALLOC && off + len > f->size) {
		f->size = off + len;	/* the new range reads as zeroes */
	}
	log_done(h);
}

static void do_fsync(int fi)
{
	struct mfile *f = &g.files[fi];
	int data = chance(50);
	struct hist_ent *h = log_op(OP_FSYNC, fi, 0, 0, data ? "fdatasync" : "fsync");

	if ((data ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		die("%s %s: %s", data ? "fdatasync" : "fsync", f->name,
		    strerror(errno));
	log_done(h);
}

static void do_reopen(int fi)
{
	struct mfile *f = &g.files[fi];
	int direct = !g.no_direct && chance(40);
	struct hist_ent *h = log_op(OP_REOPEN, fi, 0, 0, direct ? "+direct" : NULL);
	struct stat st;

	close_file(f);
	open_file(f, 0);
	if (direct)
		open_direct(f);
	if (fstat(f->fd, &st) < 0)
		die("fstat %s: %s", f->name, strerror(errno));
	if ((uint64_t)st.st_size != f->size)
		die("after reopen %s: st_size 0x%" PRIx64 ", model size 0x%"
		    PRIx64, f->name, (uint64_t)st.st_size, f->size);
	log_done(h);
}

static int pick_op(void)
{
	unsigned total = 0, r, t;

	for (t = 0; t < OP_NTYPES; t++)
		total += op_weight[t];
	for (;;) {
		r = (unsigned)(rnd() % total);
		for (t = 0; t < OP_NTYPES; t++) {
			if (r < op_weight[t])
				break;
			r -= op_weight[t];
		}
		if (g.no_falloc && (t == OP_PUNCH || t == OP_FALLOC ||
				    t == OP_FALLOC_KEEP))
			continue;
		return (int)t;
	}
}

/* -X: flip a byte of the model inside a file, then read it back. */
static void corrupt_model(void)
{
	unsigned i;
	struct mfile *f = NULL;
	uint64_t off, got;

	for (i = 0; i < g.nfiles; i++)
		if (g.files[i].size > 0) {
			f = &g.files[i];
			break;
		}
	if (!f && g.verify_only) {
		g.files[0].size = 1;	/* the size check must now fail */
		fprintf(stderr, "fsx: -X: every file is empty; made fsx.0 one byte long in the model\n");
		return;
	}
	if (!f) {
		/* every file is empty: give one a byte first */
		f = &g.files[0];
		g.buf[0] = pattern(g.opnum, 0);
		xpwrite(f, f->fd, g.buf, 1, 0, "corrupt");
		f->data[0] = g.buf[0];
		f->size = 1;
	}
	off = rnd_range(0, f->size - 1);
	f->data[off] ^= 0x5a;
	fprintf(stderr, "fsx: -X: flipped model byte of %s at 0x%" PRIx64
		" (the check must now fail)\n", f->name, off);
	if (g.verify_only)
		return;
	got = xpread(f, f->fd, g.buf, 1, off, "corrupt");
	if (got != 1)
		die("read back %s at 0x%" PRIx64 ": got %" PRIu64 " bytes",
		    f->name, off, got);
	check_bytes(f, off, g.buf, 1, "read after -X");
}

/* Reads file f whole and compares it with the model; checks st_size. */
static void verify_file(struct mfile *f, int fd, const char *ctx)
{
	struct stat st;
	uint64_t off = 0, got;
	uint8_t one;

	if (fstat(fd, &st) < 0)
		die("%s: fstat %s: %s", ctx, f->name, strerror(errno));
	if ((uint64_t)st.st_size != f->size)
		die("%s: %s: st_size 0x%" PRIx64 " (%" PRIu64 "), model size 0x%"
		    PRIx64 " (%" PRIu64 ")", ctx, f->name,
		    (uint64_t)st.st_size, (uint64_t)st.st_size, f->size, f->size);
	while (off < f->size) {
		uint64_t len = f->size - off > 4 * MIB ? 4 * MIB : f->size - off;

		got = xpread(f, fd, g.vbuf, len, off, ctx);
		if (got != len)
			die("%s: %s: short read at 0x%" PRIx64 ": %" PRIu64
			    " of %" PRIu64 " bytes (model size 0x%" PRIx64 ")",
			    ctx, f->name, off, got, len, f->size);
		check_bytes(f, off, g.vbuf, len, ctx);
		off += len;
	}
	got = xpread(f, fd, &one, 1, f->size, ctx);
	if (got != 0)
		die("%s: %s: data past the model size 0x%" PRIx64, ctx,
		    f->name, f->size);
}

static void setup_files(void)
{
	unsigned i;

	g.files = calloc(g.nfiles, sizeof(*g.files));
	if (!g.files)
		die("out of memory");
	for (i = 0; i < g.nfiles; i++) {
		struct mfile *f = &g.files[i];

		snprintf(f->name, sizeof(f->name), "fsx.%u", i);
		if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", g.dir,
				     f->name) >= sizeof(f->path))
			die("path too long: %s", g.dir);
		f->data = calloc(1, g.maxsize);
		if (!f->data)
			die("out of memory for a %" PRIu64 "-byte model", g.maxsize);
		f->fd = f->dfd = -1;
	}
}

/* State file: header, per file { u64 size, bytes }, u64 FNV-1a of it all. */
struct state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t nfiles;
	uint64_t seed;
	uint64_t nops;
	uint64_t maxsize;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void wr(FILE *fp, const void *p, size_t n, uint64_t *h)
{
	if (n && fwrite(p, 1, n, fp) != n)
		die("write %s: %s", g.statefile, strerror(errno));
	*h = fnv(*h, p, n);
}

static void rd(FILE *fp, void *p, size_t n, uint64_t *h)
{
	if (n && fread(p, 1, n, fp) != n)
		die("read %s: %s", g.statefile,
		    ferror(fp) ? strerror(errno) : "file too short");
	*h = fnv(*h, p, n);
}

static void save_state(void)
{
	char tmp[PATH_MAX];
	struct state_hdr hdr = { .version = STATE_VERSION };
	uint64_t h = 0xcbf29ce484222325ULL;
	FILE *fp;
	unsigned i;

	memcpy(hdr.magic, STATE_MAGIC, 8);
	hdr.nfiles = g.nfiles;
	hdr.seed = g.seed;
	hdr.nops = g.nops;
	hdr.maxsize = g.maxsize;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.statefile);
	fp = fopen(tmp, "wb");
	if (!fp)
		die("create %s: %s", tmp, strerror(errno));
	wr(fp, &hdr, sizeof(hdr), &h);
	for (i = 0; i < g.nfiles; i++) {
		wr(fp, &g.files[i].size, sizeof(uint64_t), &h);
		wr(fp, g.files[i].data, g.files[i].size, &h);
	}
	if (fwrite(&h, sizeof(h), 1, fp) != 1 || fflush(fp) != 0 ||
	    fsync(fileno(fp)) < 0)
		die("write %s: %s", tmp, strerror(errno));
	if (fclose(fp) != 0)
		die("close %s: %s", tmp, strerror(errno));
	if (rename(tmp, g.statefile) < 0)
		die("rename %s to %s: %s", tmp, g.statefile, strerror(errno));
	printf("fsx: saved the model of %u files to %s\n", g.nfiles, g.statefile);
}

static void load_state(void)
{
	struct state_hdr hdr;
	uint64_t h = 0xcbf29ce484222325ULL, stored;
	FILE *fp = fopen(g.statefile, "rb");
	unsigned i;

	if (!fp)
		die("open %s: %s", g.statefile, strerror(errno));
	rd(fp, &hdr, sizeof(hdr), &h);
	if (memcmp(hdr.magic, STATE_MAGIC, 8) || hdr.version != STATE_VERSION)
		die("%s: not an fsx state file (version %u)", g.statefile,
		    STATE_VERSION);
	if (hdr.nfiles == 0 || hdr.nfiles > 1024 || hdr.maxsize == 0 ||
	    hdr.maxsize > 64 * 1024 * MIB)
		die("%s: implausible header (%u files, max size %" PRIu64 ")",
		    g.statefile, hdr.nfiles, hdr.maxsize);
	g.nfiles = hdr.nfiles;
	g.maxsize = hdr.maxsize;
	g.seed = hdr.seed;
	setup_files();
	for (i = 0; i < g.nfiles; i++) {
		struct mfile *f = &g.files[i];

		rd(fp, &f->size, sizeof(uint64_t), &h);
		if (f->size > g.maxsize)
			die("%s: file %u size %" PRIu64 " exceeds max %" PRIu64,
			    g.statefile, i, f->size, g.maxsize);
		rd(fp, f->data, f->size, &h);
	}
	if (fread(&stored, sizeof(stored), 1, fp) != 1 || stored != h)
		die("%s: checksum mismatch: the state file is damaged", g.statefile);
	fclose(fp);
	printf("fsx: loaded the model of %u files (seed %" PRIu64 ", %" PRIu64
	       " ops) from %s\n", g.nfiles, hdr.seed, hdr.nops, g.statefile);
}

static int verify_only(void)
{
	unsigned i;
	uint64_t total = 0;

	load_state();
	if (g.corrupt)
		corrupt_model();
	for (i = 0; i < g.nfiles; i++) {
		struct mfile *f = &g.files[i];
		int fd = open(f->path, O_RDONLY);

		if (fd < 0)
			die("verify: open %s: %s", f->path, strerror(errno));
		verify_file(f, fd, "verify");
		close(fd);
		total += f->size;
	}
	printf("fsx: verified %u files, %" PRIu64 " bytes: all match\n",
	       g.nfiles, total);
	return 0;
}

static int run(void)
{
	unsigned i;
	uint64_t total = 0, corrupt_at = g.nops / 2;

	g.rng = g.seed;
	setup_files();
	for (i = 0; i < g.nfiles; i++)
		open_file(&g.files[i], 1);
	for (g.opnum = 1; g.opnum <= g.nops; g.opnum++) {
		int fi = (int)(rnd() % g.nfiles);
		int t = pick_op();

		if (g.corrupt && g.opnum == corrupt_at + 1)
			corrupt_model();
		switch (t) {
		case OP_WRITE: do_write(fi); break;
		case OP_READ: do_read(fi); break;
		case OP_TRUNCATE: do_truncate(fi); break;
		case OP_PUNCH:
		case OP_FALLOC:
		case OP_FALLOC_KEEP: do_fallocate(fi, t); break;
		case OP_FSYNC: do_fsync(fi); break;
		case OP_REOPEN: do_reopen(fi); break;
		}
	}
	g.opnum = g.nops;
	if (g.corrupt && g.nops == 0)
		corrupt_model();
	/* Final check through the open fds, then through fresh ones. */
	for (i = 0; i < g.nfiles; i++) {
		verify_file(&g.files[i], g.files[i].fd, "final check");
		close_file(&g.files[i]);
		open_file(&g.files[i], 0);
		verify_file(&g.files[i], g.files[i].fd, "final check (reopened)");
		close_file(&g.files[i]);
		total += g.files[i].size;
	}
	printf("fsx: %" PRIu64 " ops:", g.nops);
	for (i = 0; i < OP_NTYPES; i++)
		printf(" %s %" PRIu64, op_names[i], g.count[i]);
	printf("; O_DIRECT opens %" PRIu64 ", I/Os %" PRIu64 "\n", g.ndirect,
	       g.ndirect_io);
	printf("fsx: verified %u files, %" PRIu64 " bytes: all match\n",
	       g.nfiles, total);
	if (g.statefile)
		save_state();
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_VERIFY = 256, OPT_NODIRECT, OPT_NOFALLOC };
	static const struct option lopts[] = {
		{ "verify-only", no_argument, NULL, OPT_VERIFY },
		{ "no-direct", no_argument, NULL, OPT_NODIRECT },
		{ "no-fallocate", no_argument, NULL, OPT_NOFALLOC },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, seeded = 0;
	void *p;

	g.nops = 3000;
	g.nfiles = 4;
	g.maxsize = 8 * MIB;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "s:N:f:m:S:dXh", lopts, NULL)) != -1) {
		switch (c) {
		case 's': g.seed = parse_size(optarg, "seed"); seeded = 1; break;
		case 'N': g.nops = parse_size(optarg, "op count"); break;
		case 'f': g.nfiles = (unsigned)parse_size(optarg, "file count"); break;
		case 'm': g.maxsize = parse_size(optarg, "max size"); break;
		case 'S': g.statefile = optarg; break;
		case 'd': g.debug = 1; break;
		case 'X': g.corrupt = 1; break;
		case OPT_VERIFY: g.verify_only = 1; break;
		case OPT_NODIRECT: g.no_direct = 1; break;
		case OPT_NOFALLOC: g.no_falloc = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	g.dir = argv[optind];
	if (g.verify_only && !g.statefile) {
		fprintf(stderr, "fsx: --verify-only needs -S STATEFILE\n");
		usage();
	}
	if (g.nfiles < 1 || g.nfiles > 1024) {
		fprintf(stderr, "fsx: -f must be 1..1024\n");
		usage();
	}
	g.maxsize &= ~(ALIGN - 1);
	if (g.maxsize < 64 * KIB || g.maxsize > 64 * 1024 * MIB) {
		fprintf(stderr, "fsx: -m must be 64K..64G\n");
		usage();
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		g.seed = ((uint64_t)ts.tv_sec * 1000003ULL) ^ (uint64_t)ts.tv_nsec ^
			 ((uint64_t)getpid() << 32);
		g.seed %= 1000000000ULL;
	}
	if (posix_memalign(&p, ALIGN, MAX_IO + ALIGN))
		die("out of memory");
	g.buf = p;
	if (posix_memalign(&p, ALIGN, 4 * MIB))
		die("out of memory");
	g.vbuf = p;

	if (g.verify_only)
		return verify_only();
	printf("fsx: seed %" PRIu64 ", %" PRIu64 " ops, %u files of up to %"
	       PRIu64 " bytes in %s%s%s\n", g.seed, g.nops, g.nfiles,
	       g.maxsize, g.dir, g.no_direct ? ", no O_DIRECT" : "",
	       g.no_falloc ? ", no fallocate" : "");
	return run();
}

/*
 * crashsim: crash-consistency harness.
 *
 *   crashsim [-s SEED] [-c CUTS] [-n OPS] [-w meta|vm] [-C CUT] [-v]
 *            [-k KEEPDIR] [-T | -S] [-L | -Z] DIR
 *
 * Formats a 256 MiB sparse image in DIR, seeds it with a file full of a
 * marker pattern (written, fsynced, closed: the "base" image is copied
 * then), and runs a workload the way the FUSE daemon does, with the
 * coordinator in-process (mds_start standalone, mdc over
 * mds_local_transport). Every device write (offset + a copy of the bytes),
 * zero and flush is appended to an in-memory log by the dev write
 * recorder. The first operation of each workload unlinks the marker file,
 * so its blocks are zeroed and freed under the recorder.
 *
 * Workloads:
 *   meta  create / mkdir / rmdir / unlink / rename (replacing, and of
 *         directories) / truncate / chmod / inline writes / allocation of
 *         large blocks with a new size (mdc_alloc + mdc_write_done, which
 *         converts an inline file), with mdc_fsync at random points.
 *         After every transaction the expected namespace (path, type,
 *         mode, size, content checksum: the inline bytes, or the first
 *         512 bytes of block 0 of a converted file) is kept.
 *   vm    a VM-disk record writer: one file, mdc_alloc for its large
 *         blocks, numbered checksummed 4 KiB records written with
 *         dev_pwrite at the extents' physical offsets, mdc_write_done for
 *         the size and written ranges, and a guest flush (dev_flush,
 *         write_done, mdc_fsync, as fs/data.c data_fsync) at intervals;
 *         now and then a discard punches a large block (its blocks are
 *         zeroed, freed and reused by later writes).
 *
 * -S gives the meta workload a small-file mix (sub-blocks, meta/subblk.h):
 *         280 creates first (a second meta chunk), then creates, appends
 *         through ALLOC_SMALL (inline data moving to a sub-block run, runs
 *         growing in place or moving), truncates down, allocations of
 *         large blocks (a run promoted to a large block), last closes
 *         (the room ahead trimmed, the last partial unit moved into the
 *         inode: a tail, read back with INLINE_READ), unlinks (units
 *         freed dirty, then reused and zeroed), and at the end every file
 *         is unlinked, so empty sub and meta chunks go back to the free
 *         space (the coordinator keeps no spare chunk here). A file's
 *         appended byte at offset o is own_byte(ino, o): every byte of
 *         every mapped unit or block past the first INL_MAX is zero or
 *         the file's own, never another file's; the content of the first
 *         CRC_SPAN bytes must match the model.
 *
 * OPS (-n) is the number of operations (meta 300, vm 3000 record writes).
 * -T gives the meta workload a mix of only creates, inline writes,
 * conversions to blocks and truncates (small and large): the paths that
 * zero the tail of a file's last block.
 *
 * Then for CUTS random cut points c in the log: image = base + ops [0, f]
 * (f = the last flush before c) + a random subset, in random order, of the
 * 4 KiB sectors of the writes, and of the zeroes, in (f, c), which were
 * not durable yet (a multi-block write may be torn). Heartbeat slot
 * writes are stamped one hour older, as if the check ran long after the
 * crash (otherwise fsck would wait for a "live" node). Then:
 *   1. fsck -y must end clean: a crash must leave nothing but journal
 *      replay and orphans to do (exit 0; exit 1, "errors fixed", is a
 *      failure here: the crash left an inconsistency);
 *   2. the coordinator starts on the image (mds_start);
 *   3. meta: the namespace must equal the state after some prefix of the
 *      operations, no shorter than the last fsync durable at c and no
 *      longer than the operations begun before c; every mapped block of
 *      a file reads as zeroes past its converted inline bytes (never the
 *      deleted marker file's bytes);
 *      vm: every record durable at c (written before a guest flush whose
 *      metadata flush is in the durable prefix) reads back exactly, or as
 *      a later generation of the same record written before c (zeroes
 *      only when punched, durably or before c); a punched record never
 *      comes back; the file is at least as long as at that flush; every
 *      4 KiB of every mapped block is zero or a valid record of this file
 *      at its own position (never the marker of the deleted file, never
 *      torn or foreign data);
 *   4. mds_stop, then fsck -n must be clean.
 * A failure prints the seed, workload and cut point (reproduce with
 * -s SEED -w WL and -C CUT to run one cut only) and the cause; with -k
 * the first three failing crashed images are kept in KEEPDIR.
 *
 * Prints "crashsim: workload W: N cut points, P passed, F failed" and
 * exits 1 if any failed, 2 if the workload itself failed.
 *
 * Self-tests of the harness itself (each must report failed cuts): -L
 * builds every image as a device that lost the last flush interval
 * (writes after the flush before the last one are a random subset) while
 * expecting what was durable at the real last flush; -Z drops every
 * zeroing, so freed blocks keep the deleted marker file's bytes.
 *
 * Limits: writes from different threads are logged in the order they were
 * issued; a flush is taken to cover every write logged before it (a real
 * disk could still lose a write in flight in another thread, so this can
 * only hide, never invent, failures).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <zlib.h>

#include "csvfs/errors.h"
#include "csvfs/ondisk.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mdc.h"

#define IMG_SIZE	(256ull << 20)
#define REC_SIZE	4096u
#define REC_MAGIC	0x43524543u	/* "CREC" */
#define MARKER_BYTE	0xa5
#define MARKER_BLOCKS	48
#define HB_AGE_NS	(3600ull * 1000000000ull)
#define MAX_NODES	512
#define INL_MAX		512
#define EXT_MAX		1024
#define CRC_SPAN	(64u << 10)	/* content compared with the model */
#define SMALL_LIM	(48u << 10)	/* -S: appends up to this size */
#define SMALL_CREATES	280

/* ---- the write log ------------------------------------------------------ */

struct rec {
	int op;			/* DEV_REC_* */
	uint64_t off, len;
	uint8_t *buf;		/* DEV_REC_WRITE: a copy */
};

static uint64_t mounts;

static struct {
	pthread_mutex_t lock;
	struct rec *r;
	size_t n, cap;
	int oom;
} lg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void recorder(void *ctx, int op, uint64_t off, const void *buf,
		     size_t len)
{
	struct rec *r;

	(void)ctx;
	pthread_mutex_lock(&lg.lock);
	if (lg.n == lg.cap) {
		size_t cap = lg.cap ? lg.cap * 2 : 4096;

		r = realloc(lg.r, cap * sizeof(*r));
		if (!r) {
			lg.oom = 1;
			goto out;
		}
		lg.r = r;
		lg.cap = cap;
	}
	r = &lg.r[lg.n];
	r->op = op;
	r->off = off;
	r->len = len;
	r->buf = NULL;
	if (op == DEV_REC_WRITE) {
		r->buf = malloc(len);
		if (!r->buf) {
			lg.oom = 1;
			goto out;
		}
		memcpy(r->buf, buf, len);
	}
	lg.n++;
out:
	pthread_mutex_unlock(&lg.lock);
}

static size_t log_pos(void)
{
	size_t n;

	pthread_mutex_lock(&lg.lock);
	n = lg.n;
	pthread_mutex_unlock(&lg.lock);
	return n;
}

/* Index of the last flush before pos, or -1. */
static long last_flush(size_t pos)
{
	long i;

	for (i = (long)pos - 1; i >= 0; i--)
		if (lg.r[i].op == DEV_REC_FLUSH)
			return i;
	return -1;
}

/* ---- run state ---------------------------------------------------------- */

static uint64_t rng;
static int verbose;
/* Self-tests of the harness (must make cuts fail): a device that loses
 * the last flush interval, or that never zeroes. */
static int st_lose_flush, st_no_zero;
static const char *keep_dir;	/* -k: keep failing images there */
static int trunc_mix;		/* -T: meta mix of inline data, conversions
				 * and truncates */
static int small_mix;		/* -S: small files in sub-blocks */
static unsigned kept;
static char img_path[4096];
static struct csvfs_super vsb;
static uint64_t root_ino;

/* The base image: its data segments. */
struct seg {
	uint64_t off, len;
	uint8_t *buf;
};
static struct seg *segs;
static size_t nsegs;

/* fsync points: when durable, and what they made durable. */
struct fsp {
	long flush;		/* last flush in the log at completion */
	size_t ops;		/* meta: operations done */
	size_t data_pos;	/* vm: log position of the data flush */
	uint64_t size;		/* vm: file size reported before it */
};
static struct fsp *fsps;
static size_t nfsp;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd_n(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "crashsim: out of memory\n");
		exit(2);
	}
	return p;
}

static void add_fsp(size_t ops, size_t data_pos, uint64_t size)
{
	fsps = xrealloc(fsps, (nfsp + 1) * sizeof(*fsps));
	fsps[nfsp].flush = last_flush(log_pos());
	fsps[nfsp].ops = ops;
	fsps[nfsp].data_pos = data_pos;
	fsps[nfsp].size = size;
	nfsp++;
}

/* The last fsync point durable when ops [0, f] are on the disk, or -1. */
static long durable_fsp(long f)
{
	long k;

	for (k = (long)nfsp - 1; k >= 0; k--)
		if (fsps[k].flush >= 0 && fsps[k].flush <= f)
			return k;
	return -1;
}

/* ---- coordinator -------------------------------------------------------- */

struct vol {
	struct dev *dev;
	struct mds *mds;
	struct mdc *mdc;
};

static int vol_start(struct vol *v, const char *path, int record)
{
	struct mds_opts o = { .node_id = 1, .standalone = 1,
			      .chunk_no_spare = small_mix };
	struct mdc_volinfo vi;
	struct mdc_transport t;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = dev_open(path, 0, &v->dev);
	if (rc) {
		fprintf(stderr, "crashsim: %s: open: %s\n", path,
			csvfs_strerror(rc));
		return rc;
	}
	if (record) {
		v->dev->record = recorder;
		v->dev->record_ctx = NULL;
	}
	rc = mds_start(v->dev, &o, &v->mds);
	if (rc) {
		fprintf(stderr, "crashsim: %s: coordinator start: %s\n", path,
			csvfs_strerror(rc));
		goto fail;
	}
	local_transport(v->mds, &t);
	/* Each mount is a new incarnation: its request records are its own. */
	rc = mdc_new(&t, 1, ((uint64_t)getpid() << 32) + ++mounts, &v->mdc);
	if (!rc)
		rc = mdc_hello(v->mdc, "crashsim", &vi);
	if (rc) {
		fprintf(stderr, "crashsim: %s: hello: %s\n", path,
			csvfs_strerror(rc));
		if (v->mdc)
			mdc_free(v->mdc);
		mds_stop(v->mds);
		goto fail;
	}
	root_ino = vi.root_ino;
	return 0;
fail:
	dev_close(v->dev);
	v->dev = NULL;
	return rc;
}

static int vol_stop(struct vol *v)
{
	int rc;

	mdc_free(v->mdc);
	rc = mds_stop(v->mds);
	dev_close(v->dev);
	if (rc)
		fprintf(stderr, "crashsim: coordinator stop: %s\n",
			csvfs_strerror(rc));
	return rc;
}

#define CHECK(call)							\
	do {								\
		int rc_ = (call);					\
		if (rc_) {						\
			fprintf(stderr, "crashsim: %s:%d: %s: %s\n",	\
				__FILE__, __LINE__, #call,		\
				csvfs_strerror(rc_));			\
			exit(2);					\
		}							\
	} while (0)

/* ---- setup: format, marker file, base copy ------------------------------ */

static void marker_fill(uint8_t *b, size_t len)
{
	memset(b, MARKER_BYTE, len);
}

static int is_marker(const uint8_t *b)
{
	size_t i, n = 0;

	for (i = 0; i < REC_SIZE; i++)
		n += b[i] == MARKER_BYTE;
	return n > REC_SIZE / 2;
}

static void setup(const char *dir)
{
	struct fmt_opts fo = { 0 };
	struct csvfs_wext ext[EXT_MAX];
	struct csvfs_attr a;
	struct vol v;
	uint8_t *buf;
	uint32_t n, i;
	uint64_t bs, b, off, end;
	int fd;

	snprintf(img_path, sizeof(img_path), "%s/crash.img", dir);
	fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)IMG_SIZE)) {
		perror(img_path);
		exit(2);
	}
	close(fd);
	CHECK(dev_open(img_path, 0, &v.dev));
	CHECK(fmt_volume(v.dev, &fo, &vsb));
	dev_close(v.dev);

	/* The marker file: every byte of its blocks is MARKER_BYTE. */
	CHECK(vol_start(&v, img_path, 0));
	bs = 1ull << vsb.block_shift;
	CHECK(mdc_mknod(v.mdc, root_ino, "marker", S_IFREG | 0644, 0, 0, 0,
			&a));
	CHECK(mdc_alloc(v.mdc, a.ino, 0, MARKER_BLOCKS, 0, &a, ext, EXT_MAX,
			&n));
	buf = dev_alloc_buf(bs);
	if (!buf)
		exit(2);
	marker_fill(buf, bs);
	CHECK(mdc_get_extents(v.mdc, a.ino, 0, 0, ext, EXT_MAX, &n));
	for (i = 0; i < n; i++)
		for (b = 0; b < ext[i].len; b++)
			CHECK(dev_pwrite(v.dev, buf, bs,
					 (ext[i].pblk + b) * bs));
	free(buf);
	CHECK(dev_flush(v.dev));
	{
		struct mdc_range r = { 0, MARKER_BLOCKS };

		CHECK(mdc_write_done(v.mdc, a.ino, MARKER_BLOCKS * bs, 0, 0, 0,
				     &r, 1, &a));
	}
	CHECK(mdc_fsync(v.mdc, a.ino));
	CHECK(vol_stop(&v));

	/* Keep the base image's data in memory (it is sparse). */
	fd = open(img_path, O_RDONLY);
	if (fd < 0)
		exit(2);
	for (off = 0; off < IMG_SIZE; off = end) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);

		if (d < 0)
			break;
		off = (uint64_t)d;
		end = (uint64_t)lseek(fd, d, SEEK_HOLE);
		segs = xrealloc(segs, (nsegs + 1) * sizeof(*segs));
		segs[nsegs].off = off;
		segs[nsegs].len = end - off;
		segs[nsegs].buf = xrealloc(NULL, end - off);
		if (pread(fd, segs[nsegs].buf, end - off, (off_t)off) !=
		    (ssize_t)(end - off))
			exit(2);
		nsegs++;
	}
	close(fd);
}

/* ---- building a crashed image ------------------------------------------- */

static int apply(int fd, const struct rec *r)
{
	uint64_t hb0 = vsb.hb_mblk * CSVFS_MBLK_SIZE;
	uint64_t hb1 = hb0 + (uint64_t)vsb.max_nodes * CSVFS_MBLK_SIZE;
	const uint8_t *p = r->buf;
	uint8_t *copy = NULL;
	int rc = 0;

	if (r->op == DEV_REC_ZERO) {
		if (st_no_zero)
			return 0;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)r->off, (off_t)r->len))
			return -errno;
		return 0;
	}
	if (r->op != DEV_REC_WRITE)
		return 0;
	if (r->off < hb1 && r->off + r->len > hb0) {
		uint64_t o;

		copy = xrealloc(NULL, r->len);
		memcpy(copy, r->buf, r->len);
		for (o = r->off & ~(uint64_t)(CSVFS_MBLK_SIZE - 1);
		     o < r->off + r->len; o += CSVFS_MBLK_SIZE) {
			struct csvfs_hb hb;
			uint8_t *blk = copy + (o - r->off);

			if (o < hb0 || o >= hb1 || o < r->off ||
			    o + CSVFS_MBLK_SIZE > r->off + r->len)
				continue;
			od_hb_decode(blk, &hb);
			if (hb.timestamp_ns > HB_AGE_NS)
				hb.timestamp_ns -= HB_AGE_NS;
			od_hb_encode(&hb, blk);
			od_seal(blk);
		}
		p = copy;
	}
	if (pwrite(fd, p, r->len, (off_t)r->off) != (ssize_t)r->len)
		rc = -EIO;
	free(copy);
	return rc;
}

/* Builds the image for cut c; returns f, the last flush before c. */
/*
 * Builds the image for cut c; returns f, the last flush before c. A write
 * after f may have reached the disk in part: each of its 4 KiB sectors is
 * taken or not on its own (a multi-block write is not atomic), as is each
 * zeroing, and in any order.
 */
static long build_image(size_t c)
{
	long f = last_flush(c), i;
	struct rec *win = NULL, t;
	size_t nwin = 0, k;
	uint64_t o;
	int fd;

	fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)IMG_SIZE)) {
		perror(img_path);
		exit(2);
	}
	for (k = 0; k < nsegs; k++)
		if (pwrite(fd, segs[k].buf, segs[k].len, (off_t)segs[k].off) !=
		    (ssize_t)segs[k].len)
			exit(2);
	if (st_lose_flush && f >= 0)
		f = last_flush((size_t)f);
	for (i = 0; i <= f; i++)
		if (apply(fd, &lg.r[i]))
			exit(2);
	for (k = (size_t)(f + 1); k < c; k++) {
		const struct rec *r = &lg.r[k];

		if (r->op == DEV_REC_FLUSH)
			continue;
		for (o = 0; o < r->len; o += DEV_ALIGN) {
			if (r->op == DEV_REC_ZERO && o > 0)
				break;
			if (!rnd_n(2))
				continue;
			win = xrealloc(win, (nwin + 1) * sizeof(*win));
			win[nwin] = *r;
			if (r->op == DEV_REC_WRITE) {
				win[nwin].off = r->off + o;
				win[nwin].len = r->len - o < DEV_ALIGN ?
						r->len - o : DEV_ALIGN;
				win[nwin].buf = r->buf + o;
			}
			nwin++;
		}
	}
	for (k = nwin; k > 1; k--) {
		size_t j = rnd_n(k);

		t = win[k - 1];
		win[k - 1] = win[j];
		win[j] = t;
	}
	for (k = 0; k < nwin; k++)
		if (apply(fd, &win[k]))
			exit(2);
	free(win);
	close(fd);
	return st_lose_flush ? last_flush(c) : f;
}

/* ---- fsck --------------------------------------------------------------- */

static char *fsck_out;

/* Runs fsck in mode; returns its exit code (output in fsck_out). */
static int run_fsck(enum fsck_mode mode)
{
	struct fsck_opts o = { .mode = mode, .name = "crash.img" };
	struct fsck_report r;
	struct dev *d;
	size_t len;
	FILE *out;
	int rc;

	free(fsck_out);
	fsck_out = NULL;
	out = open_memstream(&fsck_out, &len);
	if (!out)
		exit(2);
	o.out = out;
	rc = dev_open(img_path, mode == FSCK_MODE_NO ? DEV_RDONLY : 0, &d);
	if (rc) {
		fprintf(out, "open: %s\n", csvfs_strerror(rc));
		fclose(out);
		return FSCK_EXIT_OPERROR;
	}
	rc = fsck_run(d, &o, &r);
	dev_close(d);
	fclose(out);
	return rc;
}

/* ---- meta workload: the model ------------------------------------------- */

struct node {
	int used, parent, dir;
	int big;		/* has large blocks (never written: zeroes) */
	int small;		/* -S: appended to: content is data[0, pfx),
				 * then own_byte up to wsize, then zeroes */
	uint64_t pfx, wsize;
	char name[32];
	uint32_t mode;
	uint64_t size, ino;
	uint8_t data[INL_MAX];
};
static struct node nodes[MAX_NODES];

/* -S: the byte a file appends at offset o (never 0). */
static uint8_t own_byte(uint64_t ino, uint64_t o)
{
	uint64_t x = (ino * 0x9e3779b97f4a7c15ull) ^ (o * 0xbf58476d1ce4e5b9ull);

	x ^= x >> 29;
	return (uint8_t)(x | 1);
}

/* The model's content of file i at offset o. */
static uint8_t model_byte(const struct node *n, uint64_t o)
{
	if (n->small)
		return o < n->pfx ? n->data[o] :
		       o < n->wsize ? own_byte(n->ino, o) : 0;
	return o < INL_MAX ? n->data[o] : 0;
}

/* crc32 of the first min(size, CRC_SPAN) bytes of the model's file. */
static uint32_t model_crc(const struct node *n)
{
	static uint8_t buf[CRC_SPAN];
	uint64_t len = n->size < CRC_SPAN ? n->size : CRC_SPAN, o;

	for (o = 0; o < len; o++)
		buf[o] = model_byte(n, o);
	return (uint32_t)crc32(0, buf, (uInt)len);
}
static char **states;		/* states[m]: after m operations */
static size_t *op_pos;		/* op_pos[i]: log position when op i began */
static size_t nops;

static void path_of(int i, char *buf, size_t size)
{
	int chain[MAX_NODES], n = 0;
	size_t len = 0, l;

	while (i && n < MAX_NODES) {
		chain[n++] = i;
		i = nodes[i].parent;
	}
	buf[0] = '\0';
	while (n--) {
		l = strlen(nodes[chain[n]].name);
		if (len + l + 2 > size)
			break;
		buf[len++] = '/';
		memcpy(buf + len, nodes[chain[n]].name, l + 1);
		len += l;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins lines, sorted, into one malloc'd string; frees them. */
static char *join_lines(char **lines, size_t n)
{
	size_t i, len = 1;
	char *s;

	if (n)
		qsort(lines, n, sizeof(*lines), cmp_str);
	for (i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	s = xrealloc(NULL, len);
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(s, lines[i]);
		strcat(s, "\n");
		free(lines[i]);
	}
	free(lines);
	return s;
}

static char *fmt_entry(const char *path, int dir, uint32_t mode,
		       uint64_t size, uint32_t crc)
{
	char *s;

	if (asprintf(&s, "%s %s %04o %" PRIu64 " %08x", path,
		     dir ? "d" : "f", mode & 07777, dir ? 0 : size,
		     dir ? 0 : crc) < 0)
		exit(2);
	return s;
}

static char *model_state(void)
{
	char **lines = NULL, path[1024];
	size_t n = 0;
	int i;

	for (i = 1; i < MAX_NODES; i++) {
		if (!nodes[i].used)
			continue;
		path_of(i, path, sizeof(path));
		lines = xrealloc(lines, (n + 1) * sizeof(*lines));
		lines[n++] = fmt_entry(path, nodes[i].dir, nodes[i].mode,
				       nodes[i].size, model_crc(&nodes[i]));
	}
	return join_lines(lines, n);
}

/*
 * Checks one mapped piece of a file (n bytes at file offset off, read from
 * the device): past the first INL_MAX bytes (converted inline data) every
 * byte is zero or the file's own appended byte (-S), never the deleted
 * marker file's nor another file's. The first CRC_SPAN bytes go to span.
 */
static int piece_check(uint64_t ino, const char *path, uint64_t off,
		       uint64_t phys, const uint8_t *buf, uint64_t n,
		       uint8_t *span, char *err, size_t errlen)
{
	uint64_t k, o;

	for (k = 0; k < n; k++) {
		o = off + k;
		if (o < CRC_SPAN)
			span[o] = buf[k];
		if (o < INL_MAX || !buf[k] || buf[k] == own_byte(ino, o))
			continue;
		snprintf(err, errlen, "'%s' offset %" PRIu64 " (device "
			 "offset %" PRIu64 ") holds neither zero nor its own "
			 "bytes: %s", path, o, phys + k,
			 is_marker(buf + (k & ~4095ull)) ?
			 "STALE DATA of the deleted marker file" :
			 "foreign bytes");
		return -EIO;
	}
	return 0;
}

/*
 * The meta workload writes data only through inline writes and (-S)
 * appends of own_byte: a file converted from inline keeps its old bytes
 * at the start, and every other byte of every mapped block or sub-block
 * unit must read as zero or as the file's own (the marker file's freed
 * blocks and freed units are reused by these files). *crc gets the crc32
 * of the first min(size, CRC_SPAN) bytes (zeroes where unmapped).
 */
static int blocks_zero(struct vol *v, uint64_t ino, uint64_t size,
		       const char *path, uint32_t *crc, char *err,
		       size_t errlen)
{
	static uint8_t span[CRC_SPAN];
	uint64_t bs = 1ull << vsb.block_shift, b;
	struct csvfs_wext *ext = xrealloc(NULL, EXT_MAX * sizeof(*ext));
	uint8_t *buf = dev_alloc_buf(bs);
	uint32_t n, i;
	int rc;

	if (!buf)
		exit(2);
	memset(span, 0, sizeof(span));
	rc = mdc_get_extents(v->mdc, ino, 0, 0, ext, EXT_MAX, &n);
	if (rc)
		snprintf(err, errlen, "get_extents '%s': %s", path,
			 csvfs_strerror(rc));
	for (i = 0; !rc && i < n; i++) {
		if (ext[i].flags & CSVFS_EXT_SUB) {
			uint64_t len = (uint64_t)ext[i].len * CSVFS_SUB_UNIT;

			if (n != 1 || ext[i].lblk || len > bs) {
				snprintf(err, errlen, "'%s': bad sub-block run",
					 path);
				rc = -EIO;
				break;
			}
			rc = dev_pread(v->dev, buf, len,
				       ext[i].pblk * CSVFS_SUB_UNIT);
			if (!rc)
				rc = piece_check(ino, path, 0,
						 ext[i].pblk * CSVFS_SUB_UNIT,
						 buf, len, span, err, errlen);
			else
				snprintf(err, errlen, "read '%s': %s", path,
					 csvfs_strerror(rc));
			continue;
		}
		for (b = 0; !rc && b < ext[i].len; b++) {
			rc = dev_pread(v->dev, buf, bs,
				       (ext[i].pblk + b) * bs);
			if (rc) {
				snprintf(err, errlen, "read '%s': %s", path,
					 csvfs_strerror(rc));
				break;
			}
			rc = piece_check(ino, path, (ext[i].lblk + b) * bs,
					 (ext[i].pblk + b) * bs, buf, bs, span,
					 err, errlen);
		}
	}
	/* A tail (ondisk.h): the bytes past the run are the inode's. */
	if (!rc && n == 1 && (ext[0].flags & CSVFS_EXT_SUB)) {
		uint64_t run = (uint64_t)ext[0].len * CSVFS_SUB_UNIT;
		struct csvfs_attr ta;

		rc = mdc_getattr(v->mdc, ino, &ta);
		if (!rc && (ta.flags & CSVFS_IFL_TAIL) && run < CRC_SPAN &&
		    size > run) {
			uint64_t end = size < CRC_SPAN ? size : CRC_SPAN;
			int got = mdc_inline_read(v->mdc, ino, run,
						  span + run,
						  (uint32_t)(end - run));

			rc = got < 0 ? got : (uint64_t)got == end - run ? 0 :
			     -EIO;
		}
		if (rc)
			snprintf(err, errlen, "tail of '%s': %s", path,
				 csvfs_strerror(rc));
	}
	*crc = (uint32_t)crc32(0, span, (uInt)(size < CRC_SPAN ? size :
						CRC_SPAN));
	free(buf);
	free(ext);
	return rc;
}

static int walk(struct vol *v, uint64_t ino, const char *path, char ***lines,
		size_t *n, char *err, size_t errlen)
{
	struct mdc *c = v->mdc;
	struct mdc_dirent *ents = xrealloc(NULL, 64 * sizeof(*ents));
	uint64_t cookie = 0;
	uint32_t cnt, i;
	int eof = 0, rc = 0;

	while (!eof) {
		rc = mdc_readdir(c, ino, cookie, 0, ents, 64, &cnt, &eof);
		if (rc) {
			snprintf(err, errlen, "readdir '%s': %s", path,
				 csvfs_strerror(rc));
			break;
		}
		if (!cnt)
			break;
		for (i = 0; i < cnt && !rc; i++) {
			struct csvfs_attr a;
			char sub[1024];
			uint8_t data[INL_MAX];
			uint32_t crc = 0;

			cookie = ents[i].next_cookie;
			if (!strcmp(ents[i].name, ".") ||
			    !strcmp(ents[i].name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path,
				 ents[i].name);
			rc = mdc_lookup(c, ino, ents[i].name, &a);
			if (rc) {
				snprintf(err, errlen, "lookup '%s': %s", sub,
					 csvfs_strerror(rc));
				break;
			}
			if (S_ISREG(a.mode) && (a.flags & CSVFS_IFL_INLINE)) {
				int r = 0;

				if (a.size <= INL_MAX)
					r = mdc_inline_read(c, a.ino, 0, data,
							    (uint32_t)a.size);
				if (a.size > INL_MAX || r < 0 ||
				    (uint64_t)r != a.size) {
					snprintf(err, errlen, "read inline '%s' "
						 "(size %" PRIu64 "): %s", sub,
						 a.size, r < 0 ?
						 csvfs_strerror(r) : "short");
					rc = -EIO;
					break;
				}
				crc = (uint32_t)crc32(0, data, (uInt)a.size);
			} else if (S_ISREG(a.mode)) {
				crc = 0xffffffffu;
				if (strcmp(sub, "/marker")) {
					rc = blocks_zero(v, a.ino, a.size, sub,
							 &crc, err, errlen);
					if (rc)
						break;
				}
			}
			*lines = xrealloc(*lines, (*n + 1) * sizeof(**lines));
			(*lines)[(*n)++] = fmt_entry(sub, S_ISDIR(a.mode),
						     a.mode, a.size, crc);
			if (S_ISDIR(a.mode))
				rc = walk(v, a.ino, sub, lines, n, err,
					  errlen);
		}
	}
	free(ents);
	return rc;
}

/* The lines only in a ("-") or only in b ("+"); both sorted. */
static char *line_diff(const char *a, const char *b)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		exit(2);
	while (*a || *b) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a);
		size_t lb = eb ? (size_t)(eb - b) : strlen(b);
		int cmp;

		if (!*a)
			cmp = 1;
		else if (!*b)
			cmp = -1;
		else {
			cmp = strncmp(a, b, la < lb ? la : lb);
			if (!cmp)
				cmp = la < lb ? -1 : la > lb ? 1 : 0;
		}
		if (cmp < 0 || cmp > 0) {
			const char *p = cmp < 0 ? a : b;
			size_t l = cmp < 0 ? la : lb;

			fprintf(f, "%c%.*s\n", cmp < 0 ? '-' : '+', (int)l, p);
		}
		if (cmp <= 0)
			a += la + (ea ? 1 : 0);
		if (cmp >= 0)
			b += lb + (eb ? 1 : 0);
	}
	fclose(f);
	return out;
}

static int pick(int want_dir, int want_empty, int not_root)
{
	int cand[MAX_NODES], n = 0, i, j;

	for (i = 0; i < MAX_NODES; i++) {
		if (!nodes[i].used || nodes[i].dir != want_dir)
			continue;
		if (not_root && i == 0)
			continue;
		if (want_empty) {
			for (j = 1; j < MAX_NODES; j++)
				if (nodes[j].used && nodes[j].parent == i)
					break;
			if (j < MAX_NODES)
				continue;
		}
		cand[n++] = i;
	}
	return n ? cand[rnd_n((uint64_t)n)] : -1;
}

static int free_slot(void)
{
	int i;

	for (i = 1; i < MAX_NODES; i++)
		if (!nodes[i].used)
			return i;
	return -1;
}

static int depth(int i)
{
	int d = 0;

	while (i) {
		i = nodes[i].parent;
		d++;
	}
	return d;
}

static char *line_diff(const char *a, const char *b);
static int force_kind = -1;	/* -S phases: this kind of operation only */
static unsigned n_append, n_moved, n_promote, n_close;	/* -S, -v */
static uint64_t last_run[MAX_NODES];		/* -S: pblk of each run */
static struct dev *cur_dev;	/* the recorded device of the workload */

static void push_state(void)
{
	states = xrealloc(states, (nops + 2) * sizeof(*states));
	op_pos = xrealloc(op_pos, (nops + 2) * sizeof(*op_pos));
	states[nops + 1] = model_state();
	if (verbose > 1) {
		/* -vv: the history, one diff per transaction */
		char *d = line_diff(states[nops], states[nops + 1]);

		printf("op %zu (log %zu):\n%s", nops, op_pos[nops], d);
		free(d);
	}
	nops++;
}

#define KIND_APPEND	200
#define KIND_CLOSE	201

/*
 * -S: appends len bytes of own_byte at the end of file s through
 * ALLOC_SMALL, as fs/data.c does: the allocation (a transaction of its
 * own), the data written and flushed, then the new size reported.
 */
static int small_append(struct mdc *c, int s)
{
	struct node *n = &nodes[s];
	struct csvfs_wext ext[EXT_MAX];
	struct csvfs_attr a;
	uint64_t off = n->size, len = 1 + rnd_n(12000), end = off + len;
	uint64_t u0, u1, k, phys;
	uint8_t *buf;
	uint32_t cnt;

	if (n->big || (n->small && n->wsize != n->size) || end > SMALL_LIM)
		return -1;
	CHECK(mdc_alloc(c, n->ino, 0, end, CSVFS_ALLOC_SMALL, &a, ext,
			EXT_MAX, &cnt));
	if (cnt != 1 || !(ext[0].flags & CSVFS_EXT_SUB) ||
	    (uint64_t)ext[0].len * CSVFS_SUB_UNIT < end) {
		fprintf(stderr, "crashsim: ALLOC_SMALL of %" PRIu64 " bytes "
			"did not answer with a sub-block run\n", end);
		exit(2);
	}
	n_append++;
	if (n->small && last_run[s] && last_run[s] != ext[0].pblk)
		n_moved++;
	last_run[s] = ext[0].pblk;
	if (!n->small) {
		/* inline bytes (if any) moved to the run */
		n->small = 1;
		n->pfx = n->size;
		n->wsize = n->size;
	}
	/* the allocation is a state of its own: content unchanged */
	push_state();
	op_pos[nops] = log_pos();
	phys = ext[0].pblk * CSVFS_SUB_UNIT;
	u0 = off / CSVFS_SUB_UNIT;
	u1 = (end + CSVFS_SUB_UNIT - 1) / CSVFS_SUB_UNIT;
	buf = dev_alloc_buf((u1 - u0) * CSVFS_SUB_UNIT);
	if (!buf)
		exit(2);
	CHECK(dev_pread(cur_dev, buf, (u1 - u0) * CSVFS_SUB_UNIT,
			phys + u0 * CSVFS_SUB_UNIT));
	for (k = off; k < end; k++)
		buf[k - u0 * CSVFS_SUB_UNIT] = own_byte(n->ino, k);
	CHECK(dev_pwrite(cur_dev, buf, (u1 - u0) * CSVFS_SUB_UNIT,
			 phys + u0 * CSVFS_SUB_UNIT));
	free(buf);
	/* data durable before the size that makes it part of the file */
	CHECK(dev_flush(cur_dev));
	CHECK(mdc_write_done(c, n->ino, end, 0, 0, 0, NULL, 0, &a));
	n->size = end;
	n->wsize = end;
	return 0;
}

/* One random operation; returns 0 when one was done. */
static int meta_op(struct mdc *c, unsigned *uniq)
{
	struct csvfs_attr a;
	struct mdc_setattr sa;
	uint64_t kind = rnd_n(100);
	int i, d, s, t;

	if (trunc_mix) {
		/* create, inline write, allocate (convert), truncate */
		static const uint64_t mix[] = { 0, 90, 82, 65, 65 };

		kind = mix[rnd_n(5)];
	}
	if (small_mix) {
		/* create, appends, truncate, allocate (promote), unlink,
		 * inline write */
		static const uint64_t mix[] = { 0, KIND_APPEND, KIND_APPEND,
			KIND_APPEND, KIND_APPEND, 65, 82, 40, 40, 90,
			KIND_CLOSE, KIND_CLOSE };

		kind = force_kind >= 0 ? (uint64_t)force_kind :
		       mix[rnd_n(12)];
	}

	op_pos[nops] = log_pos();
	if (kind == KIND_APPEND) {
		s = pick(0, 0, 1);
		if (s < 0 || small_append(c, s))
			return -1;
	} else if (kind == KIND_CLOSE) {
		/* a last close: the room ahead goes back, the last partial
		 * unit moves into the inode (a tail); content unchanged */
		s = pick(0, 0, 1);
		if (s < 0 || !nodes[s].small || nodes[s].big)
			return -1;
		CHECK(mdc_open(c, nodes[s].ino, CSVFS_OPEN_WRITE, &a));
		CHECK(mdc_release(c, nodes[s].ino,
				  CSVFS_OPEN_WRITE | CSVFS_OPEN_LAST));
		n_close++;
	} else if (kind < 22) {			/* create */
		d = pick(1, 0, 0);
		s = free_slot();
		if (d < 0 || s < 0)
			return -1;
		snprintf(nodes[s].name, sizeof(nodes[s].name), "f%u",
			 (*uniq)++);
		CHECK(mdc_mknod(c, nodes[d].ino, nodes[s].name,
				S_IFREG | 0644, 0, 0, 0, &a));
		nodes[s].used = 1;
		nodes[s].parent = d;
		nodes[s].dir = 0;
		nodes[s].big = 0;
		nodes[s].small = 0;
		nodes[s].pfx = nodes[s].wsize = 0;
		nodes[s].mode = 0644;
		nodes[s].size = 0;
		nodes[s].ino = a.ino;
		memset(nodes[s].data, 0, INL_MAX);
	} else if (kind < 30) {		/* mkdir */
		d = pick(1, 0, 0);
		s = free_slot();
		if (d < 0 || s < 0 || depth(d) > 2)
			return -1;
		snprintf(nodes[s].name, sizeof(nodes[s].name), "d%u",
			 (*uniq)++);
		CHECK(mdc_mkdir(c, nodes[d].ino, nodes[s].name, 0755, 0, 0,
				&a));
		nodes[s].used = 1;
		nodes[s].parent = d;
		nodes[s].dir = 1;
		nodes[s].big = 0;
		nodes[s].small = 0;
		nodes[s].mode = 0755;
		nodes[s].size = 0;
		nodes[s].ino = a.ino;
	} else if (kind < 34) {		/* rmdir */
		s = pick(1, 1, 1);
		if (s < 0)
			return -1;
		CHECK(mdc_rmdir(c, nodes[nodes[s].parent].ino,
				nodes[s].name));
		nodes[s].used = 0;
	} else if (kind < 44) {		/* unlink */
		s = pick(0, 0, 1);
		if (s < 0)
			return -1;
		CHECK(mdc_unlink(c, nodes[nodes[s].parent].ino,
				 nodes[s].name));
		nodes[s].used = 0;
	} else if (kind < 56) {		/* rename a file, maybe replacing */
		char name[32];

		s = pick(0, 0, 1);
		d = pick(1, 0, 0);
		if (s < 0 || d < 0)
			return -1;
		t = -1;
		if (rnd_n(3) == 0) {
			for (i = 1; i < MAX_NODES; i++)
				if (nodes[i].used && !nodes[i].dir &&
				    nodes[i].parent == d && i != s) {
					t = i;
					break;
				}
		}
		if (t >= 0)
			snprintf(name, sizeof(name), "%s", nodes[t].name);
		else
			snprintf(name, sizeof(name), "r%u", (*uniq)++);
		CHECK(mdc_rename(c, nodes[nodes[s].parent].ino, nodes[s].name,
				 nodes[d].ino, name, 0));
		if (t >= 0)
			nodes[t].used = 0;
		nodes[s].parent = d;
		snprintf(nodes[s].name, sizeof(nodes[s].name), "%s", name);
	} else if (kind < 60) {		/* rename a directory in place */
		char name[32];

		s = pick(1, 0, 1);
		if (s < 0)
			return -1;
		snprintf(name, sizeof(name), "m%u", (*uniq)++);
		CHECK(mdc_rename(c, nodes[nodes[s].parent].ino, nodes[s].name,
				 nodes[nodes[s].parent].ino, name, 0));
		snprintf(nodes[s].name, sizeof(nodes[s].name), "%s", name);
	} else if (kind < 72) {		/* truncate */
		s = pick(0, 0, 1);
		if (s < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.valid = CSVFS_SA_SIZE;
		if (nodes[s].small && !nodes[s].big)
			sa.size = rnd_n(nodes[s].size + 1);	/* down */
		else if (nodes[s].big && (!trunc_mix || rnd_n(2)))
			sa.size = 1 + rnd_n(3ull << vsb.block_shift);
		else if (nodes[s].big)
			sa.size = 1 + rnd_n(INL_MAX);
		else
			sa.size = rnd_n(INL_MAX + 1);
		CHECK(mdc_setattr(c, nodes[s].ino, &sa, &a));
		if (sa.size < INL_MAX)
			memset(nodes[s].data + sa.size, 0, INL_MAX - sa.size);
		if (nodes[s].pfx > sa.size)
			nodes[s].pfx = sa.size;
		if (nodes[s].wsize > sa.size)
			nodes[s].wsize = sa.size;
		nodes[s].size = sa.size;
	} else if (kind < 80) {		/* chmod */
		static const uint32_t modes[] = { 0600, 0644, 0640, 0755 };

		s = pick(rnd_n(4) == 0, 0, 1);
		if (s < 0)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.valid = CSVFS_SA_MODE;
		sa.mode = modes[rnd_n(4)] | (nodes[s].dir ? S_IFDIR : S_IFREG);
		CHECK(mdc_setattr(c, nodes[s].ino, &sa, &a));
		nodes[s].mode = sa.mode & 07777;
	} else if (kind < 87) {		/* allocate blocks, report a size */
		struct csvfs_wext ext[EXT_MAX];
		uint64_t lblk = rnd_n(3), cnt = 1 + rnd_n(2), end;
		uint32_t n;

		s = pick(0, 0, 1);
		/* -S: mostly a file in sub-blocks (a promotion) */
		for (i = 0; small_mix && i < 20 && s > 0 &&
			    !(nodes[s].small && !nodes[s].big); i++)
			s = pick(0, 0, 1);
		if (s < 0)
			return -1;
		CHECK(mdc_alloc(c, nodes[s].ino, lblk, cnt, 0, &a, ext,
				EXT_MAX, &n));
		if (nodes[s].small && !nodes[s].big)
			n_promote++;
		/* two transactions: the allocation is a state of its own */
		nodes[s].big = 1;
		push_state();
		op_pos[nops] = log_pos();
		end = (lblk + cnt) << vsb.block_shift;
		CHECK(mdc_write_done(c, nodes[s].ino, end > nodes[s].size ?
				     end : 0, 0, 0, 0, NULL, 0, &a));
		if (end > nodes[s].size)
			nodes[s].size = end;
		nodes[s].big = 1;
	} else {			/* inline write */
		uint8_t buf[128];
		uint64_t off, len, k;

		s = pick(0, 0, 1);
		if (s < 0 || nodes[s].big || nodes[s].small)
			return -1;
		len = 1 + rnd_n(sizeof(buf));
		off = rnd_n(INL_MAX - len + 1);
		for (k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		CHECK(mdc_inline_write(c, nodes[s].ino, off, buf,
				       (uint32_t)len, &a));
		memcpy(nodes[s].data + off, buf, len);
		if (off + len > nodes[s].size)
			nodes[s].size = off + len;
	}
	push_state();
	return 0;
}

static void run_meta(unsigned nop)
{
	struct vol v;
	unsigned uniq = 0, done = 0, guard = 0;

	memset(nodes, 0, sizeof(nodes));
	nodes[0].used = 1;
	nodes[0].dir = 1;
	CHECK(vol_start(&v, img_path, 1));
	nodes[0].ino = root_ino;
	/* state 0: the marker file exists (it has blocks: not in the model) */
	nops = 0;
	states = xrealloc(NULL, 2 * sizeof(*states));
	op_pos = xrealloc(NULL, 2 * sizeof(*op_pos));
	states[0] = xrealloc(NULL, 1);
	states[0][0] = '\0';
	/* op 0: unlink the marker file (zeroes and frees its blocks) */
	op_pos[0] = log_pos();
	CHECK(mdc_unlink(v.mdc, root_ino, "marker"));
	push_state();
	CHECK(mdc_fsync(v.mdc, root_ino));
	add_fsp(nops, 0, 0);
	cur_dev = v.dev;
	if (small_mix) {
		/* a second meta chunk, given back at the end */
		force_kind = 0;
		for (done = 0; done < SMALL_CREATES; done++)
			if (meta_op(v.mdc, &uniq))
				break;
		force_kind = -1;
		CHECK(mdc_fsync(v.mdc, root_ino));
		add_fsp(nops, 0, 0);
		done = 0;
	}
	while (done < nop && guard++ < nop * 20) {
		if (meta_op(v.mdc, &uniq))
			continue;
		done++;
		if (rnd_n(8) == 0) {
			int s = pick(0, 0, 1);

			CHECK(mdc_fsync(v.mdc, s > 0 ? nodes[s].ino :
					root_ino));
			add_fsp(nops, 0, 0);
		}
	}
	if (small_mix) {
		/* every file goes: empty sub and meta chunks go back */
		force_kind = 40;
		while (pick(0, 0, 1) > 0)
			if (meta_op(v.mdc, &uniq))
				break;
		force_kind = -1;
		CHECK(mdc_fsync(v.mdc, root_ino));
		add_fsp(nops, 0, 0);
	}
	CHECK(vol_stop(&v));
	add_fsp(nops, 0, 0);
}

/*
 * State 0 is "marker still there": the model never lists it, so the
 * actual walk drops "/marker" when comparing with state 0 only.
 */
static int check_meta(struct vol *v, size_t c, long f, char *err,
		      size_t errlen)
{
	char **lines = NULL, *act, *act0 = NULL;
	size_t n = 0, lo, hi, m;
	long k = durable_fsp(f);
	int rc;

	rc = walk(v, root_ino, "", &lines, &n, err, errlen);
	if (rc) {
		while (n)
			free(lines[--n]);
		free(lines);
		return -1;
	}
	act = join_lines(lines, n);
	lo = k >= 0 ? fsps[k].ops : 0;
	for (hi = 0; hi < nops && op_pos[hi] < c; hi++)
		;
	for (m = lo; m <= hi; m++) {
		const char *want = states[m];

		if (m == 0) {
			char *p = strstr(act, "/marker f ");

			if (!p || p != act)
				continue;
			act0 = strchr(p, '\n') + 1;
			if (!strcmp(act0, want))
				break;
			continue;
		}
		if (!strcmp(act, want))
			break;
	}
	if (m <= hi) {
		free(act);
		return 0;
	}
	{
		size_t best = lo, bestd = (size_t)-1;
		char *d;

		for (m = lo; m <= hi; m++) {
			d = line_diff(states[m], act);
			if (strlen(d) < bestd) {
				bestd = strlen(d);
				best = m;
			}
			free(d);
		}
		d = line_diff(states[best], act);
		snprintf(err, errlen, "namespace matches no state after "
			 "%zu..%zu operations (fsync point %ld durable); "
			 "closest: after %zu operations (-expected +found):\n%s",
			 lo, hi, k, best, d);
		free(d);
	}
	free(act);
	return -1;
}

/* ---- vm workload -------------------------------------------------------- */

#define VM_RECS		(24u << 8)	/* 24 MiB of 4 KiB records */

/* A write of record rec, or (zero) a punch that made it read as zeroes. */
struct wr {
	uint32_t rec;
	uint32_t gen;
	int zero;
	size_t pos;		/* log position of its data write / punch */
};
static struct wr *wrs;
static size_t nwrs;
static uint64_t vm_ino, vm_seed;
static unsigned vm_punches;

static void rec_fill(uint8_t *b, uint32_t r, uint32_t gen)
{
	uint64_t x = vm_seed ^ ((uint64_t)r << 32) ^ gen ^ 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 16; i < REC_SIZE; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	od_put32(b, REC_MAGIC);
	od_put32(b + 4, r);
	od_put32(b + 8, gen);
	od_put32(b + 12, 0);
	od_put32(b + 12, (uint32_t)crc32(0, b, REC_SIZE));
}

/* 1: valid record (r, gen set); 0: all zero; -1: anything else. */
static int rec_parse(const uint8_t *b, uint32_t *r, uint32_t *gen)
{
	uint8_t *t;
	size_t i;
	int ok;

	if (od_get32(b) != REC_MAGIC) {
		for (i = 0; i < REC_SIZE; i++)
			if (b[i])
				return -1;
		return 0;
	}
	*r = od_get32(b + 4);
	*gen = od_get32(b + 8);
	t = xrealloc(NULL, REC_SIZE);
	rec_fill(t, *r, *gen);
	ok = !memcmp(t, b, REC_SIZE);
	free(t);
	return ok ? 1 : -1;
}

struct vmap {
	struct csvfs_wext ext[EXT_MAX];
	uint32_t n;
};

static int vmap_find(const struct vmap *m, uint64_t lblk, uint64_t *pblk,
		     uint32_t *flags)
{
	uint32_t i;

	for (i = 0; i < m->n; i++)
		if (lblk >= m->ext[i].lblk &&
		    lblk < m->ext[i].lblk + m->ext[i].len) {
			*pblk = m->ext[i].pblk + (lblk - m->ext[i].lblk);
			*flags = m->ext[i].flags;
			return 1;
		}
	return 0;
}

/*
 * Punches one mapped large block of the disk (as fallocate(PUNCH_HOLE |
 * KEEP_SIZE) from the guest's discard): its records read as zeroes from
 * then on; its blocks are freed, zeroed first, and reused later.
 */
static void punch(struct vol *v, struct vmap *map, uint32_t *gen,
		  struct mdc_range *rg, uint32_t *nrg, uint64_t *rep_size,
		  uint64_t size)
{
	uint64_t bs = 1ull << vsb.block_shift, lblk, pblk;
	uint32_t flags, r, per = (uint32_t)(bs / REC_SIZE), i;
	struct csvfs_attr a;
	size_t pos;

	lblk = rnd_n(((uint64_t)VM_RECS * REC_SIZE) >> vsb.block_shift);
	if (!vmap_find(map, lblk, &pblk, &flags))
		return;
	/* what was written is reported first, as the daemon does */
	CHECK(mdc_write_done(v->mdc, vm_ino, size > *rep_size ? size : 0, 0,
			     0, 0, rg, *nrg, &a));
	*rep_size = size;
	*nrg = 0;
	pos = log_pos();
	CHECK(mdc_fallocate(v->mdc, vm_ino, CSVFS_FA_PUNCH_HOLE |
			    CSVFS_FA_KEEP_SIZE, lblk * bs, bs, &a));
	++*gen;
	vm_punches++;
	for (i = 0; i < per; i++) {
		r = (uint32_t)(lblk * per + i);
		wrs = xrealloc(wrs, (nwrs + 1) * sizeof(*wrs));
		wrs[nwrs].rec = r;
		wrs[nwrs].gen = *gen;
		wrs[nwrs].zero = 1;
		wrs[nwrs].pos = pos;
		nwrs++;
	}
	CHECK(mdc_get_extents(v->mdc, vm_ino, 0, 0, map->ext, EXT_MAX,
			      &map->n));
	if (vmap_find(map, lblk, &pblk, &flags)) {
		fprintf(stderr, "crashsim: block %" PRIu64 " still mapped "
			"after a punch\n", lblk);
		exit(2);
	}
}

static void run_vm(unsigned nop)
{
	struct csvfs_wext ext[EXT_MAX];
	struct csvfs_attr a;
	struct mdc_range rg[64];
	struct vmap map;
	struct vol v;
	uint8_t *buf;
	uint64_t bs, size = 0, rep_size = 0, pblk, seq = 0;
	uint32_t gen = 0, n, flags, nrg = 0, i, r;
	unsigned w;

	CHECK(vol_start(&v, img_path, 1));
	bs = 1ull << vsb.block_shift;
	buf = dev_alloc_buf(REC_SIZE);
	if (!buf)
		exit(2);
	CHECK(mdc_unlink(v.mdc, root_ino, "marker"));
	CHECK(mdc_mknod(v.mdc, root_ino, "disk", S_IFREG | 0644, 0, 0, 0, &a));
	vm_ino = a.ino;
	CHECK(mdc_fsync(v.mdc, root_ino));
	add_fsp(0, 0, 0);
	map.n = 0;
	for (w = 0; w < nop; w++) {
		uint64_t off, lblk;

		if (rnd_n(150) == 0) {
			punch(&v, &map, &gen, rg, &nrg, &rep_size, size);
			continue;
		}
		/* mostly sequential runs, some random rewrites */
		if (rnd_n(4) == 0)
			r = (uint32_t)rnd_n(VM_RECS);
		else
			r = (uint32_t)(seq++ % VM_RECS);
		off = (uint64_t)r * REC_SIZE;
		lblk = off >> vsb.block_shift;
		if (!vmap_find(&map, lblk, &pblk, &flags)) {
			CHECK(mdc_alloc(v.mdc, vm_ino, lblk, 1,
					lblk * bs >= size ? CSVFS_ALLOC_AHEAD :
					0, &a, ext, EXT_MAX, &n));
			CHECK(mdc_get_extents(v.mdc, vm_ino, 0, 0, map.ext,
					      EXT_MAX, &map.n));
			if (!vmap_find(&map, lblk, &pblk, &flags)) {
				fprintf(stderr, "crashsim: block %" PRIu64
					" not mapped after mdc_alloc\n", lblk);
				exit(2);
			}
		}
		rec_fill(buf, r, ++gen);
		wrs = xrealloc(wrs, (nwrs + 1) * sizeof(*wrs));
		wrs[nwrs].rec = r;
		wrs[nwrs].gen = gen;
		wrs[nwrs].zero = 0;
		wrs[nwrs].pos = log_pos();
		nwrs++;
		CHECK(dev_pwrite(v.dev, buf, REC_SIZE,
				 pblk * bs + (off & (bs - 1))));
		if (off + REC_SIZE > size)
			size = off + REC_SIZE;
		for (i = 0; i < nrg; i++)
			if (rg[i].lblk == lblk)
				break;
		if (i == nrg && nrg < 64) {
			rg[nrg].lblk = lblk;
			rg[nrg].count = 1;
			nrg++;
		}
		/* a periodic report, or a guest flush */
		if (rnd_n(40) == 0 || nrg == 64) {
			size_t dpos = log_pos();
			int fl = rnd_n(2);

			if (fl)
				CHECK(dev_flush(v.dev));
			CHECK(mdc_write_done(v.mdc, vm_ino,
					     size > rep_size ? size : 0, 0, 0,
					     0, rg, nrg, &a));
			rep_size = size;
			nrg = 0;
			if (fl) {
				CHECK(mdc_fsync(v.mdc, vm_ino));
				add_fsp(0, dpos, size);
			}
		}
	}
	CHECK(dev_flush(v.dev));
	{
		size_t dpos = log_pos() - 1;

		CHECK(mdc_write_done(v.mdc, vm_ino, size > rep_size ? size : 0,
				     0, 0, 0, rg, nrg, &a));
		CHECK(mdc_fsync(v.mdc, vm_ino));
		add_fsp(0, dpos, size);
	}
	free(buf);
	CHECK(vol_stop(&v));
	add_fsp(0, fsps[nfsp - 1].data_pos, size);
}

/*
 * Whether record r may read as zeroes at cut c: nothing non-zero was
 * durable (dur[r] 0 or a punch), or a punch not older than the durable
 * write began before c.
 */
static int zero_ok(uint32_t r, size_t c, const uint32_t *dur,
		   const uint8_t *durz)
{
	size_t j;

	if (!dur[r] || durz[r])
		return 1;
	for (j = 0; j < nwrs && wrs[j].pos < c; j++)
		if (wrs[j].rec == r && wrs[j].zero && wrs[j].gen > dur[r])
			return 1;
	return 0;
}

static int check_vm(struct vol *v, size_t c, long f, char *err, size_t errlen)
{
	long k = durable_fsp(f);
	uint64_t bs = 1ull << vsb.block_shift, min_size, b, pblk;
	uint32_t *dur, i, r, gen, flags;
	uint8_t *durz;
	struct csvfs_attr a;
	struct vmap *map;
	uint8_t *buf = NULL;
	size_t j;
	int rc = -1, t;

	err[0] = '\0';
	dur = calloc(VM_RECS, sizeof(*dur));	/* durable gen, 0 = none */
	durz = calloc(VM_RECS, 1);		/* ... which is a punch */
	map = calloc(1, sizeof(*map));
	if (!dur || !durz || !map)
		exit(2);
	min_size = k >= 0 ? fsps[k].size : 0;
	for (j = 0; k >= 0 && j < nwrs && wrs[j].pos < fsps[k].data_pos; j++) {
		dur[wrs[j].rec] = wrs[j].gen;
		durz[wrs[j].rec] = (uint8_t)wrs[j].zero;
	}
	rc = mdc_lookup(v->mdc, root_ino, "disk", &a);
	if (rc == -ENOENT && k < 0) {
		rc = 0;		/* not created yet: nothing durable */
		goto out;
	}
	if (rc) {
		snprintf(err, errlen, "lookup 'disk': %s", csvfs_strerror(rc));
		goto fail;
	}
	if (a.size < min_size) {
		snprintf(err, errlen, "size %" PRIu64 " < %" PRIu64
			 " fsynced at point %ld", a.size, min_size, k);
		goto fail;
	}
	rc = mdc_get_extents(v->mdc, a.ino, 0, 0, map->ext, EXT_MAX, &map->n);
	if (rc) {
		snprintf(err, errlen, "get_extents: %s", csvfs_strerror(rc));
		goto fail;
	}
	for (r = 0; r < VM_RECS; r++) {
		uint64_t lblk = ((uint64_t)r * REC_SIZE) >> vsb.block_shift;

		if (zero_ok(r, c, dur, durz))
			continue;
		if (!vmap_find(map, lblk, &pblk, &flags)) {
			snprintf(err, errlen, "record %u (gen %u, fsynced) "
				 "lost: block %" PRIu64 " unmapped", r, dur[r],
				 lblk);
			goto fail;
		}
		if (flags & CSVFS_EXT_UNWRITTEN) {
			snprintf(err, errlen, "record %u (gen %u, fsynced) "
				 "in block %" PRIu64 " still marked "
				 "UNWRITTEN", r, dur[r], lblk);
			goto fail;
		}
	}
	buf = dev_alloc_buf(bs);
	if (!buf)
		exit(2);
	for (i = 0; i < map->n; i++) {
		for (b = 0; b < map->ext[i].len; b++) {
			uint64_t lblk = map->ext[i].lblk + b, o;

			rc = dev_pread(v->dev, buf, bs,
				       (map->ext[i].pblk + b) * bs);
			if (rc) {
				snprintf(err, errlen, "read block %" PRIu64
					 ": %s", lblk, csvfs_strerror(rc));
				goto fail;
			}
			for (o = 0; o < bs; o += REC_SIZE) {
				uint64_t pos = (lblk * bs + o) / REC_SIZE;
				uint32_t want = pos < VM_RECS ? dur[pos] : 0;

				t = rec_parse(buf + o, &r, &gen);
				if (t < 0) {
					snprintf(err, errlen, "offset %" PRIu64
						 " (phys %" PRIu64 "): %s",
						 lblk * bs + o,
						 (map->ext[i].pblk + b) * bs +
						 o, is_marker(buf + o) ?
						 "STALE DATA of the deleted "
						 "marker file" :
						 "garbage (torn or foreign)");
					goto fail;
				}
				if (t == 0) {
					if (pos < VM_RECS &&
					    !zero_ok((uint32_t)pos, c, dur,
						     durz)) {
						snprintf(err, errlen, "record "
							 "%" PRIu64 " (gen %u, "
							 "fsynced) reads as "
							 "zeroes", pos, want);
						goto fail;
					}
					continue;
				}
				if (r != pos) {
					snprintf(err, errlen, "offset %" PRIu64
						 " holds record %u (gen %u)",
						 lblk * bs + o, r, gen);
					goto fail;
				}
				/* gen: a write of r begun before c, not
				 * older than the durable write or punch */
				for (j = 0; j < nwrs && wrs[j].pos < c; j++)
					if (wrs[j].rec == r && !wrs[j].zero &&
					    wrs[j].gen == gen)
						break;
				if (j == nwrs || wrs[j].pos >= c ||
				    gen < want) {
					snprintf(err, errlen, "record %u has "
						 "gen %u, want >= %u%s written "
						 "before the cut", r, gen,
						 want, r < VM_RECS && durz[r] ?
						 " (punched)" :
						 "");
					goto fail;
				}
			}
		}
	}
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	free(buf);
	free(dur);
	free(durz);
	free(map);
	return rc;
}

/* ---- driver ------------------------------------------------------------- */

static int check_cut(const char *wl, uint64_t seed, size_t c)
{
	char err[65536];
	struct vol v;
	long f;
	int rc;

	uint64_t saved = rng;

	err[0] = '\0';
	/* the subset drawn for a cut depends only on (seed, cut) */
	rng = (seed ^ ((uint64_t)c << 20)) * 0x9e3779b97f4a7c15ull + 1;
	f = build_image(c);
	rng = saved;
	rc = run_fsck(FSCK_MODE_YES);
	if (rc != FSCK_EXIT_CLEAN) {
		snprintf(err, sizeof(err), "fsck -y exit %d after the crash "
			 "(want 0: a crash must leave nothing to repair)\n%s",
			 rc, fsck_out ? fsck_out : "");
		goto fail;
	}
	if (vol_start(&v, img_path, 0)) {
		snprintf(err, sizeof(err), "coordinator refused the volume");
		goto fail;
	}
	rc = strcmp(wl, "vm") ? check_meta(&v, c, f, err, sizeof(err)) :
		check_vm(&v, c, f, err, sizeof(err));
	if (vol_stop(&v) && !rc) {
		snprintf(err, sizeof(err), "coordinator stop failed");
		rc = -1;
	}
	if (rc)
		goto fail;
	rc = run_fsck(FSCK_MODE_NO);
	if (rc != FSCK_EXIT_CLEAN) {
		snprintf(err, sizeof(err), "fsck -n exit %d after recovery "
			 "and unmount\n%s", rc, fsck_out ? fsck_out : "");
		goto fail;
	}
	if (verbose)
		printf("crashsim: workload %s: cut %zu/%zu (last flush %ld) "
		       "ok\n", wl, c, lg.n, f);
	return 0;
fail:
	printf("crashsim: FAIL: workload %s seed %" PRIu64 " cut %zu of %zu "
	       "(last flush %ld): %s\n  reproduce: crashsim -s %" PRIu64
	       " -w %s -C %zu DIR (thread timing may move the cut: the "
	       "log has %zu records)\n", wl, seed, c, lg.n, f, err, seed, wl,
	       c, lg.n);
	if (keep_dir && kept < 3) {
		char kp[4200];

		/* the same image again: same (seed, cut), same subset */
		rng = (seed ^ ((uint64_t)c << 20)) * 0x9e3779b97f4a7c15ull + 1;
		build_image(c);
		rng = saved;
		snprintf(kp, sizeof(kp), "%s/fail-%s-%" PRIu64 "-%zu.img",
			 keep_dir, wl, seed, c);
		if (!rename(img_path, kp)) {
			printf("  crashed image kept: %s\n", kp);
			kept++;
		}
	}
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: crashsim [-s SEED] [-c CUTS] [-n OPS] "
		"[-w meta|vm] [-C CUT] [-k KEEPDIR] [-v] [-T|-S] [-L|-Z] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	unsigned cuts = 100, nop = 0, i, passed = 0, failed = 0;
	const char *wl = "meta";
	long only = -1;
	int opt;

	while ((opt = getopt(argc, argv, "s:c:n:w:C:k:vLZTS")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			cuts = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			nop = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			wl = optarg;
			break;
		case 'C':
			only = strtol(optarg, NULL, 0);
			break;
		case 'v':
			verbose++;
			break;
		case 'k':
			keep_dir = optarg;
			break;
		case 'T':
			trunc_mix = 1;
			break;
		case 'S':
			small_mix = 1;
			break;
		case 'L':
			st_lose_flush = 1;
			break;
		case 'Z':
			st_no_zero = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || (strcmp(wl, "meta") && strcmp(wl, "vm")))
		usage();
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	vm_seed = seed;
	/* -v: the coordinator's log lines too (chunks given back...) */
	if (verbose)
		openlog("crashsim", LOG_PERROR | LOG_NDELAY, LOG_USER);
	setup(argv[optind]);
	if (!strcmp(wl, "meta"))
		run_meta(nop ? nop : 300);
	else
		run_vm(nop ? nop : 3000);
	if (lg.oom) {
		fprintf(stderr, "crashsim: out of memory recording\n");
		return 2;
	}
	if (verbose)
		printf("crashsim: workload %s: %zu log records, %zu fsync "
		       "points, %u punches\n", wl, lg.n, nfsp, vm_punches);
	if (verbose && small_mix)
		printf("crashsim: small mix: %u appends, %u of them moved the "
		       "run, %u runs promoted to a large block, %u last "
		       "closes\n", n_append, n_moved, n_promote, n_close);
	if (only >= 0) {
		if ((size_t)only > lg.n)
			usage();
		cuts = 1;
	}
	for (i = 0; i < cuts; i++) {
		/* the end of the log is a cut point too: cut 0 is nothing */
		size_t c = only >= 0 ? (size_t)only : 1 + rnd_n(lg.n);

		if (check_cut(wl, seed, c))
			failed++;
		else
			passed++;
	}
	unlink(img_path);
	printf("crashsim: workload %s: %u cut points, %u passed, %u failed\n",
	       wl, cuts, passed, failed);
	return failed ? 1 : 0;
}

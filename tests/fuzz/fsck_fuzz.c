/*
 * fsck_fuzz: libFuzzer target for fsck on a damaged volume.
 *
 * Once, at startup, a small volume is formatted in a temp file (in
 * /dev/shm when there is one) and filled through the coordinator: nested
 * directories, a directory of 300 names (several buckets), inline files,
 * files with extents, a hard link, a symlink, xattrs, a removed file. Two
 * bases are kept in memory: "dirty", a copy taken while the coordinator
 * still runs after an fsync (committed transactions in the journal, as
 * after a crash; its heartbeat slot aged so fsck does not wait for a live
 * node), and "clean", after mds_stop. Every 4 KiB block that carries a
 * csvfs magic (superblocks, state, slots, journal, bitmap, chunk headers,
 * inodes, extent and directory blocks, journal copies) is a target.
 *
 * Input:
 *   byte 0   bit 0: base (0 clean, 1 dirty); bit 1: reseal the block's
 *            checksum afterwards, so the checks past the checksum run;
 *            bit 2: restore the header's magic, mblk and uuid (with bit 1:
 *            a block that passes od_check with fuzzed contents);
 *            bits 3-4: 0 replace the block by the payload (zero-padded),
 *            1 write the payload at the offset, 2 xor it there,
 *            3 as 1 and zero the rest of the block after it
 *   bytes 1-2  which target block (modulo their number)
 *   bytes 3-4  offset in the block (modulo 4096)
 *   rest     payload
 * Then fsck -n, fsck -y and fsck -n again run on the image: none may crash
 * or hang (ASan/UBSan/timeouts). With FSCK_FUZZ_STRICT=1 in the
 * environment, a -y that ends with exit 0 or 1 must also leave a volume
 * that the next -n finds clean (abort otherwise): "repairs, or says what
 * it cannot".
 *
 * Build and run (the sources: FSCK_FUZZ_SRCS in the Makefile):
 *   make build-fuzz/fsck_fuzz
 *   build-fuzz/fsck_fuzz -max_total_time=60 tests/fuzz/corpus/fsck
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvfs/ondisk.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/mdc.h"

#define BS		CSVFS_MBLK_SIZE
#define VOL_SIZE	(40ull << 20)
#define HB_AGE_NS	(3600ull * 1000000000ull)

/* An image kept as its non-zero 4 KiB blocks. */
struct image {
	uint64_t *blk;		/* block numbers */
	uint8_t *data;		/* nblk * BS */
	size_t nblk;
};

static char path[64];
static struct image base[2];	/* clean, dirty */
static uint64_t *targets[2];	/* indexes into base[i] */
static size_t ntargets[2];
static FILE *devnull;
static int strict;
static struct csvfs_super vsb;

static void die(const char *what, int rc)
{
	fprintf(stderr, "fsck_fuzz: setup: %s: %d\n", what, rc);
	abort();
}

static int is_meta(const uint8_t *b)
{
	uint32_t m = od_get32(b);

	return m == CSVFS_MAGIC_SUPER || (m & 0xffffu) == 0x5643u;
}

static void snapshot(struct image *im, uint64_t **tg, size_t *nt)
{
	uint8_t *b = malloc(BS);
	uint64_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !b)
		die("open", errno);
	for (n = 0; n < VOL_SIZE / BS; n++) {
		size_t i;

		if (pread(fd, b, BS, (off_t)(n * BS)) != BS)
			die("pread", errno);
		for (i = 0; i < BS && !b[i]; i++)
			;
		if (i == BS)
			continue;
		im->blk = realloc(im->blk, (im->nblk + 1) * sizeof(*im->blk));
		im->data = realloc(im->data, (im->nblk + 1) * BS);
		*tg = realloc(*tg, (*nt + 1) * sizeof(**tg));
		if (!im->blk || !im->data || !*tg)
			die("realloc", ENOMEM);
		/* an aged heartbeat: fsck must not wait for a live node */
		if (od_get32(b) == CSVFS_MAGIC_HB) {
			struct csvfs_hb hb;

			od_hb_decode(b, &hb);
			if (hb.timestamp_ns > HB_AGE_NS)
				hb.timestamp_ns -= HB_AGE_NS;
			od_hb_encode(&hb, b);
			od_seal(b);
		}
		memcpy(im->data + im->nblk * BS, b, BS);
		im->blk[im->nblk] = n;
		if (is_meta(b))
			(*tg)[(*nt)++] = im->nblk;
		im->nblk++;
	}
	close(fd);
	free(b);
}

static void restore(const struct image *im, const uint8_t *blk0,
		    size_t which)
{
	size_t i;
	int fd = open(path, O_RDWR);

	if (fd < 0 || ftruncate(fd, 0) || ftruncate(fd, (off_t)VOL_SIZE))
		die("restore", errno);
	for (i = 0; i < im->nblk; i++)
		if (pwrite(fd, i == which ? blk0 : im->data + i * BS, BS,
			   (off_t)(im->blk[i] * BS)) != BS)
			die("restore write", errno);
	close(fd);
}

#define CK(call)							\
	do {								\
		int rc_ = (call);					\
		if (rc_)						\
			die(#call, rc_);				\
	} while (0)

static void populate(void)
{
	struct mds_opts mo = { .node_id = 1, .standalone = 1 };
	struct csvfs_wext ext[64];
	struct mdc_transport t;
	struct mdc_volinfo vi;
	struct csvfs_attr a, d, big;
	struct mdc_range r = { 0, 3 };
	struct dev *dv;
	struct mds *m;
	struct mdc *c;
	char name[32];
	uint32_t n;
	int i;

	CK(dev_open(path, 0, &dv));
	CK(mds_start(dv, &mo, &m));
	local_transport(m, &t);
	CK(mdc_new(&t, 1, 1, &c));
	CK(mdc_hello(c, "fuzz", &vi));
	CK(mdc_mkdir(c, vi.root_ino, "dir", 0755, 0, 0, &d));
	CK(mdc_mkdir(c, d.ino, "sub", 0700, 1, 1, &a));
	CK(mdc_mknod(c, a.ino, "deep", S_IFREG | 0600, 0, 0, 0, &a));
	CK(mdc_inline_write(c, a.ino, 0, "inline data", 11, &a));
	CK(mdc_setxattr(c, a.ino, "user.k", "value", 5, 0));
	CK(mdc_link(c, a.ino, vi.root_ino, "hardlink", &a));
	CK(mdc_symlink(c, vi.root_ino, "sym", "dir/sub/deep", 0, 0, &a));
	CK(mdc_mkdir(c, vi.root_ino, "many", 0755, 0, 0, &d));
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-%d", i);
		CK(mdc_mknod(c, d.ino, name, S_IFREG | 0644, 0, 0, 0, &a));
	}
	CK(mdc_mknod(c, vi.root_ino, "big", S_IFREG | 0644, 0, 0, 0, &big));
	CK(mdc_alloc(c, big.ino, 0, 3, 0, &a, ext, 64, &n));
	CK(mdc_write_done(c, big.ino, 3ull << vi.block_shift, 0, 0, 0, &r, 1,
			  &a));
	CK(mdc_mknod(c, vi.root_ino, "sparse", S_IFREG | 0644, 0, 0, 0, &a));
	CK(mdc_alloc(c, a.ino, 5, 1, 0, &a, ext, 64, &n));
	CK(mdc_alloc(c, big.ino, 7, 1, 0, &a, ext, 64, &n));
	CK(mdc_mknod(c, vi.root_ino, "gone", S_IFREG | 0644, 0, 0, 0, &a));
	CK(mdc_unlink(c, vi.root_ino, "gone"));
	CK(mdc_fsync(c, vi.root_ino));
	/* the dirty base: the journal holds what the fsync committed */
	snapshot(&base[1], &targets[1], &ntargets[1]);
	mdc_free(c);
	CK(mds_stop(m));
	dev_close(dv);
	snapshot(&base[0], &targets[0], &ntargets[0]);
}

static void setup(void)
{
	struct fmt_opts fo = { .max_nodes = 4 };
	struct dev *dv;
	int fd;

	snprintf(path, sizeof(path), "%s/csvfs-fsck-fuzz.XXXXXX",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)VOL_SIZE))
		die("mkstemp", errno);
	close(fd);
	CK(dev_open(path, 0, &dv));
	CK(fmt_volume(dv, &fo, &vsb));
	dev_close(dv);
	populate();
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		die("/dev/null", errno);
	strict = getenv("FSCK_FUZZ_STRICT") != NULL;
}

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	atexit(cleanup);
	return 0;
}

static int fsck(enum fsck_mode mode)
{
	struct fsck_opts o = { .mode = mode, .out = devnull, .name = "fuzz" };
	struct fsck_report r;
	struct dev *dv;
	int rc;

	rc = dev_open(path, mode == FSCK_MODE_NO ? DEV_RDONLY : 0, &dv);
	if (rc)
		die("dev_open", rc);
	rc = fsck_run(dv, &o, &r);
	dev_close(dv);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags, mode, b, pick, off, i;
	const struct image *im;
	uint8_t *blk, hdr[CSVFS_MHDR_SIZE];
	size_t which, plen;
	const uint8_t *p;
	int y, n2;

	if (size < 5)
		return 0;
	flags = data[0];
	b = flags & 1;
	mode = (flags >> 3) & 3;
	pick = (unsigned)data[1] | (unsigned)data[2] << 8;
	off = ((unsigned)data[3] | (unsigned)data[4] << 8) % BS;
	p = data + 5;
	plen = size - 5;
	im = &base[b];
	which = targets[b][pick % ntargets[b]];
	blk = malloc(BS);
	if (!blk)
		abort();
	memcpy(blk, im->data + which * BS, BS);
	memcpy(hdr, blk, sizeof(hdr));
	switch (mode) {
	case 0:
		memset(blk, 0, BS);
		memcpy(blk, p, plen < BS ? plen : BS);
		break;
	case 1:
	case 3:
		for (i = 0; i < plen && off + i < BS; i++)
			blk[off + i] = p[i];
		if (mode == 3)
			memset(blk + off + i, 0, BS - off - i);
		break;
	case 2:
		for (i = 0; i < plen && off + i < BS; i++)
			blk[off + i] ^= p[i];
		break;
	}
	if (flags & 4) {
		memcpy(blk, hdr, 4);			/* magic */
		memcpy(blk + 0x08, hdr + 0x08, 8);	/* mblk */
		memcpy(blk + 0x10, hdr + 0x10, 16);	/* uuid */
	}
	if (flags & 2)
		od_seal(blk);
	restore(im, blk, which);
	free(blk);
	(void)fsck(FSCK_MODE_NO);
	y = fsck(FSCK_MODE_YES);
	n2 = fsck(FSCK_MODE_NO);
	if (strict && (y == FSCK_EXIT_CLEAN || y == FSCK_EXIT_FIXED) &&
	    n2 != FSCK_EXIT_CLEAN) {
		fprintf(stderr, "fsck_fuzz: fsck -y exit %d, then fsck -n exit "
			"%d: the repair left errors\n", y, n2);
		abort();
	}
	return 0;
}

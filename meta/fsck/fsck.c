/*
 * fsck: the driver (superblock, journal, slots, report, summary) and the
 * dump; the passes over chunks, inodes, the tree and the bitmaps are in
 * fsck_pass.c. See fsck.h for what is checked and how it is repaired.
 *
 * Reading: every metadata block goes through the journal's block cache
 * (jop_read), opened JRNL_RDONLY for -n, so the checks use the same
 * decoders as the coordinator. Chunks are also read whole, raw, once, to
 * classify their blocks. A block whose only fault is its checksum is
 * reported once (pass 1) and then, read-only, looked at through a raw read.
 *
 * Writing: only the repairing modes write, every change through an
 * operation (jop_begin .. jop_end, undone on error) that the pass commits
 * when it ends. The exceptions are the superblock (never journaled) and
 * heartbeat slots, written in place, and the journal superblock when it
 * must be rebuilt before the journal can be opened at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "csvfs/errors.h"
#include "lockd/hb.h"
#include "meta/alloc.h"
#include "meta/dev.h"
#include "meta/dir.h"
#include "meta/extent.h"
#include "meta/format.h"
#include "meta/fsck/fsck.h"
#include "meta/fsck/fsck_i.h"
#include "meta/inode.h"
#include "meta/jrnl.h"
#include "meta/ondisk.h"

#define COMMIT_EVERY	64

/* ---- reporting ----------------------------------------------------------- */

static int may_fix(const struct fsck *f, int preen_ok)
{
	return f->o->mode == FSCK_MODE_YES ||
	       (f->o->mode == FSCK_MODE_PREEN && preen_ok);
}

int fk_problem(struct fsck *f, int preen_ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	f->r->errors++;
	if (may_fix(f, preen_ok))
		return 1;
	if (!f->quiet)
		fprintf(f->out, "%s: not fixed%s\n", f->msg,
		f->o->mode == FSCK_MODE_PREEN ? " (needs " FK_PROG " -y)" : "");
	return 0;
}

void fk_result(struct fsck *f, int rc, const char *how, ...)
{
	char buf[512];
	va_list ap;

	buf[0] = '\0';
	if (how) {
		va_start(ap, how);
		vsnprintf(buf, sizeof(buf), how, ap);
		va_end(ap);
	}
	if (rc == 0) {
		f->r->fixed++;
		fprintf(f->out, "%s: fixed%s%s%s\n", f->msg, buf[0] ? " (" : "",
			buf, buf[0] ? ")" : "");
	} else {
		fprintf(f->out, "%s: not fixed (%s)\n", f->msg,
			buf[0] ? buf : rc == FK_ENOALLOC ?
			"allocation maps unusable" : csvfs_strerror(rc));
	}
}

void fk_info(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (f->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->out);
}

void fk_pass(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->o->verbose)
		return;
	va_start(ap, fmt);
	vfprintf(f->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->out);
	fflush(f->out);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void fk_progress(struct fsck *f, const char *what, uint64_t done,
		 uint64_t total)
{
	uint64_t now;

	if (!f->o->progress)
		return;
	if (done >= total) {
		if (f->prog_ns)
			fprintf(stderr, "\r%-60s\r", "");
		f->prog_ns = 0;
		return;
	}
	now = mono_ns();
	if (now - f->prog_ns < 200000000ull)
		return;
	f->prog_ns = now;
	fprintf(stderr, "\r%s: %s %3u%%", FK_PROG, what,
		(unsigned)(done * 100 / total));
}

int fk_commit(struct fsck *f)
{
	int rc;

	f->since_commit = 0;
	if (!f->rw || !f->j)
		return 0;
	rc = jrnl_commit(f->j);
	if (rc) {
		fprintf(f->out, "%s: %s: journal commit failed: %s\n", FK_PROG,
			f->name, csvfs_strerror(rc));
		f->opfail = 1;
	}
	return rc;
}

int fk_maybe_commit(struct fsck *f)
{
	if (++f->since_commit < COMMIT_EVERY)
		return 0;
	return fk_commit(f);
}

/* ---- block helpers ------------------------------------------------------- */

int fk_pread(struct fsck *f, void *buf, uint64_t mblk)
{
	uint8_t *raw = dev_alloc_buf(CSVFS_MBLK_SIZE);
	int rc;

	if (!raw)
		return -ENOMEM;
	rc = dev_pread(f->d, raw, CSVFS_MBLK_SIZE, mblk * CSVFS_MBLK_SIZE);
	if (!rc)
		memcpy(buf, raw, CSVFS_MBLK_SIZE);
	free(raw);
	return rc;
}

int fk_read(struct fsck *f, struct jop *op, uint64_t mblk, uint32_t magic,
	    uint8_t *raw)
{
	struct mbuf *mb;
	int rc = jop_read(op, mblk, magic, &mb), rc2;

	if (!rc) {
		memcpy(raw, mb->data, CSVFS_MBLK_SIZE);
		return 0;
	}
	if (rc != -CSVFS_EBADCRC)
		return rc;
	rc2 = fk_pread(f, raw, mblk);
	return rc2 ? rc2 : rc;
}

int fk_read_inode(struct fsck *f, struct jop *op, uint64_t ino,
		  struct csvfs_inode *in)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	int rc = fk_read(f, op, ino, CSVFS_MAGIC_INODE, raw);

	if (rc && rc != -CSVFS_EBADCRC)
		return rc;
	od_inode_decode(raw, in);
	return in->mode ? 0 : -ESTALE;
}

int fk_write_inode(struct fsck *f, struct jop *op,
		   const struct csvfs_inode *in)
{
	struct mbuf *mb;
	int rc;

	(void)f;
	rc = jop_read(op, in->hdr.mblk, CSVFS_MAGIC_INODE, &mb);
	if (rc == -CSVFS_EBADCRC || rc == -CSVFS_EBADMAGIC)
		rc = jop_new(op, in->hdr.mblk, &mb);
	else if (!rc)
		rc = jop_write(op, mb);
	if (rc)
		return rc;
	od_inode_encode(in, mb->data);
	return 0;
}

int fk_mode_valid(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return 1;
	}
	return 0;
}

const char *fk_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown type";
}

/* ---- tables -------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

static int cmp_fino(const void *x, const void *y)
{
	uint64_t a = ((const struct fino *)x)->ino;
	uint64_t b = ((const struct fino *)y)->ino;

	return a < b ? -1 : a > b;
}

void fk_ino_sort(struct fsck *f)
{
	if (f->nino)
		qsort(f->ino, f->nino, sizeof(*f->ino), cmp_fino);
}

struct fino *fk_ino(struct fsck *f, uint64_t ino)
{
	size_t lo = 0, hi = f->nino;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->ino[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nino && f->ino[lo].ino == ino ? &f->ino[lo] : NULL;
}

struct fino *fk_ino_append(struct fsck *f, uint64_t ino)
{
	struct fino *fi;

	if (grow((void **)&f->ino, &f->capino, f->nino + 1, sizeof(*fi)))
		return NULL;
	fi = &f->ino[f->nino++];
	memset(fi, 0, sizeof(*fi));
	fi->ino = ino;
	return fi;
}

struct fino *fk_ino_add(struct fsck *f, uint64_t ino)
{
	struct fino *fi = fk_ino(f, ino);
	size_t pos;

	if (fi)
		return fi;
	if (grow((void **)&f->ino, &f->capino, f->nino + 1, sizeof(*fi)))
		return NULL;
	for (pos = f->nino; pos > 0 && f->ino[pos - 1].ino > ino; pos--)
		;
	memmove(&f->ino[pos + 1], &f->ino[pos],
		(f->nino - pos) * sizeof(*fi));
	f->nino++;
	fi = &f->ino[pos];
	memset(fi, 0, sizeof(*fi));
	fi->ino = ino;
	return fi;
}

int fk_run_add(struct fsck *f, uint64_t pblk, uint64_t len, uint64_t lblk,
	       uint64_t owner)
{
	struct frun *r;

	if (grow((void **)&f->run, &f->caprun, f->nrun + 1, sizeof(*r)))
		return -ENOMEM;
	r = &f->run[f->nrun++];
	r->pblk = pblk;
	r->len = len;
	r->lblk = lblk;
	r->owner = owner;
	return 0;
}

int fk_ref_add(struct fsck *f, uint64_t mblk, uint64_t owner)
{
	if (grow((void **)&f->ref, &f->capref, f->nref + 1, sizeof(*f->ref)))
		return -ENOMEM;
	f->ref[f->nref].mblk = mblk;
	f->ref[f->nref].owner = owner;
	f->nref++;
	return 0;
}

int fk_bucket_add(struct fsck *f, uint64_t mblk, uint64_t dir)
{
	if (grow((void **)&f->bk, &f->capbk, f->nbk + 1, sizeof(*f->bk)))
		return -ENOMEM;
	f->bk[f->nbk].mblk = mblk;
	f->bk[f->nbk].dir = dir;
	f->nbk++;
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int fk_chunk_add(struct fsck *f, uint64_t blk)
{
	if (grow((void **)&f->chunk, &f->capchunk, f->nchunk + 1,
		 sizeof(*f->chunk)) ||
	    grow((void **)&f->csort, &f->capcsort, f->nchunk + 1,
		 sizeof(*f->csort)))
		return -ENOMEM;
	f->chunk[f->nchunk++] = blk;
	f->csorted = 0;
	return 0;
}

long fk_chunk_of(struct fsck *f, uint64_t mblk)
{
	uint64_t blk = mblk / f->mpb;
	size_t lo = 0, hi = f->nchunk;

	if (!f->csorted && f->nchunk) {
		memcpy(f->csort, f->chunk, f->nchunk * sizeof(*f->chunk));
		qsort(f->csort, f->nchunk, sizeof(*f->csort), cmp_u64);
		f->csorted = 1;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->csort[mid] < blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nchunk && f->csort[lo] == blk ? (long)lo : -1;
}

int fk_rel_add(struct fsck *f, uint64_t mblk)
{
	if (grow((void **)&f->rel, &f->caprel, f->nrel + 1, sizeof(*f->rel)))
		return -ENOMEM;
	f->rel[f->nrel++] = mblk;
	f->relsorted = 0;
	return 0;
}

int fk_released(struct fsck *f, uint64_t mblk)
{
	if (!f->nrel)
		return 0;
	if (!f->relsorted) {
		qsort(f->rel, f->nrel, sizeof(*f->rel), cmp_u64);
		f->relsorted = 1;
	}
	return bsearch(&mblk, f->rel, f->nrel, sizeof(*f->rel), cmp_u64) !=
	       NULL;
}

/* ---- pass 6: slots ------------------------------------------------------- */

static int hb_reset(struct fsck *f, uint64_t m)
{
	struct csvfs_hb hb;
	int rc;

	memset(&hb, 0, sizeof(hb));
	rc = hb_write(f->d, m, f->sb.hdr.uuid, &hb);
	if (!rc)
		rc = dev_flush(f->d);
	return rc;
}

static int client_reset(struct fsck *f, uint64_t m)
{
	struct csvfs_client cl;
	struct mbuf *mb;
	struct jop op;
	int rc;

	jop_begin(f->j, &op);
	rc = jop_new(&op, m, &mb);
	if (!rc) {
		memset(&cl, 0, sizeof(cl));
		od_hdr_init(&cl.hdr, CSVFS_MAGIC_CLIENT, m, f->sb.hdr.uuid);
		od_client_encode(&cl, mb->data);
	}
	jop_end(&op, rc);
	return rc;
}

static void pass6_slots(struct fsck *f)
{
	uint8_t raw[CSVFS_MBLK_SIZE];
	struct csvfs_client cl;
	struct csvfs_hb hb;
	uint32_t s;
	int rc;

	fk_pass(f, "Pass 6: checking heartbeat and client slots");
	for (s = 0; s < f->sb.max_nodes && !f->opfail; s++) {
		uint64_t m = f->sb.hb_mblk + s;

		rc = fk_pread(f, raw, m);
		if (!rc)
			rc = od_hb_slot_decode(raw, m, f->sb.hdr.uuid, &hb);
		if (rc == -EIO || rc == -ENOMEM) {
			f->opfail = 1;
			break;
		}
		if (rc && fk_problem(f, 1, "heartbeat slot %u (block %llu): "
				     "%s", s, (unsigned long long)m,
				     csvfs_strerror(rc)))
			fk_result(f, hb_reset(f, m), "reset to an unused slot");
		m = f->sb.client_mblk + s;
		rc = fk_pread(f, raw, m);
		if (!rc)
			rc = od_check(raw, CSVFS_MAGIC_CLIENT, m,
				      f->sb.hdr.uuid);
		if (!rc) {
			unsigned i;

			od_client_decode(raw, &cl);
			if (cl.next >= CSVFS_CLIENT_RECS)
				rc = -CSVFS_ECORRUPT;
			for (i = 0; i < CSVFS_CLIENT_RECS; i++)
				if (cl.rec[i].reply_len >
				    CSVFS_CLIENT_REPLY_MAX)
					rc = -CSVFS_ECORRUPT;
		}
		if (rc == -EIO || rc == -ENOMEM) {
			f->opfail = 1;
			break;
		}
		if (rc && fk_problem(f, 1, "client slot %u (block %llu): %s",
				     s, (unsigned long long)m,
				     csvfs_strerror(rc)))
			fk_result(f, client_reset(f, m), "reset: that node's "
				  "last replies are forgotten");
	}
	fk_commit(f);
}

/* ---- the run ------------------------------------------------------------- */

void fk_release(struct fsck *f)
{
	free(f->ino);
	free(f->run);
	free(f->ref);
	free(f->chunk);
	free(f->csort);
	free(f->bk);
	free(f->rel);
	fk_sub_release(f);
}

static void summary(struct fsck *f)
{
	struct fsck_report *r = f->r;
	char tail[160];

	if (f->opfail && !f->checked) {
		fprintf(f->out, "%s: %s: check stopped by an operational "
			"error\n", FK_PROG, f->name);
		return;
	}
	if (!f->checked) {
		fprintf(f->out, "%s: %s: %u error%s, %u fixed; check "
			"incomplete\n", FK_PROG, f->name, r->errors,
			r->errors == 1 ? "" : "s", r->fixed);
		return;
	}
	if (f->opfail)
		snprintf(tail, sizeof(tail), "check stopped by an operational "
			 "error");
	else if (r->errors == 0 && r->journal_pending)
		snprintf(tail, sizeof(tail), "journal not applied (replay with "
			 "-y or mount)");
	else if (r->errors == 0)
		snprintf(tail, sizeof(tail), "clean");
	else
		snprintf(tail, sizeof(tail), "%u error%s, %u fixed%s",
			 r->errors, r->errors == 1 ? "" : "s", r->fixed,
			 r->fixed < r->errors && f->o->mode == FSCK_MODE_CHECK ?
			 "; run with -y to repair" : "");
	fprintf(f->out, "%s: %s: %llu inodes, %llu directories, %llu blocks "
		"used of %llu: %s\n", FK_PROG, f->name,
		(unsigned long long)r->inodes, (unsigned long long)r->dirs,
		(unsigned long long)r->blocks_used,
		(unsigned long long)r->blocks_total, tail);
}

static void count(struct fsck *f)
{
	size_t i;

	for (i = 0; i < f->nino; i++) {
		const struct fino *fi = &f->ino[i];

		if (fi->fl & FI_BAD)
			continue;
		f->r->inodes++;
		if (S_ISDIR(fi->mode))
			f->r->dirs++;
		else if (S_ISREG(fi->mode))
			f->r->files++;
		else if (S_ISLNK(fi->mode))
			f->r->symlinks++;
	}
	f->r->blocks_total = f->sb.total_blocks - f->sb.data_start;
}

/* Forgets what a round of passes 1 to 5 found (before a restart). */
static void reset(struct fsck *f)
{
	fk_release(f);
	f->ino = NULL;
	f->run = NULL;
	f->ref = NULL;
	f->chunk = f->csort = f->rel = NULL;
	f->bk = NULL;
	f->nino = f->capino = f->nrun = f->caprun = f->nref = f->capref = 0;
	f->nchunk = f->capchunk = f->capcsort = f->nbk = f->capbk = 0;
	f->nrel = f->caprel = 0;
	f->csorted = f->relsorted = f->changed = f->restart = 0;
	f->lost_found = f->max_gen = 0;
	f->r->orphans = 0;
	alloc_release(f->a);
	f->a = NULL;
}

/* Passes 1 to 5, again after chunks were relinked; then pass 6. */
static void passes(struct fsck *f)
{
	struct jop op;
	int rc, round;

	for (round = 0; round < 3; round++) {
		if (round) {
			fk_info(f, "checking again with the relinked meta "
				"chunks");
			reset(f);
		}
		if (fk_pass1(f) || f->opfail)
			return;
		if (f->rw) {
			jop_begin(f->j, &op);
			rc = alloc_load(&op, &f->sb, &f->a);
			jop_end(&op, 0);
			if (rc) {
				f->a = NULL;
				fk_info(f, "allocation maps unusable (%s): "
					"repairs that allocate or free are "
					"skipped", csvfs_strerror(rc));
			}
		}
		if (fk_pass2(f) || f->opfail || fk_pass3(f) || f->opfail ||
		    fk_pass4(f) || f->opfail || fk_pass5(f) || f->opfail)
			return;
		if (!f->restart)
			break;
	}
	pass6_slots(f);
}

int fsck_run(struct dev *d, const struct fsck_opts *o, struct fsck_report *r)
{
	struct fsck_report dummy;
	struct csvfs_hb who;
	struct fsck f;
	uint64_t n = 0;
	int rc, was_clean;

	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	f.d = d;
	f.o = o;
	f.r = r;
	f.out = o->out ? o->out : stdout;
	f.name = o->name ? o->name : d->path;
	f.rw = o->mode == FSCK_MODE_YES || o->mode == FSCK_MODE_PREEN;
	if (f.rw && d->rdonly) {
		fprintf(f.out, "%s: %s: opened read-only, cannot repair\n",
			FK_PROG, f.name);
		r->exit_code = FSCK_EXIT_OPERROR;
		return r->exit_code;
	}
	fk_pass(&f, "Pass 0: checking the superblock and the journal");
	rc = fk_pass0_super(&f);
	if (rc)
		goto out;
	was_clean = f.sb.state == CSVFS_STATE_CLEAN;
	/* Unreadable slots are pass 6's business, not a live node. */
	if (hb_find_live(f.d, &f.sb, &who) > 0) {
		if (f.rw) {
			fprintf(f.out, "%s: %s: in use by node %u (%s): "
				"unmount it on every node first\n", FK_PROG,
				f.name,
				who.node_id, who.hostname);
			rc = FSCK_EXIT_OPERROR;
			goto out;
		}
		fk_info(&f, "warning: the volume is in use by node %u (%s): "
			"what follows may be inconsistent", who.node_id,
			who.hostname);
	}
	if (o->mode == FSCK_MODE_PREEN && !o->force && was_clean &&
	    !r->sb_from_backup && fsck_journal_pending(d, &f.sb, &n) == 0 &&
	    n == 0) {
		r->skipped = 1;
		fprintf(f.out, "%s: %s: clean, not checked (-f checks "
			"anyway)\n", FK_PROG, f.name);
		goto out;
	}
	if (!was_clean && !f.rw && !r->sb_from_backup)
		fk_info(&f, "the volume was not unmounted cleanly");
	rc = fk_pass0_journal(&f);
	if (rc) {
		if (rc == FSCK_EXIT_OPERROR)
			f.opfail = 1;
		goto done;
	}
	rc = jrnl_open(d, &f.sb, f.rw ? JRNL_NO_THREAD : JRNL_RDONLY, &f.j);
	if (rc) {
		fprintf(f.out, "%s: %s: cannot open the journal: %s\n", FK_PROG,
			f.name, csvfs_strerror(rc));
		f.opfail = 1;
		goto done;
	}
	f.checked = 1;
	passes(&f);
	alloc_release(f.a);
	f.a = NULL;
	rc = jrnl_close(f.j);
	f.j = NULL;
	if (rc) {
		fprintf(f.out, "%s: %s: journal close failed: %s\n", FK_PROG,
			f.name, csvfs_strerror(rc));
		f.opfail = 1;
	}
	if (f.rw && !f.opfail && r->fixed == r->errors &&
	    f.sb.state != CSVFS_STATE_CLEAN) {
		f.sb.state = CSVFS_STATE_CLEAN;
		rc = fmt_write_super(d, &f.sb, 0);
		if (rc) {
			fprintf(f.out, "%s: %s: cannot mark the volume clean: "
				"%s\n", FK_PROG, f.name, csvfs_strerror(rc));
			f.opfail = 1;
		}
	}
done:
	count(&f);
	summary(&f);
	if (f.opfail)
		rc = FSCK_EXIT_OPERROR;
	else if (r->errors > r->fixed || r->journal_pending)
		rc = FSCK_EXIT_UNFIXED;
	else if (r->fixed)
		rc = FSCK_EXIT_FIXED;
	else
		rc = FSCK_EXIT_CLEAN;
out:
	fk_release(&f);
	r->exit_code = rc;
	return rc;
}


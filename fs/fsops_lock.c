/*
 * fsops_lock: the FUSE lock operations (getlk, setlk, flock) and the lock
 * xattr, on standalone and cluster mounts alike, through fs/lkc.c to the
 * coordinator (meta/mds/mds_lock.c). How the kernel hands fcntl, OFD and flock
 * locks to FUSE is written down in fs/lkc.h.
 *
 * A blocking request (F_SETLKW, flock without LOCK_NB) that is queued
 * returns from its handler without replying; lkc completes it from its
 * worker thread when the coordinator's wake-up push lets it be granted.
 * Its FUSE_INTERRUPT (any signal to the waiting process) cancels it: the
 * interrupt callback carries only the request's wait id (never a pointer
 * that the completion could free under it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "csvfs/log.h"
#include "fs/fsops.h"
#include "fs/fsops_i.h"
#include "fs/lkc.h"
#include "net/mdc.h"

#define LIST_MAX	256

static int from_flock(const struct flock *fl, uint64_t owner,
		      struct plock *l)
{
	memset(l, 0, sizeof(*l));
	l->owner = owner;
	l->pid = fl->l_pid > 0 ? (uint32_t)fl->l_pid : 0;
	l->cls = PLOCK_POSIX;
	switch (fl->l_type) {
	case F_RDLCK:
		l->type = PLOCK_RD;
		break;
	case F_WRLCK:
		l->type = PLOCK_WR;
		break;
	case F_UNLCK:
		l->type = PLOCK_UN;
		break;
	default:
		return -EINVAL;
	}
	/* libfuse gives whence SEEK_SET; l_len 0 = to the end of file. */
	if (fl->l_start < 0 || fl->l_len < 0)
		return -EINVAL;
	l->start = (uint64_t)fl->l_start;
	l->end = fl->l_len == 0 ? PLOCK_EOF :
		 (uint64_t)fl->l_start + (uint64_t)fl->l_len - 1;
	return 0;
}

static void to_flock(const struct plock *l, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = l->type == PLOCK_RD ? F_RDLCK : F_WRLCK;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)l->start;
	/* The kernel's OFFSET_MAX and beyond mean "to the end". */
	fl->l_len = l->end >= (uint64_t)INT64_MAX ? 0 :
		    (off_t)(l->end - l->start + 1);
	fl->l_pid = (pid_t)l->pid;
}

void fsops_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct plock l, h;
	struct flock out;
	int rc, found = 0;

	rc = from_flock(lock, fi->lock_owner, &l);
	if (!rc && l.type == PLOCK_UN)
		rc = -EINVAL;
	if (!rc)
		rc = lkc_get(c->lkc, fsops_to_ino(c, ino), &l, &found, &h);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	if (!found) {
		out = *lock;
		out.l_type = F_UNLCK;
	} else {
		to_flock(&h, &out);
	}
	fuse_reply_lock(req, &out);
}

static void lock_done(void *arg, int rc)
{
	fsops_reply_err(arg, rc);
}

/* FUSE_INTERRUPT of a waiting request (data: its wait id). */
static void lock_intr(fuse_req_t req, void *data)
{
	struct fsops_ctx *c = fsops_ctx_of(req);

	lkc_cancel(c->lkc, (uint64_t)(uintptr_t)data);
}

static void do_set(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi,
		   const struct plock *l, int sleep)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	uint64_t id = 0;
	int rc;

	if (sleep && l->type != PLOCK_UN) {
		id = lkc_wait_id(c->lkc);
		/* Before the request is out: an interrupt that came first
		 * calls lock_intr at once, and lkc remembers it. */
		fuse_req_interrupt_func(req, lock_intr,
					(void *)(uintptr_t)id);
	}
	rc = lkc_set(c->lkc, ino, fi->fh, l, id != 0, id, lock_done, req);
	if (rc == -EINPROGRESS)
		return;		/* lock_done replies */
	fsops_reply_err(req, rc);
}

void fsops_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct flock *lock, int sleep)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	struct plock l;
	int rc;

	rc = from_flock(lock, fi->lock_owner, &l);
	if (rc) {
		fsops_reply_err(req, rc);
		return;
	}
	do_set(req, fsops_to_ino(c, ino), fi, &l, sleep);
}

void fsops_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 int op)
{
	struct fsops_ctx *c = fsops_ctx_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct plock l;

	memset(&l, 0, sizeof(l));
	l.owner = fi->lock_owner;
	l.pid = ctx && ctx->pid > 0 ? (uint32_t)ctx->pid : 0;
	l.cls = PLOCK_FLOCK;
	l.start = 0;
	l.end = PLOCK_EOF;
	switch (op & ~LOCK_NB) {
	case LOCK_SH:
		l.type = PLOCK_RD;
		break;
	case LOCK_EX:
		l.type = PLOCK_WR;
		break;
	case LOCK_UN:
		l.type = PLOCK_UN;
		break;
	default:
		fsops_reply_err(req, -EINVAL);
		return;
	}
	do_set(req, fsops_to_ino(c, ino), fi, &l, !(op & LOCK_NB));
}

void fsops_lock_flush(struct fsops_ctx *c, uint64_t ino,
		      struct fuse_file_info *fi)
{
	int rc = lkc_release_owner(c->lkc, ino, fi->lock_owner, PLOCK_POSIX);

	if (rc)
		log_ino(ino, "close: unlocking the process's locks failed: %s",
			strerror(-rc));
}

void fsops_lock_release(struct fsops_ctx *c, uint64_t ino,
			struct fuse_file_info *fi)
{
	int rc = 0;

	if (fi->flock_release)
		rc = lkc_release_owner(c->lkc, ino, fi->lock_owner,
				       PLOCK_FLOCK);
	if (!rc)
		rc = lkc_release_fh(c->lkc, ino, fi->fh);
	if (rc)
		log_ino(ino, "release: unlocking the file's locks failed: %s",
			strerror(-rc));
}

void fsops_lock_wake(struct fsops_ctx *c, uint64_t wait_id)
{
	lkc_wake(c->lkc, wait_id);
}

void fsops_lock_reclaim(struct fsops_ctx *c)
{
	lkc_reclaim(c->lkc);
}

int fsops_locks_xa_get(struct fsops_ctx *c, uint64_t ino, char *buf,
		       size_t size)
{
	struct csvfs_wlock *v = calloc(LIST_MAX, sizeof(*v));
	char *text = NULL;
	size_t len = 0, cap = 0;
	uint32_t n = 0, i;
	int rc;

	if (!v)
		return -ENOMEM;
	rc = mdc_lock_list(c->mdc, ino, v, LIST_MAX, &n);
	if (rc)
		goto out;
	if (n > LIST_MAX)
		n = LIST_MAX;
	cap = 128 * (size_t)n + 1;
	text = malloc(cap);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	text[0] = '\0';
	for (i = 0; i < n; i++) {
		char end[24];

		if (v[i].end == PLOCK_EOF)
			snprintf(end, sizeof(end), "eof");
		else
			snprintf(end, sizeof(end), "%llu",
				 (unsigned long long)v[i].end);
		len += (size_t)snprintf(text + len, cap - len,
					"node=%u pid=%u %s %s start=%llu "
					"end=%s\n", v[i].node, v[i].pid,
					v[i].cls == PLOCK_FLOCK ? "flock" :
					"posix", v[i].type == PLOCK_RD ?
					"read" : "write",
					(unsigned long long)v[i].start, end);
	}
	rc = (int)len;
	if (size && len > size)
		rc = -ERANGE;
	else if (size)
		memcpy(buf, text, len);
out:
	free(text);
	free(v);
	return rc;
}

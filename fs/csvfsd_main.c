/*
 * csvfsd: the csvfs FUSE daemon. One process per mount:
 *
 *   csvfsd [-f] [-d] [-o OPTS] DEVICE MOUNTPOINT
 *
 * Standalone mode (the default) runs the coordinator in this process
 * (meta/mds/mds.h) and reaches it through the local transport; cluster mode is
 * not implemented yet.
 *
 * Daemonizing. The parent must exit only when the mount is up (its exit
 * status is what mount(8) and scripts see), yet the coordinator starts
 * threads, and fork() keeps only the calling thread: fuse_daemonize()
 * after mds_start() would lose the commit thread. So the daemon forks
 * first, before any thread exists, and the parent waits on a pipe for the
 * child's verdict (one byte: its exit status) while the child's messages
 * still go to the parent's stderr.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/log.h"
#include "fs/fsops.h"
#include "fs/own.h"
#include "fs/status.h"
#include "lockd/hb.h"
#include "meta/dev.h"
#include "fs/cluster.h"
#include "meta/format.h"
#include "fs/local.h"
#include "meta/mds/mds.h"
#include "meta/ondisk.h"
#include "net/keyfile.h"
#include "net/mcache.h"
#include "net/mdc.h"

#define CSVFSD_DEF_THREADS	32
#define CSVFSD_IDLE_THREADS	16
#define CSVFSD_TIMEOUT		1.0	/* standalone cache lifetimes, s */

struct csvfsd_opts {
	int foreground;
	int debug;
	int cluster;
	int ro;
	int allow_other;
	int nocache;		/* cluster: no attribute/entry cache */
	unsigned max_threads;
	uint32_t node_id;
	char *pidfile;
	char *keyfile;		/* cluster key, KEYFILE_DEFAULT_PATH */
	unsigned port;		/* coordinator port, 0 = default */
	int lowspace_pct;	/* mds_opts.lowspace_pct */
	char *fsname;		/* NULL: the device path */
	char *kflags;		/* mount flags handed to FUSE, comma list */
	const char *device;
	const char *mountpoint;
};

/* Mount flags libfuse 3.14 passes to mount(2). */
static const char *const kern_flags[] = {
	"rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async",
	"sync", "dirsync", "atime", "noatime", NULL
};

static int daemon_fd = -1;	/* write end of the verdict pipe */
static const char *log_path;	/* -o logfile=PATH */

static void usage(FILE *f)
{
	fprintf(f,
"usage: csvfsd [options] DEVICE MOUNTPOINT\n"
"\n"
"Mounts the csvfs volume on DEVICE (a block device or an image file).\n"
"\n"
"  -f, --foreground   stay in the foreground, log to stderr\n"
"  -d, --debug        log debug messages and FUSE requests (implies -f)\n"
"  -o OPT[,OPT...]    mount options:\n"
"      standalone       run the coordinator in this daemon (default)\n"
"      cluster          join the cluster through the local corosync\n"
"      logfile=PATH     also write log lines to PATH once detached\n"
"      keyfile=PATH     cluster key (default " KEYFILE_DEFAULT_PATH ")\n"
"      port=N           coordinator TLS port (default 7420)\n"
"      nocache          cluster: ask the coordinator for every lookup and\n"
"                       stat (no coherent attribute/entry cache)\n"
"      ro               mount read-only\n"
"      allow_other      let every user access the mount (default)\n"
"      noallow_other    only the mounting user\n"
"      default_permissions  the kernel checks permissions (always on)\n"
"      fsname=NAME      source shown in /proc/mounts (default DEVICE)\n"
"      subtype=csvfs    accepted, always csvfs\n"
"      max_threads=N    FUSE worker threads (default %d)\n"
"      node_id=N        this node's id (default 1)\n"
"      pidfile=PATH     write the daemon's pid there\n"
"      lowspace=PCT     log a warning when free space falls below PCT%%\n"
"                       of the volume (default 10, 0: never)\n"
"      nosuid,nodev,noexec,noatime,sync,dirsync...  passed to mount(2)\n"
"  -h, --help         show this help\n",
		CSVFSD_DEF_THREADS);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *out > max || *s == '-')
		return -EINVAL;
	return 0;
}

static int add_kflag(struct csvfsd_opts *o, const char *flag)
{
	return fuse_opt_add_opt(&o->kflags, flag) ? -ENOMEM : 0;
}

/* Parses one -o list. Returns 0, or -EINVAL after a message. */
static int parse_o(struct csvfsd_opts *o, const char *list)
{
	char *copy, *opt, *save = NULL;
	unsigned long v;
	int rc = 0, i;

	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt && !rc;
	     opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "standalone")) {
			o->cluster = 0;
		} else if (!strcmp(opt, "cluster")) {
			o->cluster = 1;
		} else if (!strcmp(opt, "nocache")) {
			o->nocache = 1;
		} else if (!strcmp(opt, "ro")) {
			o->ro = 1;
		} else if (!strcmp(opt, "allow_other")) {
			o->allow_other = 1;
		} else if (!strcmp(opt, "noallow_other")) {
			o->allow_other = 0;
		} else if (!strcmp(opt, "default_permissions")) {
			/* always on */
		} else if (!strncmp(opt, "fsname=", 7)) {
			free(o->fsname);
			o->fsname = strdup(opt + 7);
			if (!o->fsname)
				rc = -ENOMEM;
		} else if (!strncmp(opt, "subtype=", 8)) {
			if (strcmp(opt + 8, "csvfs")) {
				log_err("option \"%s\": the subtype is always "
					"csvfs", opt);
				rc = -EINVAL;
			}
		} else if (!strncmp(opt, "max_threads=", 12)) {
			if (parse_uint(opt + 12, 1024, &v) || !v) {
				log_err("option \"%s\": expected 1..1024",
					opt);
				rc = -EINVAL;
			}
			o->max_threads = (unsigned)v;
		} else if (!strncmp(opt, "node_id=", 8)) {
			if (parse_uint(opt + 8, UINT32_MAX, &v) || !v) {
				log_err("option \"%s\": expected a node id "
					"above 0", opt);
				rc = -EINVAL;
			}
			o->node_id = (uint32_t)v;
		} else if (!strncmp(opt, "logfile=", 8) && opt[8]) {
			log_path = strdup(opt + 8);
			if (!log_path)
				rc = -ENOMEM;
		} else if (!strncmp(opt, "keyfile=", 8) && opt[8]) {
			free(o->keyfile);
			o->keyfile = strdup(opt + 8);
			if (!o->keyfile)
				rc = -ENOMEM;
		} else if (!strncmp(opt, "port=", 5)) {
			if (parse_uint(opt + 5, 65535, &v) || !v) {
				log_err("option \"%s\": expected 1..65535",
					opt);
				rc = -EINVAL;
			}
			o->port = (unsigned)v;
		} else if (!strncmp(opt, "lowspace=", 9)) {
			if (parse_uint(opt + 9, 100, &v)) {
				log_err("option \"%s\": expected a percentage "
					"0..100 (0: no warning)", opt);
				rc = -EINVAL;
			}
			o->lowspace_pct = v ? (int)v : -1;
		} else if (!strncmp(opt, "pidfile=", 8) && opt[8]) {
			free(o->pidfile);
			o->pidfile = strdup(opt + 8);
			if (!o->pidfile)
				rc = -ENOMEM;
		} else {
			for (i = 0; kern_flags[i]; i++)
				if (!strcmp(opt, kern_flags[i]))
					break;
			if (kern_flags[i]) {
				rc = add_kflag(o, opt);
			} else {
				log_err("unknown option \"%s\"", opt);
				rc = -EINVAL;
			}
		}
	}
	free(copy);
	return rc;
}

static int parse_args(int argc, char **argv, struct csvfsd_opts *o)
{
	static const struct option lopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->allow_other = 1;
	o->node_id = 1;
	o->max_threads = CSVFSD_DEF_THREADS;
	while ((c = getopt_long(argc, argv, "fdho:", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = 1;
			break;
		case 'd':
			o->debug = 1;
			o->foreground = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'o':
			if (parse_o(o, optarg))
				return -EINVAL;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		log_err("expected DEVICE and MOUNTPOINT (see --help)");
		return -EINVAL;
	}
	o->device = argv[optind];
	o->mountpoint = argv[optind + 1];
	return 0;
}

/* ---- daemon -------------------------------------------------------------- */

/*
 * Forks. The parent waits for the child's verdict and exits with it; the
 * child returns 0 and becomes a session leader.
 */
static int daemon_start(void)
{
	unsigned char verdict;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &verdict, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(verdict);
		/* The child died before it could tell. */
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status))
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(p[0]);
	daemon_fd = p[1];
	if (setsid() < 0)
		return -errno;
	return 0;
}

/* Tells the waiting parent; on success detaches from the terminal. */
static void daemon_ready(int status, int debug)
{
	unsigned char verdict = (unsigned char)status;
	int fd;

	if (daemon_fd < 0)
		return;
	if (!status) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		/* -o logfile: keep a copy of the log lines there. */
		fd = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CREAT |
				     O_CLOEXEC, 0640) : -1;
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		log_open(NULL, LOG_TO_SYSLOG | (log_path ? LOG_TO_STDERR : 0),
			 debug);
		if (chdir("/")) {
			/* cannot fail for "/"; the mount is up anyway */
		}
	}
	if (write(daemon_fd, &verdict, 1) != 1)
		log_warn("telling the parent process the mount result failed");
	close(daemon_fd);
	daemon_fd = -1;
}

static int pidfile_write(const char *path)
{
	char buf[32];
	int fd, len, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len)
		rc = -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* libfuse's own messages go to our log. */
static void fuse_log_cb(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (level <= FUSE_LOG_ERR)
		log_err("fuse: %s", line);
	else if (level <= FUSE_LOG_NOTICE)
		log_warn("fuse: %s", line);
	else if (level <= FUSE_LOG_INFO)
		log_info("fuse: %s", line);
	else
		log_debug("fuse: %s", line);
}

static uint64_t new_incarnation(void)
{
	struct timespec ts;
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v) && v)
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^
	       (uint64_t)getpid();
}

/* Builds the FUSE arguments: mount options and debug. */
static int fuse_args_build(const struct csvfsd_opts *o, const char *device,
			   struct fuse_args *args)
{
	char *opts = NULL, *fsname = NULL;
	int rc = -ENOMEM;

	if (asprintf(&fsname, "fsname=%s", o->fsname ? o->fsname : device) < 0) {
		fsname = NULL;
		goto out;
	}
	if (fuse_opt_add_opt_escaped(&opts, fsname) ||
	    fuse_opt_add_opt(&opts, "subtype=csvfs") ||
	    fuse_opt_add_opt(&opts, "default_permissions") ||
	    (o->allow_other && fuse_opt_add_opt(&opts, "allow_other")) ||
	    (o->ro && fuse_opt_add_opt(&opts, "ro")) ||
	    (o->kflags && fuse_opt_add_opt(&opts, o->kflags)))
		goto out;
	if (fuse_opt_add_arg(args, "csvfsd") ||
	    (o->debug && fuse_opt_add_arg(args, "-d")) ||
	    fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opts))
		goto out;
	rc = 0;
out:
	free(fsname);
	free(opts);
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

/* Standalone answer to "trusted.csvfs.status" (see fsops.h). */
static struct mdc_volinfo standalone_vi;
static uint32_t standalone_node;
static char standalone_label[CSVFS_LABEL_MAX];

static int standalone_ctl_get(void *ctx, const char *name, char *buf,
			      size_t size)
{
	struct status_view v = {
		.mode = "standalone", .uuid = standalone_vi.uuid,
		.label = standalone_label,
		.block_size = 1ull << standalone_vi.block_shift,
		.node = standalone_node, .quorate = 1,
		.coord = standalone_node, .target = standalone_node,
		.preferred = standalone_node, .self = 1,
		.members = &standalone_node, .nmembers = 1,
	};
	char tmp[1024];
	int n;

	(void)ctx;
	if (strcmp(name, "trusted.csvfs.status"))
		return -ENODATA;
	n = status_json(&v, tmp, sizeof(tmp));
	if (n < 0)
		return n;
	return fsops_xa_reply(tmp, n, sizeof(tmp), buf, size);
}

/* Joins the cluster of the volume on dev (cluster mode). */
/* The recall of a file before a handoff (cluster mode, own thread). */
struct recall_ctx {
	struct fsops_ctx *fs;
	struct mdc *mdc;
};

static struct recall_ctx recall_ctx;

static void recall_file(void *ctx, uint64_t ino)
{
	struct recall_ctx *r = ctx;

	own_recall_answer(r->mdc, ino, fsops_recall(r->fs, ino));
}

/* Quorum lost / regained (clu_set_fence). */
static void fence_data(void *ctx, int on)
{
	fsops_fence(ctx, on);
}

/*
 * Application locks: a wake-up for queued request id, or 0: reclaim
 * (clu_set_locks; standalone: the coordinator's mds_opts.lock_wake).
 */
static void locks_event(void *ctx, uint64_t id)
{
	if (id)
		fsops_lock_wake(ctx, id);
	else
		fsops_lock_reclaim(ctx);
}

static struct fsops_ctx *_Atomic standalone_fs;

static int standalone_lock_wake(void *ctx, uint32_t node, uint64_t id)
{
	struct fsops_ctx *fs = standalone_fs;

	(void)ctx;
	(void)node;
	if (fs)
		fsops_lock_wake(fs, id);
	return 0;
}

/* Another node changed a file (clu_set_inval). */
static void inval_file(void *ctx, uint64_t ino)
{
	fsops_inval(ctx, ino);
}

static int cluster_join(const struct csvfsd_opts *o, struct dev *dev,
			struct mcache *cache, struct clu **out)
{
	struct clu_opts co = { 0 };
	struct csvfs_super sb;
	const char *kf = o->keyfile ? o->keyfile : KEYFILE_DEFAULT_PATH;
	uint8_t key[KEYFILE_KEY_LEN];
	char why[256];
	int rc;

	rc = fmt_read_super(dev, &sb);
	if (rc) {
		log_err("%s: %s", o->device, csvfs_strerror(rc));
		return rc;
	}
	rc = keyfile_load(kf, key, why, sizeof(why));
	if (rc) {
		log_err("cluster key: %s", why);
		return rc;
	}
	co.dev = dev;
	co.sb = &sb;
	co.key = key;
	co.port = (uint16_t)o->port;
	co.wait_ms = 60000;
	co.cache = cache;
	co.lowspace_pct = o->lowspace_pct;
	rc = clu_start(&co, out, why, sizeof(why));
	if (rc)
		log_err("%s: %s", o->device, why);
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct csvfsd_opts o = { 0 };
	struct fuse_loop_config *cfg = NULL;
	struct fuse_session *se = NULL;
	struct fsops_ctx *fs = NULL;
	struct mdc_transport t;
	struct mds_opts mo = { 0 };
	struct fsops_opts fo = { 0 };
	struct mdc_volinfo vi;
	struct mds *mds = NULL;
	struct clu *clu = NULL;
	struct mdc *mdc = NULL;
	struct mcache *cache = NULL;
	struct dev *dev = NULL;
	char device[PATH_MAX], mnt[PATH_MAX], host[256];
	int rc, status = 1, mounted = 0, handlers = 0, pid_written = 0;

	log_open("csvfsd", LOG_TO_STDERR, 0);
	if (parse_args(argc, argv, &o))
		return 1;
	log_open(NULL, LOG_TO_STDERR, o.debug);
	if (!realpath(o.device, device)) {
		log_err("%s: %s", o.device, csvfs_strerror(-errno));
		return 1;
	}
	if (!realpath(o.mountpoint, mnt)) {
		log_err("%s: %s", o.mountpoint, csvfs_strerror(-errno));
		return 1;
	}
	if (!o.foreground) {
		rc = daemon_start();
		if (rc) {
			log_err("cannot start the daemon: %s",
				csvfs_strerror(rc));
			return 1;
		}
		log_open(NULL, LOG_TO_STDERR | LOG_TO_SYSLOG, o.debug);
	}
	fuse_set_log_func(fuse_log_cb);

	rc = dev_open(device, 0, &dev);
	if (rc) {
		log_err("%s: %s", device, csvfs_strerror(rc));
		goto out;
	}
	if (o.cluster) {
		/* Other nodes may take this node's files once its heartbeat
		 * stopped: no write of ours may outlive that (csvfs/fencing.h). */
		rc = dev_watchdog_start(dev, CSVFS_IO_DEADLINE_MS);
		if (rc) {
			log_err("%s: cannot start the I/O watchdog: %s",
				device, strerror(-rc));
			goto out;
		}
		if (!o.nocache) {
			rc = mcache_new(0, 0, &cache);
			if (rc) {
				log_err("%s", csvfs_strerror(rc));
				goto out;
			}
		}
		rc = cluster_join(&o, dev, cache, &clu);
		if (rc)
			goto out;
		clu_transport(clu, &t);
		o.node_id = clu_node(clu);
		goto client;
	}
	/*
	 * A standalone mount owns the volume: no second standalone csvfsd
	 * on this host (the coordinator also refuses live heartbeats).
	 */
	if (flock(dev->fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_err("%s: %s", device, rc == -EBUSY ?
			"in use by another standalone mount on this host" :
			csvfs_strerror(rc));
		goto out;
	}
	mo.node_id = o.node_id;
	mo.standalone = 1;
	mo.lowspace_pct = o.lowspace_pct;
	mo.lock_wake = standalone_lock_wake;
	rc = mds_start(dev, &mo, &mds);
	if (rc) {
		struct csvfs_super bsb;

		log_err("%s: %s", device, csvfs_strerror(rc));
		/* A damaged superblock with a good backup: say how to mend. */
		if ((rc == -CSVFS_ENOTCSVFS || rc == -CSVFS_EBADCRC ||
		     rc == -CSVFS_ECORRUPT) && fmt_read_super(dev, &bsb) &&
		    !fmt_read_backup(dev, &bsb))
			log_err("%s: the superblock is damaged but its backup "
				"is intact: run fsck.csvfs -y %s", device,
				device);
		goto out;
	}
	local_transport(mds, &t);
client:
	rc = mdc_new(&t, o.node_id, new_incarnation(), &mdc);
	if (rc) {
		log_err("metadata client: %s", csvfs_strerror(rc));
		goto out;
	}
	if (cache)
		mdc_set_cache(mdc, cache);
	if (gethostname(host, sizeof(host)))
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	rc = mdc_hello(mdc, host, &vi);
	if (rc) {
		log_err("%s: greeting the coordinator failed: %s", device,
			csvfs_strerror(rc));
		goto out;
	}

	fo.mdc = mdc;
	fo.dev = dev;
	fo.root_ino = vi.root_ino;
	fo.block_shift = vi.block_shift;
	if (clu) {
		/* Other nodes change the volume: no kernel caching. */
		fo.shared = 1;
		fo.node_id = o.node_id;
		fo.ctl_get = clu_ctl_get;
		fo.ctl_set = clu_ctl_set;
		fo.ctl_ctx = clu;
	} else {
		struct csvfs_super lsb;

		standalone_vi = vi;
		standalone_node = o.node_id;
		if (!fmt_read_super(dev, &lsb))
			snprintf(standalone_label, sizeof(standalone_label),
				 "%.*s", (int)sizeof(lsb.label) - 1, lsb.label);
		fo.ctl_get = standalone_ctl_get;
		fo.entry_timeout = CSVFSD_TIMEOUT;
		fo.attr_timeout = CSVFSD_TIMEOUT;
		fo.negative_timeout = CSVFSD_TIMEOUT;
	}
	rc = fsops_init(&fo, &fs);
	if (rc) {
		log_err("%s: %s", device, csvfs_strerror(rc));
		goto out;
	}
	rc = fuse_args_build(&o, device, &args);
	if (rc) {
		log_err("%s", csvfs_strerror(rc));
		goto out;
	}
	se = fuse_session_new(&args, fsops_lowlevel_ops(),
			      sizeof(struct fuse_lowlevel_ops), fs);
	if (!se) {
		log_err("%s: cannot create the FUSE session", mnt);
		goto out;
	}
	fsops_set_session(fs, se);
	if (clu) {
		recall_ctx.fs = fs;
		recall_ctx.mdc = mdc;
		clu_set_recall(clu, recall_file, &recall_ctx);
		clu_set_inval(clu, inval_file, fs);
		clu_set_fence(clu, fence_data, fs);
		clu_set_locks(clu, locks_event, fs);
		fsops_lock_reclaim(fs);
	} else {
		standalone_fs = fs;
	}
	if (fuse_set_signal_handlers(se)) {
		log_err("cannot install signal handlers");
		goto out;
	}
	handlers = 1;
	if (fuse_session_mount(se, mnt)) {
		log_err("%s: mount failed", mnt);
		goto out;
	}
	mounted = 1;
	if (fsops_custom_io(se)) {
		log_err("%s: cannot take over the session's requests", mnt);
		goto out;
	}
	if (o.pidfile) {
		rc = pidfile_write(o.pidfile);
		if (rc) {
			log_err("%s: %s", o.pidfile, csvfs_strerror(rc));
			goto out;
		}
		pid_written = 1;
	}
	daemon_ready(0, o.debug);
	log_info("mounted %s on %s (%s, node %u, %u KiB blocks)",
		 device, mnt, clu ? "cluster" : "standalone", o.node_id,
		 (1u << vi.block_shift) >> 10);

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		log_err("out of memory");
		goto out;
	}
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, o.max_threads);
	fuse_loop_cfg_set_idle_threads(cfg, o.max_threads < CSVFSD_IDLE_THREADS
					    ? o.max_threads
					    : CSVFSD_IDLE_THREADS);
	rc = fuse_session_loop_mt(se, cfg);
	status = rc ? 1 : 0;
	if (rc)
		log_err("%s: session ended with an error (%d)", mnt, rc);
out:
	daemon_ready(1, o.debug);	/* no-op once the mount was reported */
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (clu) {
		clu_set_recall(clu, NULL, NULL);
		clu_set_inval(clu, NULL, NULL);
		clu_set_fence(clu, NULL, NULL);
		clu_set_locks(clu, NULL, NULL);
	}
	standalone_fs = NULL;
	if (se)
		fuse_session_destroy(se);
	if (fs) {
		rc = fsops_release(fs);
		if (rc) {
			log_err("%s: unreported writes at unmount: %s", mnt,
				csvfs_strerror(rc));
			status = 1;
		}
		fsops_free(fs);
	}
	if (mdc)
		mdc_free(mdc);
	clu_stop(clu);
	mcache_free(cache);
	if (mds) {
		rc = mds_stop(mds);
		if (rc) {
			log_err("%s: stopping the coordinator failed: %s",
				device, csvfs_strerror(rc));
			status = 1;
		}
	}
	dev_close(dev);
	if (pid_written)
		unlink(o.pidfile);
	if (cfg)
		fuse_loop_cfg_destroy(cfg);
	fuse_opt_free_args(&args);
	if (mounted && !status)
		log_info("unmounted %s", mnt);
	free(o.fsname);
	free(o.kflags);
	free(o.pidfile);
	free(o.keyfile);
	free((char *)log_path);
	log_close();
	return status;
}

/*
 * log: the one logging interface of csvfs, header-only so that every
 * folder may use it (the bottom layer, like le.h and errors.h).
 *
 * Every line goes through syslog(3); a program's main decides with
 * log_open whether it also reaches stderr (LOG_PERROR) and whether debug
 * lines are kept (setlogmask). Library code only logs: it never opens.
 *
 * Lines carry their context first, in this order and spelling, so that
 * one grep finds everything about a thing:
 *   "node N: "            log_node   (a cluster node: its heartbeat, its
 *                                     connection, its locks)
 *   "ino N: "             log_ino, log_ino_at (an inode)
 *   "node N req S: "      log_req    (one request of a node, its seq)
 * then lower case, what failed first, names in quotes, no trailing
 * period (STYLE.md 11). Lines without one of these contexts (the volume,
 * the journal, the program) use log_err .. log_debug and name their
 * subject themselves ("journal: ...", "volume \"v\": ...").
 *
 * All functions are thread-safe (one syslog call per line, so lines of
 * concurrent threads do not interleave) and may be called before
 * log_open (syslog's defaults then: every priority, ident of the
 * program; the tools that never open, fsck.csvfs and mkfs.csvfs, log no
 * debug lines).
 */
#ifndef CSVFS_LOG_H
#define CSVFS_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

/*
 * Sets where lines go (LOG_TO_*: stderr is added with LOG_PERROR; syslog
 * is always written), the ident (the program name; NULL keeps the last
 * one) and whether debug lines are written. Call from the program's main
 * thread, in ONE source file (the ident it keeps is that file's), before
 * other threads log; may be called again (e.g. stderr dropped once the
 * daemon detached).
 */
static inline void log_open(const char *ident, int to, int debug)
{
	static const char *log_ident = "csvfs";

	if (ident)
		log_ident = ident;
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY |
		((to & LOG_TO_STDERR) ? LOG_PERROR : 0), LOG_DAEMON);
	setlogmask(debug ? LOG_UPTO(LOG_DEBUG) : LOG_UPTO(LOG_INFO));
}

/* Closes syslog if it was open. Main thread, after every other thread. */
static inline void log_close(void)
{
	closelog();
}

/* One line: prefix (the context, may be "") then the message. */
static inline void log_vline(int prio, const char *prefix, const char *fmt,
			     va_list ap)
{
	char line[1024];

	/* setlogmask(0) reads the mask: skip formatting a dropped line */
	if (!(setlogmask(0) & LOG_MASK(prio)))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	syslog(prio, "%s%s", prefix, line);
}

static inline LOG_FMT(2, 3) void log_at(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(prio, "", fmt, ap);
	va_end(ap);
}

#define log_err(...)	log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_at(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_DEBUG, __VA_ARGS__)

/* "ino N: <message>" at priority prio. */
static inline LOG_FMT(3, 4) void log_ino_at(int prio, uint64_t ino,
					    const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "ino %llu: ",
		 (unsigned long long)ino);
	va_start(ap, fmt);
	log_vline(prio, prefix, fmt, ap);
	va_end(ap);
}

/* An error about one inode: "ino N: <message>". */
#define log_ino(ino, ...)	log_ino_at(LOG_ERR, (ino), __VA_ARGS__)

/* "node N: <message>" at priority prio. */
static inline LOG_FMT(3, 4) void log_node(int prio, uint32_t node,
					  const char *fmt, ...)
{
	char prefix[24];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "node %u: ", node);
	va_start(ap, fmt);
	log_vline(prio, prefix, fmt, ap);
	va_end(ap);
}

/* "node N req S: <message>": one request (its header's node and seq). */
static inline LOG_FMT(4, 5) void log_req(int prio, uint32_t node,
					 uint64_t seq, const char *fmt, ...)
{
	char prefix[48];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "node %u req %llu: ", node,
		 (unsigned long long)seq);
	va_start(ap, fmt);
	log_vline(prio, prefix, fmt, ap);
	va_end(ap);
}

#endif /* CSVFS_LOG_H */

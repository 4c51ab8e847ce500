/*
 * log: the FUSE daemon's log lines. Foreground daemons write to stderr,
 * daemonized ones to syslog (journald); while a daemon is starting, both,
 * so the shell that started it sees why a mount failed.
 *
 * Lines are lower case, carry their context first (log_ino: "ino 123: ...")
 * and have no trailing period. All functions are thread-safe and may be
 * called before log_open (they then write to stderr).
 */
#ifndef CSVFS_FS_LOG_H
#define CSVFS_FS_LOG_H

#include <stdint.h>

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2

/*
 * Sets where lines go (LOG_TO_*), the program name printed on stderr and
 * sent as the syslog ident, and whether debug lines are written. Call from
 * the main thread before other threads log; may be called again to change
 * the destinations (e.g. drop stderr once the daemon detached).
 */
void log_open(const char *ident, int to, int debug);
/* Closes syslog if it was open. Main thread, after every other thread. */
void log_close(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error about one inode: "ino N: <message>". */
void log_ino(uint64_t ino, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* CSVFS_FS_LOG_H */

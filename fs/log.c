/*
 * log: stderr and/or syslog. One formatted line per call; a line is written
 * with a single write so lines of concurrent threads do not interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "fs/log.h"

static const char *log_ident = "csvfsd";
static int log_to = LOG_TO_STDERR;
static int log_dbg;

/*
 * Everything goes through syslog(3), with LOG_PERROR when stderr is wanted:
 * the library modules (meta/, net/) log with syslog() directly, and their
 * lines then reach the same places as ours.
 */
void log_open(const char *ident, int to, int debug)
{
	if (ident)
		log_ident = ident;
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY |
		((to & LOG_TO_STDERR) ? LOG_PERROR : 0), LOG_DAEMON);
	setlogmask(debug ? LOG_UPTO(LOG_DEBUG) : LOG_UPTO(LOG_INFO));
	log_to = to;
	log_dbg = debug;
}

void log_close(void)
{
	closelog();
	log_to = LOG_TO_STDERR;
}

static void log_line(int prio, const char *prefix, const char *fmt,
		     va_list ap)
{
	char line[1024];

	if (prio == LOG_DEBUG && !log_dbg)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	syslog(prio, "%s%s", prefix, line);
}

#define LOG_FN(name, prio)					\
	void name(const char *fmt, ...)				\
	{							\
		va_list ap;					\
		va_start(ap, fmt);				\
		log_line(prio, "", fmt, ap);			\
		va_end(ap);					\
	}

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

void log_ino(uint64_t ino, const char *fmt, ...)
{
	char prefix[40];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "ino %llu: ",
		 (unsigned long long)ino);
	va_start(ap, fmt);
	log_line(LOG_ERR, prefix, fmt, ap);
	va_end(ap);
}

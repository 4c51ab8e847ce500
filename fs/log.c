/*
 * log: stderr and/or syslog. One formatted line per call; a line is written
 * with a single write so lines of concurrent threads do not interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/log.h"

static const char *log_ident = "csvfsd";
static int log_to = LOG_TO_STDERR;
static int log_dbg;

void log_open(const char *ident, int to, int debug)
{
	if (ident)
		log_ident = ident;
	if ((to & LOG_TO_SYSLOG) && !(log_to & LOG_TO_SYSLOG))
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!(to & LOG_TO_SYSLOG) && (log_to & LOG_TO_SYSLOG))
		closelog();
	log_to = to;
	log_dbg = debug;
}

void log_close(void)
{
	if (log_to & LOG_TO_SYSLOG)
		closelog();
	log_to = LOG_TO_STDERR;
}

static void log_line(int prio, const char *prefix, const char *fmt,
		     va_list ap)
{
	char line[1024];
	char out[1100];
	int n;

	if (prio == LOG_DEBUG && !log_dbg)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to & LOG_TO_SYSLOG)
		syslog(prio, "%s%s", prefix, line);
	if (log_to & LOG_TO_STDERR) {
		n = snprintf(out, sizeof(out), "%s: %s%s\n", log_ident,
			     prefix, line);
		if (n > (int)sizeof(out) - 1)
			n = (int)sizeof(out) - 1;
		if (n > 0 && write(STDERR_FILENO, out, (size_t)n) < 0) {
			/* nowhere left to report it */
		}
	}
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

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "common/util.h"

#define LOG_LINE_MAX 4096
/* "DEV:INODE", each at most 20 decimal digits. */
#define JOURNAL_STREAM_MAX 41

static const char *log_prog = "tether";
static bool log_journal;

/*
 * True when JOURNAL_STREAM names the file open as stderr: systemd sets
 * it to the st_dev and st_ino of the stream it connects, in decimal. A
 * program that inherited the variable but writes elsewhere (a shell
 * started from a service, stderr redirected) does not match.
 */
static bool
stderr_is_journal(void)
{
	const char *value = getenv("JOURNAL_STREAM");
	char dev_text[JOURNAL_STREAM_MAX + 1];
	unsigned long dev, ino;
	const char *colon;
	struct stat st;

	if (!value || strlen(value) > JOURNAL_STREAM_MAX)
		return false;
	colon = strchr(value, ':');
	if (!colon)
		return false;
	memcpy(dev_text, value, (size_t)(colon - value));
	dev_text[colon - value] = '\0';
	if (parse_ulong(dev_text, 0, ULONG_MAX, &dev) < 0 ||
	    parse_ulong(colon + 1, 0, ULONG_MAX, &ino) < 0)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *prog)
{
	int saved = errno;

	log_prog = prog;
	log_journal = stderr_is_journal();
	errno = saved;
}

/*
 * In the journal the priority leads and the journal names the program;
 * elsewhere the program names itself, as it always has.
 */
static void __attribute__((format(printf, 3, 0)))
log_write(int priority, bool named, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	int n = 0, saved = errno;

	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", priority);
	else if (named)
		n = snprintf(line, sizeof(line), "%s: ", log_prog);
	len = n > 0 ? (size_t)n : 0;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* A log line that cannot be written has nowhere to go. */
	}
	errno = saved;
}

/* The entry points differ only in priority and naming. */
#define LOG_FUNCTION(name, priority, named)		\
	void						\
	name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
							\
		va_start(ap, fmt);			\
		log_write(priority, named, fmt, ap);	\
		va_end(ap);				\
	}

LOG_FUNCTION(log_line, LOG_INFO, false)
LOG_FUNCTION(log_msg, LOG_INFO, true)
LOG_FUNCTION(log_warn, LOG_WARNING, true)
LOG_FUNCTION(log_err, LOG_ERR, true)

void
log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstlen == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

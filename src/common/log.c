/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static const char *log_prog = "tether";

void
log_init(const char *prog)
{
	log_prog = prog;
}

static void __attribute__((format(printf, 2, 0)))
log_write(const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	int n, saved = errno;

	if (prefix) {
		n = snprintf(line, sizeof(line), "%s: ", prefix);
		len = n > 0 ? (size_t)n : 0;
	}
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

void
log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(NULL, fmt, ap);
	va_end(ap);
}

void
log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(log_prog, fmt, ap);
	va_end(ap);
}

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

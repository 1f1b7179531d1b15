/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_LOG_H
#define TETHER_LOG_H

#include <stddef.h>

/* Names the program in messages that are not request lines. */
void log_init(const char *prog);

/*
 * Writes one line to stderr with a single write(2), so lines from
 * concurrent threads never interleave. Lines longer than 4 KiB are cut.
 */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* As log_line, prefixed with the program name: for errors and events. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies len bytes of untrusted src into dst (size dstlen, always
 * NUL-terminated) with every byte outside printable ASCII, and the
 * backslash, written as \xHH. Cuts the output rather than overflow.
 */
void log_escape(char *dst, size_t dstlen, const char *src, size_t len);

#endif

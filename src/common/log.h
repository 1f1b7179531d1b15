/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_LOG_H
#define TETHER_LOG_H

#include <stddef.h>

/*
 * Names the program in messages that are not request lines, and decides
 * once how lines are written: when stderr is the journal's stream (the
 * JOURNAL_STREAM systemd sets names stderr's device and inode, see
 * systemd.exec(5)), each line starts with its syslog priority as "<N>"
 * (sd-daemon(3)) and no program name, which the journal records itself.
 * Otherwise a line is "PROG: message", or the request line as it is.
 */
void log_init(const char *prog);

/*
 * Each writes one line to stderr with a single write(2), so lines from
 * concurrent threads never interleave. Lines longer than 4 KiB are cut.
 */

/* A request or audit line, as it is (priority info). */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An event (a start, a reload, a key made), prefixed with the program
   name (priority info). */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Something skipped or refused while the work goes on (priority warning). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A failure that stops the program or refuses the work (priority err). */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies len bytes of untrusted src into dst (size dstlen, always
 * NUL-terminated) with every byte outside printable ASCII, and the
 * backslash, written as \xHH. Cuts the output rather than overflow.
 */
void log_escape(char *dst, size_t dstlen, const char *src, size_t len);

#endif

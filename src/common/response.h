/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_RESPONSE_H
#define TETHER_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

/* A Tang reply is a few KiB; refuse anything far larger. */
#define RESPONSE_MAX (256 * 1024)
#define RESPONSE_HEADERS_MAX 64
/* Interim 1xx responses skipped before the final one. */
#define RESPONSE_INTERIM_MAX 8

struct response {
	unsigned status;
	char content_type[128];
	const char *body;	/* inside the parsed buffer; NUL-terminated */
	size_t body_len;
};

/*
 * Parses an HTTP/1.x response held in buf[0..len) (the buffer must have
 * one spare byte after len), after up to RESPONSE_INTERIM_MAX interim 1xx
 * responses, which are skipped. Lines end in CRLF or a bare LF (RFC 9112
 * section 2.2). The body is framed by Content-Length, by
 * chunked transfer coding (decoded in place), or by the end of the
 * connection when eof is set. buf is changed only when 0 is returned, so
 * after -EAGAIN it may be parsed again with more bytes appended to it.
 * Returns 0 for a complete response; -EAGAIN
 * when more bytes are needed (never once eof is set); -EBADMSG for a
 * malformed response; -EMSGSIZE when it exceeds RESPONSE_MAX.
 */
int response_parse(char *buf, size_t len, bool eof, struct response *r);

#endif

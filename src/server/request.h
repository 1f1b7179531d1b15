/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_REQUEST_H
#define TETHERD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "server/http.h"

/* The request line and headers together, as tangd's request buffer. */
#define REQUEST_HEADER_MAX 4096
/* A body, as tetherd serve takes. */
#define REQUEST_BODY_MAX HTTP_BODY_MAX

/* An HTTP/1.x request head, read strictly: what tetherd KEYSDIR needs. */
struct request_head {
	char method[16];
	char target[REQUEST_HEADER_MAX];
	size_t header_len;		/* up to and with the empty line */
	size_t body_len;		/* Content-Length, at most REQUEST_BODY_MAX */
	bool keep_alive;
};

/*
 * Parses the head at the start of buf (len bytes of untrusted input, not
 * NUL-terminated). Returns 0 when no complete head is there yet, 1 with
 * rq filled, or the status that refuses the request: 400 malformed, 413
 * a Content-Length over REQUEST_BODY_MAX, 431 no head within
 * REQUEST_HEADER_MAX bytes, 501 a transfer-coding (chunked included) or a
 * method too long to be one.
 */
int request_head_parse(const char *buf, size_t len, struct request_head *rq);

#endif

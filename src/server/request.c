/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/request.h"

#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/util.h"

static const char *
find_end_of_header(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i + 4;
	return NULL;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* "METHOD SP TARGET SP HTTP/1.x": 0, or the status that refuses it. */
static unsigned
parse_request_line(const char *line, size_t len, struct request_head *rq,
                   bool *http10)
{
	const char *sp1 = memchr(line, ' ', len), *sp2;
	size_t mlen, tlen;

	if (!sp1)
		return 400;
	mlen = (size_t)(sp1 - line);
	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (!sp2 || mlen == 0 || mlen >= sizeof(rq->method))
		return mlen >= sizeof(rq->method) ? 501 : 400;
	for (size_t i = 0; i < mlen; i++)
		if (!is_token_char(line[i]))
			return 400;
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen == 0 || tlen >= sizeof(rq->target))
		return 400;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)sp1[1 + i] <= 0x20 || sp1[1 + i] == 0x7f)
			return 400;
	if (len - (size_t)(sp2 + 1 - line) != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	     memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return 400;
	*http10 = sp2[8] == '0';
	memcpy(rq->method, line, mlen);
	rq->method[mlen] = '\0';
	memcpy(rq->target, sp1 + 1, tlen);
	rq->target[tlen] = '\0';
	return 0;
}

static bool
value_has_token(const char *v, size_t len, const char *token)
{
	size_t n = strlen(token);

	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(v + i, token, n) == 0 &&
		    (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + n == len || v[i + n] == ',' || v[i + n] == ' '))
			return true;
	return false;
}

/* One "Name: value" line: 0, or the status that refuses the request. */
static unsigned
parse_header(const char *line, size_t len, struct request_head *rq,
             bool *have_length, bool http10)
{
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;
	unsigned long cl;
	char num[16];

	if (!colon || colon == line)
		return 400;
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++)
		if (!is_token_char(line[i]))
			return 400;	/* also a folded line */
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
		return 501;	/* no transfer-coding is read, chunked neither */
	if (nlen == 10 && strncasecmp(line, "Connection", 10) == 0) {
		if (value_has_token(v, vlen, "close"))
			rq->keep_alive = false;
		else if (http10 && value_has_token(v, vlen, "keep-alive"))
			rq->keep_alive = true;
		return 0;
	}
	if (nlen != 14 || strncasecmp(line, "Content-Length", 14) != 0)
		return 0;
	if (vlen == 0 || vlen >= sizeof(num))
		return vlen == 0 ? 400 : 413;
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	for (size_t i = 0; i < vlen; i++)
		if (num[i] < '0' || num[i] > '9')
			return 400;
	if (parse_ulong(num, 0, REQUEST_BODY_MAX, &cl) < 0)
		return 413;
	if (*have_length && cl != rq->body_len)
		return 400;
	*have_length = true;
	rq->body_len = cl;
	return 0;
}

/* The length of the line at p (to its CRLF) within left bytes, or -1. */
static ssize_t
line_length(const char *p, size_t left)
{
	for (size_t i = 0; i + 1 < left; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return (ssize_t)i;
	return -1;
}

/* The request line and headers of the complete header block buf (len
   bytes, ending with the empty line). */
static unsigned
parse_block(const char *buf, size_t len, struct request_head *rq)
{
	bool http10 = false, have_length = false;
	size_t off = 0, body = len - 2;	/* where the empty line starts */
	unsigned status;
	ssize_t n;

	memset(rq, 0, sizeof(*rq));
	rq->header_len = len;
	n = line_length(buf, len);
	if (n < 0)
		return 400;
	status = parse_request_line(buf, (size_t)n, rq, &http10);
	if (status)
		return status;
	rq->keep_alive = !http10;
	for (off = (size_t)n + 2; off < body; off += (size_t)n + 2) {
		n = line_length(buf + off, len - off);
		if (n < 0)
			return 400;
		status = parse_header(buf + off, (size_t)n, rq, &have_length,
		                      http10);
		if (status)
			return status;
	}
	return 0;
}

int
request_head_parse(const char *buf, size_t len, struct request_head *rq)
{
	size_t window = len < REQUEST_HEADER_MAX ? len : REQUEST_HEADER_MAX;
	const char *end = find_end_of_header(buf, window);
	unsigned status;

	if (!end)
		return len >= REQUEST_HEADER_MAX ? 431 : 0;
	status = parse_block(buf, (size_t)(end - buf), rq);
	return status ? (int)status : 1;
}

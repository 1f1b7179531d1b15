/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/response.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/*
 * Finds the end of the line at p in [p, end): CRLF, or a bare LF as RFC
 * 9112 section 2.2 lets a recipient accept (clevis's tests and some small
 * servers send them). Returns where the line's text ends and sets *next
 * past the terminator; NULL when the line is not complete.
 */
static const char *
line_end(const char *p, const char *end, char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl)
		return NULL;
	*next = (char *)nl + 1;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static int
parse_status_line(const char *p, const char *eol, unsigned *status)
{
	if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return -EBADMSG;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
	if (eol - p > 12 && p[12] != ' ')
		return -EBADMSG;
	/* The reason phrase: no control characters, so no bare CR. */
	for (const char *c = p + 12; c < eol; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return -EBADMSG;
	*status = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 +
	                     (p[11] - '0'));
	return *status >= 100 ? 0 : -EBADMSG;
}

struct framing {
	bool chunked;
	bool has_length;
	size_t length;
};

static int
parse_length(const char *v, size_t n, size_t *out)
{
	size_t x = 0;

	if (n == 0)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EBADMSG;
		if (x > RESPONSE_MAX)
			return -EMSGSIZE;
		x = x * 10 + (size_t)(v[i] - '0');
	}
	*out = x;
	return x > RESPONSE_MAX ? -EMSGSIZE : 0;
}

static bool
header_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

static int
parse_header(const char *p, const char *eol, struct framing *f,
             struct response *r)
{
	const char *colon = memchr(p, ':', (size_t)(eol - p));
	const char *v;
	size_t n, vn;

	if (!colon || colon == p)
		return -EBADMSG;
	n = (size_t)(colon - p);
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return -EBADMSG;
	v = colon + 1;
	while (v < eol && (*v == ' ' || *v == '\t'))
		v++;
	vn = (size_t)(eol - v);
	while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	for (size_t i = 0; i < vn; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return -EBADMSG;
	if (header_is(p, n, "Content-Length")) {
		size_t len;
		int rc = parse_length(v, vn, &len);

		if (rc < 0)
			return rc;
		if (f->has_length && len != f->length)
			return -EBADMSG;
		f->has_length = true;
		f->length = len;
	} else if (header_is(p, n, "Transfer-Encoding")) {
		if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
			return -EBADMSG;
		f->chunked = true;
	} else if (header_is(p, n, "Content-Type")) {
		if (vn >= sizeof(r->content_type))
			return -EBADMSG;
		memcpy(r->content_type, v, vn);
		r->content_type[vn] = '\0';
	}
	return 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The line end after size bytes of chunk data at p: CRLF or bare LF. */
static int
chunk_data_end(const char *p, const char *end, size_t size, char **next)
{
	size_t avail = (size_t)(end - p);

	if (avail <= size)
		return -EAGAIN;
	if (p[size] == '\n') {
		*next = (char *)p + size + 1;
		return 0;
	}
	if (p[size] != '\r')
		return -EBADMSG;
	if (avail < size + 2)
		return -EAGAIN;
	if (p[size + 1] != '\n')
		return -EBADMSG;
	*next = (char *)p + size + 2;
	return 0;
}

/*
 * Walks chunked coding in [p, end); extensions and trailers are skipped.
 * With out, the data is gathered at out, which never passes p: the same
 * buffer. Without, nothing is written and only *out_len is found.
 */
static int
walk_chunks(char *p, const char *end, char *out, size_t *out_len)
{
	size_t total = 0;
	int rc;

	for (;;) {
		char *next;
		const char *eol = line_end(p, end, &next);
		size_t size = 0;
		int digits = 0, h;

		if (!eol)
			return -EAGAIN;
		while (p < eol && (h = hex_value(*p)) >= 0) {
			if (size > RESPONSE_MAX)
				return -EMSGSIZE;
			size = size * 16 + (size_t)h;
			p++;
			digits++;
		}
		if (digits == 0 || (p < eol && *p != ';'))
			return -EBADMSG;
		if (size > RESPONSE_MAX - total)
			return -EMSGSIZE;
		p = next;
		if (size == 0)
			break;
		rc = chunk_data_end(p, end, size, &next);
		if (rc < 0)
			return rc;
		if (out)
			memmove(out + total, p, size);
		total += size;
		p = next;
	}
	/* Trailers, then the final empty line. */
	for (int count = 0;; count++) {
		char *next;
		const char *eol = line_end(p, end, &next);

		if (!eol)
			return -EAGAIN;
		if (eol == p)
			break;
		if (count == RESPONSE_HEADERS_MAX)
			return -EBADMSG;
		p = next;
	}
	if (out)
		out[total] = '\0';
	*out_len = total;
	return 0;
}

/*
 * Decodes the chunked body at p in place, but only once all of it is
 * there: a reply that arrives in pieces is parsed again from the start
 * after each read, so the bytes must stay as received until then.
 */
static int
decode_chunked(char *p, const char *end, size_t *out_len)
{
	int rc = walk_chunks(p, end, NULL, out_len);

	return rc < 0 ? rc : walk_chunks(p, end, p, out_len);
}

static int
parse_headers(char **pp, const char *end, struct framing *f,
              struct response *r)
{
	char *p = *pp;

	for (int count = 0;; count++) {
		char *next;
		const char *eol = line_end(p, end, &next);
		int rc;

		if (!eol)
			return -EAGAIN;
		if (eol == p) {
			*pp = next;
			return 0;
		}
		if (count == RESPONSE_HEADERS_MAX)
			return -EBADMSG;
		rc = parse_header(p, eol, f, r);
		if (rc < 0)
			return rc;
		p = next;
	}
}

/*
 * Parses one status line and its header block at *pp into r and f, and
 * moves *pp past the block's empty line.
 */
static int
parse_head(char **pp, const char *end, struct framing *f, struct response *r)
{
	char *next;
	const char *eol = line_end(*pp, end, &next);
	int rc;

	memset(r, 0, sizeof(*r));
	memset(f, 0, sizeof(*f));
	if (!eol)
		return -EAGAIN;
	rc = parse_status_line(*pp, eol, &r->status);
	if (rc < 0)
		return rc;
	*pp = next;
	rc = parse_headers(pp, end, f, r);
	if (rc == 0 && f->chunked && f->has_length)
		rc = -EBADMSG;	/* ambiguous framing: refuse, never guess */
	return rc;
}

/*
 * Parses the final response's head, skipping interim 1xx responses (100
 * Continue, 103 Early Hints) before it: they have no body (RFC 9110
 * section 15.2). 101 Switching Protocols answers an upgrade we never ask
 * for, so it is malformed here.
 */
static int
parse_final_head(char **pp, const char *end, struct framing *f,
                 struct response *r)
{
	for (int i = 0; i <= RESPONSE_INTERIM_MAX; i++) {
		int rc = parse_head(pp, end, f, r);

		if (rc < 0)
			return rc;
		if (r->status == 101)
			return -EBADMSG;
		if (r->status >= 200)
			return 0;
	}
	return -EBADMSG;
}

int
response_parse(char *buf, size_t len, bool eof, struct response *r)
{
	const char *end = buf + len;
	struct framing f;
	char *p = buf;
	int rc;

	memset(r, 0, sizeof(*r));
	if (len > RESPONSE_MAX)
		return -EMSGSIZE;
	rc = parse_final_head(&p, end, &f, r);
	if (rc == -EAGAIN && eof)
		rc = -EBADMSG;
	if (rc < 0)
		return rc;
	r->body = p;
	if (f.chunked) {
		rc = decode_chunked(p, end, &r->body_len);
		return rc == -EAGAIN && eof ? -EBADMSG : rc;
	}
	if (f.has_length) {
		if ((size_t)(end - p) < f.length)
			return eof ? -EBADMSG : -EAGAIN;
		if ((size_t)(end - p) > f.length)
			return -EBADMSG;	/* we send one request per connection */
		r->body_len = f.length;
	} else if (r->status == 204 || r->status == 304) {
		r->body_len = 0;
	} else {
		if (!eof)
			return -EAGAIN;
		r->body_len = (size_t)(end - p);
	}
	p[r->body_len] = '\0';
	return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/response.h"

/* Parses a copy with the spare byte the parser may write. */
static int
parse(const char *text, bool eof, struct response *r, char **keep)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	int rc;

	memcpy(buf, text, len);
	rc = response_parse(buf, len, eof, r);
	*keep = buf;
	return rc;
}

static void
expect(const char *text, bool eof, int rc, unsigned status, const char *body)
{
	struct response r;
	char *buf;

	/* The text has line breaks: name the case by its first bytes. */
	print_message("# case %.12s...\n", text);
	assert_int_equal(parse(text, eof, &r, &buf), rc);
	if (rc == 0) {
		assert_int_equal(r.status, status);
		assert_int_equal(r.body_len, strlen(body));
		assert_memory_equal(r.body, body, r.body_len);
		assert_int_equal(r.body[r.body_len], '\0');
	}
	free(buf);
}

static void
test_framing(void **state)
{
	(void)state;
	expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 0, 200, "hello");
	expect("HTTP/1.1 200 OK\r\ncontent-length:5\r\n\r\nhello", false, 0, 200, "hello");
	expect("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, 0, 404, "");
	expect("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, 0, 200, "ok");
	expect("HTTP/1.1 200 OK\r\n\r\nuntil close", true, 0, 200, "until close");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
	       false, 0, 200, "hello world");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	       false, 0, 200, "");
}

static void
test_incomplete(void **state)
{
	(void)state;
	expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, -EAGAIN, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Len", false, -EAGAIN, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Len", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\n\r\nmore to come", false, -EAGAIN, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	       false, -EAGAIN, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	       true, -EBADMSG, 0, "");
	expect("", true, -EBADMSG, 0, "");
	expect("", false, -EAGAIN, 0, "");
}

static void
test_malformed(void **state)
{
	(void)state;
	expect("HTTP/2 200 OK\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 20 OK\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 099 X\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200OK\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\n: empty\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
	       true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nab",
	       true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true,
	       -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n",
	       true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", true, -EBADMSG, 0, "");
}

/* RFC 9112 section 2.2: a recipient may take a bare LF as a line end. */
static void
test_bare_lf(void **state)
{
	(void)state;
	/* As clevis's tang-validate-adv test serves an advertisement. */
	expect("HTTP/1.0 200 OK\n\n{\"payload\":\"e30\"}\n", true, 0, 200,
	       "{\"payload\":\"e30\"}\n");
	expect("HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", false, 0, 200, "hello");
	expect("HTTP/1.1 404 Not Found\nContent-Length: 0\r\n\n", false, 0, 404, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok", false, 0, 200, "ok");
	expect("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
	       "5\nhello\n6\r\n world\n0\nT: x\n\n", false, 0, 200, "hello world");
	expect("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello",
	       false, -EAGAIN, 0, "");
	expect("HTTP/1.1 200 OK\nContent-Len", false, -EAGAIN, 0, "");
	/* A bare CR is no line end, anywhere. */
	expect("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\n\r\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nab\rX0\r\n\r\n", true, -EBADMSG, 0, "");
}

/* Interim 1xx replies come before the final one and have no body. */
static void
test_interim(void **state)
{
	char *many;
	size_t off = 0;

	(void)state;
	expect("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	       "Content-Length: 2\r\n\r\nok", false, 0, 200, "ok");
	expect("HTTP/1.1 100 Continue\n\nHTTP/1.1 103 Early Hints\nLink: </a>\n\n"
	       "HTTP/1.1 404 Not Found\nContent-Length: 0\n\n", false, 0, 404, "");
	/* Framing headers of an interim reply frame nothing. */
	expect("HTTP/1.1 100 Continue\r\nContent-Length: 9\r\n\r\n"
	       "HTTP/1.1 200 OK\r\n\r\nbody", true, 0, 200, "body");
	expect("HTTP/1.1 100 Continue\r\n\r\n", false, -EAGAIN, 0, "");
	expect("HTTP/1.1 100 Continue\r\n\r\n", true, -EBADMSG, 0, "");
	expect("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", false, -EAGAIN, 0, "");
	expect("HTTP/1.1 100 Continue\r\n\r\ngarbage\r\n\r\n", true,
	       -EBADMSG, 0, "");
	expect("HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n"
	       "Content-Length: 0\r\n\r\n", true, -EBADMSG, 0, "");

	/* One interim reply more than the limit is refused. */
	many = malloc((RESPONSE_INTERIM_MAX + 1) * 32 + 64);
	for (int i = 0; i <= RESPONSE_INTERIM_MAX; i++)
		off += (size_t)sprintf(many + off, "HTTP/1.1 100 Continue\r\n\r\n");
	sprintf(many + off, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	expect(many, true, -EBADMSG, 0, "");
	/* ... and as many as the limit are skipped. */
	expect(many + strlen("HTTP/1.1 100 Continue\r\n\r\n"), true, 0, 200, "");
	free(many);
}

static void
test_limits(void **state)
{
	char text[64];
	char *many;
	size_t off = 0;

	(void)state;
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
	         RESPONSE_MAX + 1);
	expect(text, false, -EMSGSIZE, 0, "");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	       false, -EMSGSIZE, 0, "");
	expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "ffffffffffffffffffff\r\n", false, -EMSGSIZE, 0, "");

	many = malloc(RESPONSE_HEADERS_MAX * 8 + 64);
	off += (size_t)sprintf(many, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= RESPONSE_HEADERS_MAX; i++)
		off += (size_t)sprintf(many + off, "X: y\r\n");
	sprintf(many + off, "\r\n");
	expect(many, true, -EBADMSG, 0, "");
	free(many);
}

static void
test_content_type(void **state)
{
	struct response r;
	char *buf;

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type:  application/jwk+json \r\n"
	                       "Content-Length: 0\r\n\r\n", false, &r, &buf), 0);
	assert_string_equal(r.content_type, "application/jwk+json");
	free(buf);
}

/*
 * As the client receives it: the reply arrives in two reads into one
 * buffer, parsed after each, at every split point. The first parse must
 * leave the bytes for the second.
 */
static void
expect_in_pieces(const char *text, const char *body)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	struct response r;

	for (size_t split = 0; split < len; split++) {
		print_message("# split at %zu\n", split);
		memcpy(buf, text, split);
		assert_int_equal(response_parse(buf, split, false, &r), -EAGAIN);
		memcpy(buf + split, text + split, len - split);
		assert_int_equal(response_parse(buf, len, false, &r), 0);
		assert_int_equal(r.body_len, strlen(body));
		assert_memory_equal(r.body, body, r.body_len);
	}
	free(buf);
}

static void
test_split_reads(void **state)
{
	(void)state;
	expect_in_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                 "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nT: x\r\n\r\n",
	                 "hello world");
	expect_in_pieces("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
	                 "3\nabc\n1\r\nd\n0\n\n", "abcd");
	expect_in_pieces("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	                 "hello");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_interim),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_split_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

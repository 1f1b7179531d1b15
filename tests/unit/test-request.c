/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/request.h"

static int
parse(const char *text, struct request_head *rq)
{
	return request_head_parse(text, strlen(text), rq);
}

static void
test_whole_heads(void **state)
{
	struct request_head rq;
	const char *two = "POST /rec/abc HTTP/1.1\r\nHost: a\r\n"
	                  "content-length:  2 \r\n\r\n{}GET /adv HTTP/1.1\r\n\r\n";

	(void)state;
	assert_int_equal(parse("GET /adv HTTP/1.1\r\n\r\n", &rq), 1);
	assert_string_equal(rq.method, "GET");
	assert_string_equal(rq.target, "/adv");
	assert_int_equal(rq.header_len, 19 + 2);
	assert_int_equal(rq.body_len, 0);
	assert_true(rq.keep_alive);

	/* Pipelined: only the first head is taken; its body follows it. */
	assert_int_equal(parse(two, &rq), 1);
	assert_string_equal(rq.method, "POST");
	assert_int_equal(rq.body_len, 2);
	assert_memory_equal(two + rq.header_len, "{}", 2);

	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &rq), 1);
	assert_false(rq.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	                       &rq), 1);
	assert_true(rq.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n",
	                       &rq), 1);
	assert_false(rq.keep_alive);
}

static void
test_partial_heads(void **state)
{
	struct request_head rq;

	(void)state;
	assert_int_equal(parse("", &rq), 0);
	assert_int_equal(parse("GET /adv HTTP/1.1\r\n", &rq), 0);
	assert_int_equal(parse("GET /adv HTTP/1.1\r\nHost: a\r\n\r", &rq), 0);
}

static void
test_refused_heads(void **state)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		{ "GET /adv\r\n\r\n", 400 },
		{ "GET  /adv HTTP/1.1\r\n\r\n", 400 },
		{ "GET /adv HTTP/2.0\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1 \r\n\r\n", 400 },
		{ "G(T /adv HTTP/1.1\r\n\r\n", 400 },
		{ "\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\n folded: x\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nContent-Length:\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\n", 400 },
		{ "GET /adv HTTP/1.1\r\nContent-Length: 16385\r\n\r\n", 413 },
		{ "GET /adv HTTP/1.1\r\nContent-Length: 99999999999999999999"
		  "\r\n\r\n", 413 },
		{ "POST /rec/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "POST /rec/a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ /adv HTTP/1.1\r\n\r\n", 501 },
	};
	struct request_head rq;
	char big[REQUEST_HEADER_MAX + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(parse(cases[i].text, &rq), cases[i].status);
	/* A NUL byte is no token character. */
	assert_int_equal(request_head_parse("G\0T / HTTP/1.1\r\n\r\n", 18, &rq),
	                 400);
	assert_int_equal(request_head_parse("GET / HTTP/1.1\r\nA\0: b\r\n\r\n",
	                                    25, &rq), 400);
	/* A head that has not ended within 4 KiB. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(parse(big, &rq), 431);
	/* Exactly 16 KiB of body is taken. */
	assert_int_equal(parse("POST /rec/a HTTP/1.1\r\nContent-Length: 16384"
	                       "\r\n\r\n", &rq), 1);
	assert_int_equal(rq.body_len, REQUEST_BODY_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_heads),
		cmocka_unit_test(test_partial_heads),
		cmocka_unit_test(test_refused_heads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

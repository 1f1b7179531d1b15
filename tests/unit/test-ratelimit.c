/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "server/ratelimit.h"

#define SEC 1000000ULL

static void
test_bucket(void **state)
{
	struct rate_limit rl;
	uint64_t t = 1000 * SEC;

	(void)state;
	/* 60 a minute is one a second; three at once. */
	assert_int_equal(rate_limit_init(&rl, 60, 3, 16), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rate_limit_check(&rl, "a", 1, true, t), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t), 1);
	/* Another key has its own bucket. */
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, t), 0);
	/* Half a second later, still none; a second later, one. */
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + SEC / 2), 1);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + SEC), 1);
	/* Looking takes nothing. */
	assert_int_equal(rate_limit_check(&rl, "a", 1, false, t + 2 * SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, false, t + 2 * SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + 2 * SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, false, t + 2 * SEC), 1);
	/* Idle long enough, the bucket is full again, never fuller. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + 100 * SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, t + 100 * SEC), 1);
	rate_limit_free(&rl);
}

static void
test_slow_rate_wait(void **state)
{
	struct rate_limit rl;

	(void)state;
	/* One a minute: the wait is about a minute, never 0. */
	assert_int_equal(rate_limit_init(&rl, 1, 1, 16), 0);
	assert_int_equal(rate_limit_check(&rl, "k", 1, true, SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "k", 1, true, SEC), 60);
	assert_int_equal(rate_limit_check(&rl, "k", 1, true, 31 * SEC), 30);
	assert_int_equal(rate_limit_check(&rl, "k", 1, true, 31 * SEC + 1), 30);
	rate_limit_free(&rl);
}

static void
test_off_and_bounded(void **state)
{
	struct rate_limit rl;
	char key[8];

	(void)state;
	assert_int_equal(rate_limit_init(&rl, 0, 1, 16), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 0);
	rate_limit_free(&rl);
	/* Far more keys than slots: the table never grows, and a key
	   pushed out comes back fresh. */
	assert_int_equal(rate_limit_init(&rl, 60, 1, 16), 0);
	assert_int_equal(rl.size, 16);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(rate_limit_check(&rl, key, strlen(key), true,
		                                  SEC + (uint64_t)i), 0);
	}
	rate_limit_free(&rl);
}

static void
test_keys(void **state)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6 };
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	uint8_t ka[RATE_KEY_MAX], kb[RATE_KEY_MAX];
	size_t na, nb;

	(void)state;
	/* One /64 is one key: a host cannot escape by changing addresses. */
	inet_pton(AF_INET6, "2001:db8:1:2::1", &a.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b.sin6_addr);
	na = rate_key_address((struct sockaddr *)&a, ka);
	nb = rate_key_address((struct sockaddr *)&b, kb);
	assert_int_equal(na, nb);
	assert_memory_equal(ka, kb, na);
	inet_pton(AF_INET6, "2001:db8:1:3::1", &b.sin6_addr);
	nb = rate_key_address((struct sockaddr *)&b, kb);
	assert_true(na != nb || memcmp(ka, kb, na) != 0);
	/* IPv4 and its mapped form are one client. */
	inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &a.sin6_addr);
	na = rate_key_address((struct sockaddr *)&v4, ka);
	nb = rate_key_address((struct sockaddr *)&a, kb);
	assert_int_equal(na, nb);
	assert_memory_equal(ka, kb, na);
	/* Names never collide with addresses. */
	nb = rate_key_client("web1", kb);
	assert_true(na != nb || memcmp(ka, kb, na) != 0);
	assert_int_equal(rate_key_address(NULL, ka), 0);
}

static void
test_new_rates_keep_buckets(void **state)
{
	struct rate_limit rl;

	(void)state;
	/* A key that spent its burst stays empty at the new rate; a
	   fuller bucket is cut to the new burst. */
	assert_int_equal(rate_limit_init(&rl, 1, 2, 16), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 60);
	assert_int_equal(rate_limit_set(&rl, 2, 5), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 30);
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, SEC), 0);
	assert_int_equal(rate_limit_set(&rl, 60, 1), 0);
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, SEC), 1);
	/* Off, then on again: the buckets were kept. */
	assert_int_equal(rate_limit_set(&rl, 0, 1), 0);
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, SEC), 0);
	assert_int_equal(rate_limit_set(&rl, 60, 1), 0);
	assert_int_equal(rate_limit_check(&rl, "b", 1, true, SEC), 1);
	rate_limit_free(&rl);
	/* Started off, a limit turned on gets its table then. */
	assert_int_equal(rate_limit_init(&rl, 0, 1, 16), 0);
	assert_null(rl.table);
	assert_int_equal(rate_limit_set(&rl, 60, 1), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 0);
	assert_int_equal(rate_limit_check(&rl, "a", 1, true, SEC), 1);
	rate_limit_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_slow_rate_wait),
		cmocka_unit_test(test_off_and_bounded),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_new_rates_keep_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

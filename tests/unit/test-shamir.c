/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/shamir.h"

#define N 5
#define T 3

struct fixture {
	struct shamir *s;
	uint8_t prime[SHAMIR_LEN], secret[SHAMIR_LEN];
	uint8_t shares[N][2 * SHAMIR_LEN];
};

static struct fixture f;

static int
setup(void **state)
{
	(void)state;
	f.s = shamir_new(T);
	if (!f.s || shamir_prime(f.s, f.prime) < 0 ||
	    shamir_secret(f.s, f.secret) < 0)
		return -1;
	for (int i = 0; i < N; i++)
		if (shamir_share(f.s, f.shares[i]) < 0)
			return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	shamir_free(f.s);
	return 0;
}

static int
combine(const int *idx, size_t n, uint8_t out[SHAMIR_LEN])
{
	const uint8_t *sel[N];

	for (size_t i = 0; i < n; i++)
		sel[i] = f.shares[idx[i]];
	return shamir_combine(f.prime, SHAMIR_LEN, sel, n, out);
}

static void
test_any_t_shares(void **state)
{
	static const int subsets[][T] = {
		{ 0, 1, 2 }, { 4, 3, 2 }, { 0, 2, 4 }, { 1, 3, 4 }, { 3, 0, 1 },
	};
	uint8_t out[SHAMIR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(subsets) / sizeof(subsets[0]); i++) {
		assert_int_equal(combine(subsets[i], T, out), 0);
		assert_memory_equal(out, f.secret, SHAMIR_LEN);
	}
	/* More shares than needed agree too. */
	assert_int_equal(combine((const int[]){ 0, 1, 2, 3, 4 }, N, out), 0);
	assert_memory_equal(out, f.secret, SHAMIR_LEN);
}

static void
test_too_few_shares(void **state)
{
	uint8_t out[SHAMIR_LEN];

	(void)state;
	assert_int_equal(combine((const int[]){ 0, 1 }, 2, out), 0);
	assert_memory_not_equal(out, f.secret, SHAMIR_LEN);
}

static void
test_bad_shares(void **state)
{
	uint8_t out[SHAMIR_LEN], bad[2 * SHAMIR_LEN];
	const uint8_t *sel[3] = { f.shares[0], f.shares[0], f.shares[1] };

	(void)state;
	/* The same x twice cannot be interpolated. */
	assert_int_equal(shamir_combine(f.prime, SHAMIR_LEN, sel, 3, out), -EINVAL);
	/* Coordinates outside the field. */
	memcpy(bad, f.shares[2], sizeof(bad));
	memset(bad + SHAMIR_LEN, 0xff, SHAMIR_LEN);
	sel[1] = bad;
	assert_int_equal(shamir_combine(f.prime, SHAMIR_LEN, sel, 3, out), -EINVAL);
	memset(bad, 0xff, SHAMIR_LEN);
	assert_int_equal(shamir_combine(f.prime, SHAMIR_LEN, sel, 3, out), -EINVAL);
	assert_int_equal(shamir_combine(f.prime, SHAMIR_LEN, sel, 0, out), -EINVAL);
}

static void
test_limits(void **state)
{
	(void)state;
	assert_null(shamir_new(0));
	assert_null(shamir_new(SHAMIR_MAX_SHARES + 1));
	shamir_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_t_shares),
		cmocka_unit_test(test_too_few_shares),
		cmocka_unit_test(test_bad_shares),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

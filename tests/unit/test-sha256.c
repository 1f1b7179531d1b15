/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/sha256.h"

/* FIPS 180-2's examples, and the empty string. */
static void
test_known(void **state)
{
	static const struct {
		const char *in;
		uint8_t md[SHA256_LEN];
	} known[] = {
		{ "", { 0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb,
		        0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4,
		        0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
		        0xb8, 0x55 } },
		{ "abc", { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41,
		           0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03,
		           0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff,
		           0x61, 0xf2, 0x00, 0x15, 0xad } },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  { 0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26,
		    0x93, 0x0c, 0x3e, 0x60, 0x39, 0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff,
		    0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1 } },
	};
	uint8_t md[SHA256_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_int_equal(sha256(known[i].in, strlen(known[i].in), md), 0);
		assert_memory_equal(md, known[i].md, SHA256_LEN);
	}
}

/* Any split into updates gives EVP's digest of the whole. */
static void
test_same_as_evp(void **state)
{
	uint8_t buf[1000], want[SHA256_LEN], got[SHA256_LEN];
	unsigned int len = 0;

	(void)state;
	assert_int_equal(RAND_bytes(buf, sizeof(buf)), 1);
	for (size_t n = 0; n <= sizeof(buf); n += 37) {
		struct sha256 s;

		assert_int_equal(EVP_Digest(buf, n, want, &len, EVP_sha256(), NULL), 1);
		assert_int_equal(sha256_init(&s), 0);
		for (size_t done = 0, step = 1; done < n; done += step, step = step * 2 + 1)
			assert_int_equal(sha256_update(&s, buf + done,
			                               step < n - done ? step : n - done), 0);
		assert_int_equal(sha256_final(&s, got), 0);
		assert_memory_equal(got, want, SHA256_LEN);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_same_as_evp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

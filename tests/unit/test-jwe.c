/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jose/jose.h>
#include <zlib.h>

#include "client/jwe.h"
#include "common/util.h"

static json_t *cek;
static char *compact;

static int
setup(void **state)
{
	json_t *hdr;

	(void)state;
	cek = json_pack("{s:s}", "alg", "A256GCM");
	if (!cek || !jose_jwk_gen(NULL, cek))
		return -1;
	hdr = json_pack("{s:s,s:s,s:{s:s}}", "alg", "dir", "enc", "A256GCM",
	                "clevis", "pin", "test");
	if (jwe_encrypt(hdr, cek, (const uint8_t *)"secret", 6, &compact) < 0)
		return -1;
	json_decref(hdr);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(cek);
	free(compact);
	return 0;
}

static int
parse(const char *text, json_t **jwe, json_t **hdr)
{
	return jwe_parse_compact(text, strlen(text), jwe, hdr);
}

static void
test_round_trip(void **state)
{
	json_t *jwe, *hdr;
	uint8_t *pt;
	size_t len;
	char *again, *nl;

	(void)state;
	/* Four dots, an empty encrypted key: the form clevis writes. */
	assert_non_null(strstr(compact, ".."));
	assert_int_equal(parse(compact, &jwe, &hdr), 0);
	assert_string_equal(jwe_pin(hdr), "test");
	assert_int_equal(jwe_format_compact(jwe, &again), 0);
	assert_string_equal(again, compact);
	assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(pt, "secret", 6);
	free_secret(pt, len);
	free(again);
	json_decref(jwe);
	json_decref(hdr);

	/* A trailing newline, as files and clevis on a terminal have. */
	nl = malloc(strlen(compact) + 2);
	strcpy(nl, compact);
	strcat(nl, "\n");
	assert_int_equal(parse(nl, &jwe, &hdr), 0);
	json_decref(jwe);
	json_decref(hdr);
	free(nl);
}

/* Each part altered in turn never decrypts. */
/* An empty secret is a secret too: it decrypts to nothing, not an error. */
static void
test_empty_plaintext(void **state)
{
	json_t *hdr, *jwe, *parsed_hdr;
	char *empty;
	uint8_t *pt = NULL;
	size_t len = 99;

	(void)state;
	hdr = json_pack("{s:s,s:s,s:{s:s}}", "alg", "dir", "enc", "A256GCM",
	                "clevis", "pin", "test");
	assert_non_null(hdr);
	assert_int_equal(jwe_encrypt(hdr, cek, (const uint8_t *)"", 0, &empty), 0);
	assert_int_equal(parse(empty, &jwe, &parsed_hdr), 0);
	assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), 0);
	assert_int_equal(len, 0);
	assert_non_null(pt);
	free_secret(pt, len);

	/* The tag still guards it. */
	json_object_set_new(jwe, "tag", json_string("AAAAAAAAAAAAAAAAAAAAAA"));
	assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), -EBADMSG);
	json_decref(jwe);
	json_decref(parsed_hdr);
	json_decref(hdr);
	free(empty);
}

static void
test_tampered(void **state)
{
	size_t n = strlen(compact);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char *t = strdup(compact);
		json_t *jwe, *hdr;
		uint8_t *pt = NULL;
		size_t len = 0;

		if (t[i] == '.') {
			free(t);
			continue;
		}
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (parse(t, &jwe, &hdr) == 0) {
			assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), -EBADMSG);
			assert_null(pt);
			json_decref(jwe);
			json_decref(hdr);
		}
		free(t);
	}
}

/*
 * A compressed JWE ("zip":"DEF") of len bytes of 'A'. libjose 11 cannot
 * write one (it reads "zip" only from an encoded header, and takes "enc"
 * only from one that is not yet), so the plaintext is deflated here and
 * encrypted as it is, under a header that says so.
 */
static json_t *
zip_jwe(size_t len)
{
	json_t *jwe = json_pack("{s:{s:s,s:s,s:s}}", "protected", "alg", "dir",
	                        "enc", "A256GCM", "zip", "DEF");
	uint8_t *pt = malloc(len ? len : 1);
	uLong bound = deflateBound(NULL, len);
	uint8_t *def = malloc(bound);
	z_stream z = { 0 };

	assert_non_null(jwe);
	assert_non_null(pt);
	assert_non_null(def);
	memset(pt, 'A', len);
	assert_int_equal(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED,
	                              -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = pt;
	z.avail_in = (uInt)len;
	z.next_out = def;
	z.avail_out = (uInt)bound;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	/* Compressed indeed: a run of one byte deflates to almost nothing. */
	assert_true(z.total_out < len / 100 + 64);
	assert_true(jose_jwe_enc_cek(NULL, jwe, cek, def, z.total_out));
	deflateEnd(&z);
	free(def);
	free(pt);
	return jwe;
}

/* jose and clevis read compressed JWEs, so tether does, within a limit. */
static void
test_compressed(void **state)
{
	static const size_t sizes[] = { 0, 1000, JWE_PLAINTEXT_MAX };
	static const size_t too_large[] = {
		JWE_PLAINTEXT_MAX + 1, 16 * 1024 * 1024,
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		json_t *jwe = zip_jwe(sizes[i]);
		uint8_t *pt = NULL;
		size_t len = 0;

		print_message("# %zu bytes compressed\n", sizes[i]);
		assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), 0);
		assert_int_equal(len, sizes[i]);
		for (size_t j = 0; j < len; j++)
			if (pt[j] != 'A')
				fail_msg("byte %zu is %#x", j, pt[j]);
		free_secret(pt, len);
		json_decref(jwe);
	}
	for (size_t i = 0; i < ARRAY_SIZE(too_large); i++) {
		json_t *jwe = zip_jwe(too_large[i]);
		uint8_t *pt = NULL;
		size_t len = 0;

		print_message("# %zu bytes compressed: refused\n", too_large[i]);
		assert_int_equal(jwe_decrypt(jwe, cek, &pt, &len), -EFBIG);
		assert_null(pt);
		json_decref(jwe);
	}
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "a.b.c.d", "a..c.d.e.f", "a.b.c.d.e", ".x.y.z.w", "a..c.d.",
		"a..c.d.e!", "a .. c.d.e", "W10..c.d.e",
		"bm90IGpzb24..c.d.e",
	};
	json_t *jwe, *hdr;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &jwe, &hdr), -EBADMSG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_plaintext),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

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
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

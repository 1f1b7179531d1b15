/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Binding descriptions, token layout and re-binding configs, from headers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jose/b64.h>

#include "client/binding.h"
#include "client/describe.h"

/* A compact JWE with this protected header; the other parts are filler. */
static char *
jwe_with(const char *hdr_json)
{
	json_t *hdr = json_loads(hdr_json, 0, NULL), *enc;
	char *out;

	assert_non_null(hdr);
	enc = jose_b64_enc_dump(hdr);
	assert_non_null(enc);
	assert_true(asprintf(&out, "%s..aXY.Y3Q.dGFn", json_string_value(enc)) > 0);
	json_decref(enc);
	json_decref(hdr);
	return out;
}

static char *
tang_jwe(const char *url)
{
	char hdr[512];

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ECDH-ES\",\"clevis\":{\"pin\":"
	         "\"tang\",\"tang\":{\"url\":\"%s\",\"adv\":{\"keys\":[]}}}}", url);
	return jwe_with(hdr);
}

/* An sss header over the given nested JWEs, threshold t. */
static char *
sss_jwe(int t, char **nested, size_t n)
{
	json_t *arr = json_array(), *hdr;
	char *text, *out;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(nested[i]));
	hdr = json_pack("{s:s,s:{s:s,s:{s:i,s:o}}}", "alg", "dir", "clevis",
	                "pin", "sss", "sss", "t", t, "jwe", arr);
	text = json_dumps(hdr, JSON_COMPACT);
	out = jwe_with(text);
	free(text);
	json_decref(hdr);
	return out;
}

static void
assert_describes(const char *jwe, const char *want)
{
	char *text = NULL;

	assert_int_equal(describe_binding(jwe, &text), 0);
	assert_string_equal(text, want);
	free(text);
}

static void
test_tang(void **state)
{
	char *j = tang_jwe("http://10.0.0.1:8080");

	(void)state;
	assert_describes(j, "tang '{\"url\":\"http://10.0.0.1:8080\"}'");
	free(j);
}

static void
test_sss(void **state)
{
	char *inner[3], *nested[2], *outer;

	(void)state;
	inner[0] = tang_jwe("http://a");
	inner[1] = tang_jwe("http://b");
	inner[2] = jwe_with("{\"clevis\":{\"pin\":\"tpm2\",\"tpm2\":"
	                    "{\"hash\":\"sha256\",\"key\":\"ecc\",\"pcr_ids\":\"7\"}}}");
	outer = sss_jwe(2, inner, 3);
	assert_describes(outer, "sss '{\"t\":2,\"pins\":{\"tang\":[{\"url\":"
	                 "\"http://a\"},{\"url\":\"http://b\"}],\"tpm2\":[{\"hash\":"
	                 "\"sha256\",\"key\":\"ecc\",\"pcr_ids\":\"7\"}]}}'");
	/* Nested sss, listed bare after the others, as clevis does. */
	nested[0] = outer;
	nested[1] = tang_jwe("http://c");
	free(inner[2]);
	inner[2] = sss_jwe(1, nested, 2);
	assert_describes(inner[2], "sss '{\"t\":1,\"pins\":{\"tang\":[{\"url\":"
	                 "\"http://c\"}],\"sss\":{\"t\":2,\"pins\":{\"tang\":[{\"url\":"
	                 "\"http://a\"},{\"url\":\"http://b\"}],\"tpm2\":[{\"hash\":"
	                 "\"sha256\",\"key\":\"ecc\",\"pcr_ids\":\"7\"}]}}}}'");
	for (size_t i = 0; i < 3; i++)
		free(inner[i]);
	free(nested[1]);
	free(outer);
}

static void
test_unknown_and_malformed(void **state)
{
	char *j = jwe_with("{\"clevis\":{\"pin\":\"null\",\"null\":{}}}"), *text;

	(void)state;
	assert_describes(j, "unknown pin 'null'");
	free(j);
	j = jwe_with("{\"alg\":\"dir\"}");
	assert_int_equal(describe_binding(j, &text), -EBADMSG);
	assert_int_equal(describe_binding("no dots here", &text), -EBADMSG);
	assert_int_equal(describe_binding("!!!.a.b.c.d", &text), -EBADMSG);
	free(j);
}

static void
test_rebind_config(void **state)
{
	char *inner[2], *outer, *tpm;
	const char *pin;
	json_t *cfg;

	(void)state;
	inner[0] = tang_jwe("http://a");
	inner[1] = tang_jwe("http://b");
	outer = sss_jwe(2, inner, 2);
	assert_int_equal(rebind_config(outer, &pin, &cfg), 0);
	assert_string_equal(pin, "sss");
	assert_int_equal(json_integer_value(json_object_get(cfg, "t")), 2);
	assert_int_equal(json_array_size(json_object_get(
		json_object_get(cfg, "pins"), "tang")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(json_object_get(cfg, "pins"), "tang"), 1), "url")),
		"http://b");
	assert_true(json_is_array(json_object_get(json_array_get(json_object_get(
		json_object_get(cfg, "pins"), "tang"), 0), "trust")));
	json_decref(cfg);

	/* tpm2: the same algorithms and PCRs, not the sealed parts. */
	tpm = jwe_with("{\"clevis\":{\"pin\":\"tpm2\",\"tpm2\":{\"hash\":"
	               "\"sha1\",\"key\":\"rsa\",\"pcr_bank\":\"sha256\","
	               "\"pcr_ids\":\"0,7\",\"jwk_pub\":\"AA\",\"jwk_priv\":"
	               "\"AA\"}}}");
	assert_int_equal(rebind_config(tpm, &pin, &cfg), 0);
	assert_string_equal(pin, "tpm2");
	assert_int_equal(json_object_size(cfg), 4);
	assert_string_equal(json_string_value(json_object_get(cfg, "hash")),
	                    "sha1");
	assert_string_equal(json_string_value(json_object_get(cfg, "key")),
	                    "rsa");
	assert_string_equal(json_string_value(json_object_get(cfg, "pcr_bank")),
	                    "sha256");
	assert_string_equal(json_string_value(json_object_get(cfg, "pcr_ids")),
	                    "0,7");
	json_decref(cfg);
	free(tpm);
	tpm = jwe_with("{\"clevis\":{\"pin\":\"tpm2\",\"tpm2\":{\"hash\":7}}}");
	assert_int_equal(rebind_config(tpm, &pin, &cfg), -EBADMSG);
	free(tpm);
	tpm = jwe_with("{\"clevis\":{\"pin\":\"tpm9\",\"tpm9\":{}}}");
	assert_int_equal(rebind_config(tpm, &pin, &cfg), -ENOTSUP);
	free(tpm);
	free(inner[0]);
	free(inner[1]);
	free(outer);
}

static void
test_token_layout(void **state)
{
	char *jwe = tang_jwe("http://a"), *json = NULL, *back = NULL;
	json_t *tok;
	int slot = -1;

	(void)state;
	assert_int_equal(binding_token_json(jwe, 7, &json), 0);
	tok = json_loads(json, 0, NULL);
	assert_non_null(tok);
	assert_string_equal(json_string_value(json_object_get(tok, "type")),
	                    "clevis");
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(tok, "keyslots"), 0)), "7");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(tok, "jwe"), "encrypted_key")), "");
	assert_int_equal(json_object_size(json_object_get(tok, "jwe")), 5);
	json_decref(tok);
	assert_int_equal(binding_from_token(json, &slot, &back), 0);
	assert_int_equal(slot, 7);
	assert_string_equal(back, jwe);
	free(back);
	free(json);
	free(jwe);
}

/* token (from binding_token_json for slot 3) retyped and reassigned. */
static char *
edited_token(const char *json, const char *type, const char *keyslots,
             const char *slot, const char *spare_of)
{
	json_t *tok = json_loads(json, 0, NULL);
	char *out;

	assert_non_null(tok);
	json_object_set_new(tok, "type", json_string(type));
	json_object_set_new(tok, "keyslots", json_loads(keyslots, 0, NULL));
	if (slot)
		json_object_set_new(tok, "slot", json_string(slot));
	if (spare_of)
		json_object_set_new(tok, SPARE_MEMBER, json_string(spare_of));
	out = json_dumps(tok, JSON_COMPACT);
	json_decref(tok);
	assert_non_null(out);
	return out;
}

/* What an interrupted luks command leaves, read back (luks_debris.c). */
static void
test_pending_tokens(void **state)
{
	char *jwe = tang_jwe("http://a"), *json = NULL, *t, *back = NULL;
	bool removing = true;
	int slot = -1;

	(void)state;
	assert_int_equal(binding_token_json(jwe, 3, &json), 0);

	t = edited_token(json, PENDING_TOKEN_TYPE, "[]", "3", NULL);
	assert_int_equal(binding_from_pending(t, &slot, &removing, &back), 0);
	assert_int_equal(slot, 3);
	assert_false(removing);
	assert_string_equal(back, jwe);
	free(back);
	assert_int_equal(binding_token_spare_of(t), -ENOENT);
	assert_false(binding_token_dangling(t));
	assert_int_equal(binding_from_token(t, &slot, &back), -EBADMSG);
	free(t);

	/* Assigned to its own keyslot: that keyslot is being removed. */
	t = edited_token(json, PENDING_TOKEN_TYPE, "[\"3\"]", "3", "1");
	assert_int_equal(binding_from_pending(t, &slot, &removing, &back), 0);
	assert_true(removing);
	free(back);
	assert_int_equal(binding_token_spare_of(t), 1);
	free(t);

	/* Assigned elsewhere, to two, or to none it names: not tether's. */
	t = edited_token(json, PENDING_TOKEN_TYPE, "[\"4\"]", "3", NULL);
	assert_int_equal(binding_from_pending(t, &slot, &removing, &back),
	                 -EBADMSG);
	free(t);
	t = edited_token(json, PENDING_TOKEN_TYPE, "[\"3\",\"4\"]", "3", NULL);
	assert_int_equal(binding_from_pending(t, &slot, &removing, &back),
	                 -EBADMSG);
	free(t);
	t = edited_token(json, PENDING_TOKEN_TYPE, "[]", NULL, NULL);
	assert_int_equal(binding_from_pending(t, &slot, &removing, &back),
	                 -EBADMSG);
	free(t);
	assert_int_equal(binding_from_pending(json, &slot, &removing, &back),
	                 -EBADMSG);

	/* A spare binding is still clevis's layout, which clevis reads. */
	t = edited_token(json, CLEVIS_TOKEN_TYPE, "[\"3\"]", NULL, "1");
	assert_int_equal(binding_token_spare_of(t), 1);
	assert_int_equal(binding_from_token(t, &slot, &back), 0);
	assert_int_equal(slot, 3);
	free(back);
	free(t);
	t = edited_token(json, CLEVIS_TOKEN_TYPE, "[\"3\"]", NULL, "01");
	assert_int_equal(binding_token_spare_of(t), -ENOENT);
	free(t);

	/* A clevis token whose keyslot went. */
	t = edited_token(json, CLEVIS_TOKEN_TYPE, "[]", NULL, NULL);
	assert_true(binding_token_dangling(t));
	free(t);
	assert_false(binding_token_dangling(json));
	free(json);
	free(jwe);
}

static void
test_token_refused(void **state)
{
	static const char *const bad[] = {
		"not json",
		"{\"type\":\"other\",\"keyslots\":[\"1\"],\"jwe\":{}}",
		"{\"type\":\"clevis\",\"keyslots\":[],\"jwe\":{}}",
		"{\"type\":\"clevis\",\"keyslots\":[\"1\",\"2\"],\"jwe\":{}}",
		"{\"type\":\"clevis\",\"keyslots\":[\"01\"],\"jwe\":{\"protected\":"
		"\"e30\",\"iv\":\"aXY\",\"ciphertext\":\"\",\"tag\":\"dGFn\"}}",
		"{\"type\":\"clevis\",\"keyslots\":[\"32\"],\"jwe\":{\"protected\":"
		"\"e30\",\"iv\":\"aXY\",\"ciphertext\":\"\",\"tag\":\"dGFn\"}}",
		"{\"type\":\"clevis\",\"keyslots\":[\"1\"],\"jwe\":{\"protected\":"
		"\"e30\",\"iv\":\"aXY\",\"ciphertext\":\"\"}}",
		"{\"type\":\"clevis\",\"keyslots\":[\"1\"],\"jwe\":{\"protected\":"
		"\"e30\",\"encrypted_key\":\"a2V5\",\"iv\":\"aXY\",\"ciphertext\":"
		"\"\",\"tag\":\"dGFn\"}}",
	};
	char *jwe;
	int slot;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(binding_from_token(bad[i], &slot, &jwe), -EBADMSG);
	/* The layout without encrypted_key is read too. */
	assert_int_equal(binding_from_token("{\"type\":\"clevis\",\"keyslots\":"
		"[\"31\"],\"jwe\":{\"protected\":\"e30\",\"iv\":\"aXY\","
		"\"ciphertext\":\"Y3Q\",\"tag\":\"dGFn\"}}", &slot, &jwe), 0);
	assert_int_equal(slot, 31);
	assert_string_equal(jwe, "e30..aXY.Y3Q.dGFn");
	free(jwe);
}

/* jose 11 repeats "ciphertext": every repeated member reads as its last. */
static void
test_token_repeated_members(void **state)
{
	char *jwe = NULL;
	int slot = -1;

	(void)state;
	assert_int_equal(binding_from_token("{\"type\":\"clevis\",\"keyslots\":"
		"[\"2\"],\"jwe\":{\"ciphertext\":\"b2xk\",\"protected\":\"e30\","
		"\"iv\":\"aXY\",\"ciphertext\":\"Y3Q\",\"tag\":\"dGFn\"}}",
		&slot, &jwe), 0);
	assert_int_equal(slot, 2);
	assert_string_equal(jwe, "e30..aXY.Y3Q.dGFn");
	free(jwe);
	jwe = NULL;
	assert_int_equal(binding_from_token("{\"type\":\"clevis\",\"keyslots\":"
		"[\"1\"],\"keyslots\":[\"3\"],\"jwe\":{\"protected\":\"e30\","
		"\"iv\":\"aXY\",\"ciphertext\":\"Y3Q\",\"tag\":\"dGFn\"}}",
		&slot, &jwe), 0);
	assert_int_equal(slot, 3);
	free(jwe);
	/* The last "type" is what cryptsetup dispatches on. */
	assert_int_equal(binding_from_token("{\"type\":\"clevis\",\"type\":"
		"\"other\",\"keyslots\":[\"1\"],\"jwe\":{\"protected\":\"e30\","
		"\"iv\":\"aXY\",\"ciphertext\":\"Y3Q\",\"tag\":\"dGFn\"}}",
		&slot, &jwe), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tang),
		cmocka_unit_test(test_sss),
		cmocka_unit_test(test_unknown_and_malformed),
		cmocka_unit_test(test_rebind_config),
		cmocka_unit_test(test_token_layout),
		cmocka_unit_test(test_token_refused),
		cmocka_unit_test(test_pending_tokens),
		cmocka_unit_test(test_token_repeated_members),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

#include "client/ecdh_es.h"
#include "client/jwe.h"
#include "common/jwk.h"

static json_t *
tang_header(void)
{
	json_t *hdr = json_pack("{s:s,s:s,s:s,s:{s:s}}", "alg", "ECDH-ES", "enc",
	                        "A256GCM", "kid", "k1", "clevis", "pin", "tang");

	assert_non_null(hdr);
	return hdr;
}

/*
 * libjose, with the server's private key as clevis's tang pin would use
 * it, decrypts what ecdh_es_encrypt() wrote: the same key derivation.
 * So does jwe_decrypt() from the shared point libjose computes, what
 * tang recovery yields.
 */
static void
encrypt_for(const char *crv)
{
	static const uint8_t secret[] = "the volume's passphrase";
	json_t *srv = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);
	json_t *hdr = tang_header(), *pub, *jwe, *h, *shared;
	uint8_t *pt = NULL;
	size_t len = 0;
	char *out = NULL;

	assert_true(jose_jwk_gen(NULL, srv));
	pub = json_deep_copy(srv);
	assert_true(jose_jwk_pub(NULL, pub));
	assert_int_equal(ecdh_es_encrypt(hdr, pub, secret, sizeof(secret), &out), 0);
	assert_int_equal(jwe_parse_compact(out, strlen(out), &jwe, &h), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	                            h, "epk"), "crv")), crv);
	assert_null(json_object_get(json_object_get(h, "epk"), "d"));
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "k1");
	pt = jose_jwe_dec(NULL, jwe, NULL, srv, &len);
	assert_non_null(pt);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(pt, secret, len);
	free(pt);
	shared = jose_jwk_exc(NULL, srv, json_object_get(h, "epk"));
	assert_non_null(shared);
	assert_int_equal(jwe_decrypt(jwe, shared, &pt, &len), 0);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(pt, secret, len);
	json_decref(shared);
	/* The header given is left as it was. */
	assert_null(json_object_get(hdr, "epk"));

	free(pt);
	free(out);
	json_decref(h);
	json_decref(jwe);
	json_decref(pub);
	json_decref(hdr);
	json_decref(srv);
}

static void
test_decrypts_with_jose(void **state)
{
	(void)state;
	encrypt_for("P-521");
	encrypt_for("P-384");
	encrypt_for("P-256");
}

static void
test_refuses(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *hdr = tang_header(), *pub;
	char *out = NULL, y[89];

	(void)state;
	pub = json_deep_copy(srv);
	assert_true(jose_jwk_pub(NULL, pub));
	/* A server key off its curve. */
	snprintf(y, sizeof(y), "%s", json_string_value(json_object_get(pub, "y")));
	y[80] = y[80] == 'A' ? 'B' : 'A';
	json_object_set_new(pub, "y", json_string(y));
	assert_int_equal(ecdh_es_encrypt(hdr, pub, (const uint8_t *)"x", 1, &out),
	                 -EINVAL);
	/* A content encryption RFC 7518 does not define. */
	json_object_set_new(hdr, "enc", json_string("A512GCM"));
	json_decref(pub);
	pub = json_deep_copy(srv);
	assert_true(jose_jwk_pub(NULL, pub));
	assert_int_equal(ecdh_es_encrypt(hdr, pub, (const uint8_t *)"x", 1, &out),
	                 -EINVAL);
	assert_null(out);
	json_decref(pub);
	json_decref(hdr);
	json_decref(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decrypts_with_jose),
		cmocka_unit_test(test_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

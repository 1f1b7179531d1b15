/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jose/jose.h>

#include "client/adv.h"
#include "common/jwk.h"
#include "public-jwk.h"

/* An advertisement listing keys, signed (general form) by each signer. */
static json_t *
advertise(const json_t *keys, json_t *const *signers, size_t n)
{
	json_t *payload = json_pack("{s:O}", "keys", keys);
	json_t *jws = json_pack("{s:o}", "payload",
	                        jose_b64_enc_dump(payload));

	assert_non_null(jws);
	for (size_t i = 0; i < n; i++) {
		json_t *sig = json_pack("{s:{s:s,s:s}}", "protected", "alg",
		                        "ES512", "cty", "jwk-set+json");

		assert_true(jose_jws_sig(NULL, jws, sig, signers[i]));
		json_decref(sig);
	}
	json_decref(payload);
	return jws;
}

struct keys {
	json_t *s1, *s2, *exc, *list;
};

static void
make_keys(struct keys *k)
{
	k->s1 = jwk_generate("ES512");
	k->s2 = jwk_generate("ES512");
	k->exc = jwk_generate("ECMR");
	k->list = json_pack("[o,o,o]", public_copy(k->s1), public_copy(k->s2),
	                    public_copy(k->exc));
	assert_non_null(k->list);
}

static void
free_keys(struct keys *k)
{
	json_decref(k->list);
	json_decref(k->exc);
	json_decref(k->s2);
	json_decref(k->s1);
}

static int
keys_of(const json_t *jws)
{
	json_t *jwks = NULL;
	int r = adv_keys(jws, &jwks);

	assert_true(r < 0 ? jwks == NULL : json_is_object(jwks));
	json_decref(jwks);
	return r;
}

/* Every signing key the advertisement lists must have signed it. */
static void
test_every_signer(void **state)
{
	struct keys k;
	json_t *both[2], *jws;

	(void)state;
	make_keys(&k);
	both[0] = k.s1;
	both[1] = k.s2;
	jws = advertise(k.list, both, 2);
	assert_int_equal(keys_of(jws), 0);
	json_decref(jws);

	jws = advertise(k.list, both, 1);
	assert_int_equal(keys_of(jws), -EKEYREJECTED);
	json_decref(jws);

	/* Signed twice by the same key, never by the other. */
	both[1] = k.s1;
	jws = advertise(k.list, both, 2);
	assert_int_equal(keys_of(jws), -EKEYREJECTED);
	json_decref(jws);
	free_keys(&k);
}

/* A signature over other keys than the payload's does not count. */
static void
test_changed_payload(void **state)
{
	struct keys k;
	json_t *signers[2], *jws, *other;

	(void)state;
	make_keys(&k);
	signers[0] = k.s1;
	signers[1] = k.s2;
	jws = advertise(k.list, signers, 2);
	other = json_pack("{s:[O,O]}", "keys", json_array_get(k.list, 0),
	                  json_array_get(k.list, 1));
	json_object_set_new(jws, "payload", jose_b64_enc_dump(other));
	assert_int_equal(keys_of(jws), -EKEYREJECTED);
	json_decref(other);
	json_decref(jws);
	free_keys(&k);
}

/* The flattened form, one signature, as a hand-made adv file may be. */
static void
test_flattened(void **state)
{
	json_t *s = jwk_generate("ES512"), *exc = jwk_generate("ECMR");
	json_t *list = json_pack("[o,o]", public_copy(s), public_copy(exc));
	json_t *payload = json_pack("{s:O}", "keys", list);
	json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc_dump(payload));
	char sig[300];

	(void)state;
	assert_true(jose_jws_sig(NULL, jws, NULL, s));
	assert_non_null(json_object_get(jws, "signature"));
	assert_int_equal(keys_of(jws), 0);
	/* The signature's first character changed. */
	snprintf(sig, sizeof(sig), "%s",
	         json_string_value(json_object_get(jws, "signature")));
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	json_object_set_new(jws, "signature", json_string(sig));
	assert_int_equal(keys_of(jws), -EKEYREJECTED);
	json_decref(jws);
	json_decref(payload);
	json_decref(list);
	json_decref(exc);
	json_decref(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_signer),
		cmocka_unit_test(test_changed_payload),
		cmocka_unit_test(test_flattened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

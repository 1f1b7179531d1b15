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
#include <jose/jose.h>

#include "common/ecmr.h"
#include "common/jwk.h"

static json_t *
public_copy(const json_t *jwk)
{
	json_t *pub = json_deep_copy(jwk);

	assert_non_null(pub);
	assert_true(jose_jwk_pub(NULL, pub));
	return pub;
}

/* libjose's generic exchange is the oracle for one curve. */
static void
exchange_matches_jose(const char *crv)
{
	json_t *srv = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);
	json_t *clt = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);
	json_t *req, *want, *got;
	char reply[ECMR_REPLY_MAX];
	struct ecmr_key *key;
	size_t len;

	assert_true(jose_jwk_gen(NULL, srv));
	assert_true(jose_jwk_gen(NULL, clt));
	req = public_copy(clt);
	assert_int_equal(ecmr_key_load(srv, &key), 0);
	assert_int_equal(ecmr_exchange(key, req, reply, &len), 0);
	assert_int_equal(strlen(reply), len);

	want = jose_jwk_exc(NULL, srv, req);
	assert_non_null(want);
	got = json_loads(reply, 0, NULL);
	assert_non_null(got);
	assert_string_equal(json_string_value(json_object_get(got, "x")),
	                    json_string_value(json_object_get(want, "x")));
	assert_string_equal(json_string_value(json_object_get(got, "y")),
	                    json_string_value(json_object_get(want, "y")));
	assert_string_equal(json_string_value(json_object_get(got, "crv")), crv);
	assert_string_equal(json_string_value(json_object_get(got, "alg")), "ECMR");
	assert_true(jose_jwk_prm(NULL, got, true, "deriveKey"));

	json_decref(got);
	json_decref(want);
	json_decref(req);
	json_decref(clt);
	json_decref(srv);
	ecmr_key_free(key);
}

static void
test_p521(void **state)
{
	(void)state;
	exchange_matches_jose("P-521");
}

static void
test_p384(void **state)
{
	(void)state;
	exchange_matches_jose("P-384");
}

static void
test_p256(void **state)
{
	(void)state;
	exchange_matches_jose("P-256");
}

/* Tang's reply body: compact JSON with sorted keys. */
static void
test_reply_shape(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *clt = jwk_generate("ECMR");
	json_t *req = public_copy(clt), *parsed;
	char reply[ECMR_REPLY_MAX], *canonical;
	struct ecmr_key *key;
	size_t len;

	(void)state;
	assert_int_equal(ecmr_key_load(srv, &key), 0);
	assert_int_equal(ecmr_exchange(key, req, reply, &len), 0);
	parsed = json_loads(reply, 0, NULL);
	canonical = json_dumps(parsed, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(reply, canonical);
	free(canonical);
	json_decref(parsed);
	json_decref(req);
	json_decref(clt);
	json_decref(srv);
	ecmr_key_free(key);
}

static void
assert_refused(const struct ecmr_key *key, json_t *req)
{
	char reply[ECMR_REPLY_MAX];
	size_t len;

	assert_int_equal(ecmr_exchange(key, req, reply, &len), -EINVAL);
}

static void
test_bad_points(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *req, *other;
	struct ecmr_key *key;
	char y[89];

	(void)state;
	assert_int_equal(ecmr_key_load(srv, &key), 0);

	/* Another curve. */
	other = json_pack("{s:s,s:s}", "kty", "EC", "crv", "P-256");
	assert_true(jose_jwk_gen(NULL, other));
	req = public_copy(other);
	assert_refused(key, req);
	json_decref(req);
	json_decref(other);

	/* Off the curve: y changed in its last significant characters. */
	req = public_copy(srv);
	snprintf(y, sizeof(y), "%s", json_string_value(json_object_get(req, "y")));
	y[80] = y[80] == 'A' ? 'B' : 'A';
	json_object_set_new(req, "y", json_string(y));
	assert_refused(key, req);

	/* A coordinate one character short, or missing. */
	y[87] = '\0';
	json_object_set_new(req, "y", json_string(y));
	assert_refused(key, req);
	json_object_del(req, "y");
	assert_refused(key, req);

	/* Coordinates at or above the field prime (all ones: 2^528 - 1). */
	memset(y, '_', 88);
	y[88] = '\0';
	json_object_set_new(req, "y", json_string(y));
	json_object_set_new(req, "x", json_string(y));
	assert_refused(key, req);

	/* Not base64url. */
	memset(y, '*', 88);
	json_object_set_new(req, "x", json_string(y));
	assert_refused(key, req);

	/* No curve at all. */
	json_object_del(req, "crv");
	assert_refused(key, req);
	json_decref(req);

	ecmr_key_free(key);
	json_decref(srv);
}

/* The client's check of a server's reply agrees with the server's own. */
static void
test_point_check(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *pub;
	char y[89];

	(void)state;
	pub = public_copy(srv);
	assert_int_equal(ecmr_point_check(pub, "P-521"), 0);
	assert_int_equal(ecmr_point_check(pub, "P-256"), -EINVAL);
	assert_int_equal(ecmr_point_check(pub, "P-999"), -EINVAL);
	assert_int_equal(ecmr_point_check(pub, NULL), -EINVAL);

	snprintf(y, sizeof(y), "%s", json_string_value(json_object_get(pub, "y")));
	y[80] = y[80] == 'A' ? 'B' : 'A';
	json_object_set_new(pub, "y", json_string(y));
	assert_int_equal(ecmr_point_check(pub, "P-521"), -EINVAL);

	json_object_set_new(pub, "kty", json_string("oct"));
	assert_int_equal(ecmr_point_check(pub, "P-521"), -EINVAL);
	json_decref(pub);
	json_decref(srv);
}

static void
test_bad_keys(void **state)
{
	json_t *pub, *jwk = jwk_generate("ECMR");
	struct ecmr_key *key = NULL;

	(void)state;
	pub = public_copy(jwk);
	assert_int_equal(ecmr_key_load(pub, &key), -EINVAL);
	json_object_set_new(jwk, "crv", json_string("P-192"));
	assert_int_equal(ecmr_key_load(jwk, &key), -EINVAL);
	json_object_set_new(jwk, "crv", json_string("P-521"));
	json_object_set_new(jwk, "kty", json_string("oct"));
	assert_int_equal(ecmr_key_load(jwk, &key), -EINVAL);
	assert_null(key);
	ecmr_key_free(NULL);
	json_decref(pub);
	json_decref(jwk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p521),
		cmocka_unit_test(test_p384),
		cmocka_unit_test(test_p256),
		cmocka_unit_test(test_reply_shape),
		cmocka_unit_test(test_bad_points),
		cmocka_unit_test(test_point_check),
		cmocka_unit_test(test_bad_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

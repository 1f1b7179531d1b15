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
#include "public-jwk.h"

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

/* A copy of a public JWK with y changed: a point off the curve. */
static json_t *
off_curve(const json_t *jwk)
{
	json_t *bad = public_copy(jwk);
	char y[89];

	snprintf(y, sizeof(y), "%s", json_string_value(json_object_get(bad, "y")));
	y[strlen(y) - 8] = y[strlen(y) - 8] == 'A' ? 'B' : 'A';
	json_object_set_new(bad, "y", json_string(y));
	assert_int_equal(ecmr_point_check(bad, json_string_value(
	                         json_object_get(bad, "crv"))), -EINVAL);
	return bad;
}

static void
assert_same_point(const json_t *a, const json_t *b)
{
	assert_string_equal(json_string_value(json_object_get(a, "x")),
	                    json_string_value(json_object_get(b, "x")));
	assert_string_equal(json_string_value(json_object_get(a, "y")),
	                    json_string_value(json_object_get(b, "y")));
}

/*
 * A whole recovery: the binding's c, the server's s, the client blinds C,
 * the server multiplies, the client unblinds to cS, which libjose's
 * exchange computes directly.
 */
static void
recovery_matches_jose(const char *crv)
{
	json_t *srv = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);
	json_t *clt = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);
	json_t *spub, *cpub, *xfr = NULL, *rep, *key = NULL, *want;
	struct ecmr_blinding *b = NULL;
	char reply[ECMR_REPLY_MAX];
	struct ecmr_key *skey;
	size_t len;

	assert_true(jose_jwk_gen(NULL, srv));
	assert_true(jose_jwk_gen(NULL, clt));
	spub = public_copy(srv);
	cpub = public_copy(clt);
	assert_int_equal(ecmr_key_load(srv, &skey), 0);

	assert_int_equal(ecmr_blind(cpub, spub, &b, &xfr), 0);
	assert_string_equal(json_string_value(json_object_get(xfr, "alg")), "ECMR");
	/* Blinded: the server never sees C. */
	assert_string_not_equal(json_string_value(json_object_get(xfr, "x")),
	                        json_string_value(json_object_get(cpub, "x")));
	assert_int_equal(ecmr_exchange(skey, xfr, reply, &len), 0);
	rep = json_loads(reply, 0, NULL);
	assert_non_null(rep);
	assert_int_equal(ecmr_unblind(b, rep, &key), 0);

	want = jose_jwk_exc(NULL, clt, spub);
	assert_non_null(want);
	assert_same_point(key, want);
	assert_string_equal(json_string_value(json_object_get(key, "crv")), crv);

	json_decref(want);
	jwk_free_wiped(key);
	json_decref(rep);
	json_decref(xfr);
	ecmr_blinding_free(b);
	ecmr_key_free(skey);
	json_decref(cpub);
	json_decref(spub);
	json_decref(clt);
	json_decref(srv);
}

static void
test_recovery(void **state)
{
	(void)state;
	recovery_matches_jose("P-521");
	recovery_matches_jose("P-384");
	recovery_matches_jose("P-256");
}

/*
 * Every outside point of a recovery is checked: the binding's epk and
 * the server's key before e multiplies anything, the reply before eS is
 * subtracted from it.
 */
static void
test_recovery_refuses_bad_points(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *clt = jwk_generate("ECMR");
	json_t *spub = public_copy(srv), *cpub = public_copy(clt);
	json_t *bad_s = off_curve(srv), *bad_c = off_curve(clt);
	json_t *xfr = NULL, *key = NULL, *p256, *p256pub, *bad_rep;
	struct ecmr_blinding *b = NULL;

	(void)state;
	assert_int_equal(ecmr_blind(bad_c, spub, &b, &xfr), -EINVAL);
	assert_int_equal(ecmr_blind(cpub, bad_s, &b, &xfr), -EINVAL);
	assert_null(b);
	assert_null(xfr);

	/* A server key on another curve than the binding's epk. */
	p256 = json_pack("{s:s,s:s}", "kty", "EC", "crv", "P-256");
	assert_true(jose_jwk_gen(NULL, p256));
	p256pub = public_copy(p256);
	assert_int_equal(ecmr_blind(cpub, p256pub, &b, &xfr), -EINVAL);

	assert_int_equal(ecmr_blind(cpub, spub, &b, &xfr), 0);
	/* A reply off the curve, on another curve, or not a point. */
	bad_rep = off_curve(srv);
	assert_int_equal(ecmr_unblind(b, bad_rep, &key), -EINVAL);
	assert_int_equal(ecmr_unblind(b, p256pub, &key), -EINVAL);
	json_object_del(bad_rep, "x");
	assert_int_equal(ecmr_unblind(b, bad_rep, &key), -EINVAL);
	assert_null(key);

	json_decref(bad_rep);
	json_decref(xfr);
	ecmr_blinding_free(b);
	ecmr_blinding_free(NULL);
	json_decref(p256pub);
	json_decref(p256);
	json_decref(bad_c);
	json_decref(bad_s);
	json_decref(cpub);
	json_decref(spub);
	json_decref(clt);
	json_decref(srv);
}

/* The secret ecmr_agree() finds is the x of libjose's ECDH, with s. */
static void
test_agree(void **state)
{
	json_t *srv = jwk_generate("ECMR"), *spub = public_copy(srv);
	json_t *epk = NULL, *want, *bad = off_curve(srv);
	uint8_t z[ECMR_SECRET_MAX], x[ECMR_SECRET_MAX];
	size_t zlen = 0;

	(void)state;
	assert_int_equal(ecmr_agree(spub, &epk, z, &zlen), 0);
	assert_int_equal(zlen, 66);
	assert_null(json_object_get(epk, "d"));
	want = jose_jwk_exc(NULL, srv, epk);
	assert_non_null(want);
	assert_int_equal(jose_b64_dec(json_object_get(want, "x"), x, sizeof(x)), 66);
	assert_memory_equal(z, x, zlen);
	json_decref(want);
	json_decref(epk);
	epk = NULL;

	assert_int_equal(ecmr_agree(bad, &epk, z, &zlen), -EINVAL);
	assert_null(epk);
	json_decref(bad);
	json_decref(spub);
	json_decref(srv);
}

/* A JWS signature libjose makes checks here; any change to it does not. */
static void
test_verify(void **state)
{
	json_t *sig = jwk_generate("ES512"), *other = jwk_generate("ES512");
	json_t *pub = public_copy(sig), *opub = public_copy(other), *bad;
	json_t *jws = json_pack("{s:s}", "payload", "eyJrZXlzIjpbXX0");
	const char *prot, *pay = "eyJrZXlzIjpbXX0";
	uint8_t raw[132];
	char input[512];

	(void)state;
	assert_true(jose_jws_sig(NULL, jws, NULL, sig));
	prot = json_string_value(json_object_get(jws, "protected"));
	assert_non_null(prot);
	assert_int_equal(jose_b64_dec(json_object_get(jws, "signature"), raw,
	                              sizeof(raw)), 132);
	snprintf(input, sizeof(input), "%s.%s", prot, pay);

	assert_int_equal(ecmr_verify(pub, "ES512", raw, 132, input,
	                             strlen(input)), 0);
	/* Another key, another message, a changed or shortened signature. */
	assert_int_equal(ecmr_verify(opub, "ES512", raw, 132, input,
	                             strlen(input)), -EBADMSG);
	assert_int_equal(ecmr_verify(pub, "ES512", raw, 132, input,
	                             strlen(input) - 1), -EBADMSG);
	raw[7] ^= 1;
	assert_int_equal(ecmr_verify(pub, "ES512", raw, 132, input,
	                             strlen(input)), -EBADMSG);
	raw[7] ^= 1;
	assert_int_equal(ecmr_verify(pub, "ES512", raw, 131, input,
	                             strlen(input)), -EBADMSG);
	/* A key off its curve; an alg of another curve; another alg. */
	bad = off_curve(sig);
	assert_int_equal(ecmr_verify(bad, "ES512", raw, 132, input,
	                             strlen(input)), -EINVAL);
	assert_int_equal(ecmr_verify(pub, "ES256", raw, 132, input,
	                             strlen(input)), -EINVAL);
	assert_int_equal(ecmr_verify(pub, "RS256", raw, 132, input,
	                             strlen(input)), -ENOTSUP);

	json_decref(bad);
	json_decref(jws);
	json_decref(opub);
	json_decref(pub);
	json_decref(other);
	json_decref(sig);
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
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_recovery_refuses_bad_points),
		cmocka_unit_test(test_agree),
		cmocka_unit_test(test_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

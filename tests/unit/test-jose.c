/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tether's own JOSE: base64url, thumbprints, keys, ECDH-ES, JWE and JWS,
 * against the RFCs' examples and against libjose, what clevis runs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jose/jose.h>

#include "client/adv.h"
#include "client/ecdh_es.h"
#include "client/jwe.h"
#include "common/b64.h"
#include "common/ecmr.h"
#include "common/jwk.h"
#include "common/util.h"
#include "public-jwk.h"

/* RFC 4648 10's vectors in base64url without padding, and RFC 7515 C's. */
static void
test_b64_vectors(void **state)
{
	static const struct {
		const char *raw;
		size_t len;
		const char *enc;
	} v[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\x03\xec\xff\xe0\xc1", 5, "A-z_4ME" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char enc[16];
		uint8_t dec[16];
		size_t n = 99;

		assert_int_equal(b64_encoded_len(v[i].len), strlen(v[i].enc));
		assert_int_equal(b64_encode((const uint8_t *)v[i].raw, v[i].len,
		                            enc, sizeof(enc)), (int)strlen(v[i].enc));
		assert_string_equal(enc, v[i].enc);
		assert_int_equal(b64_decode(v[i].enc, strlen(v[i].enc), dec,
		                            sizeof(dec), &n), 0);
		assert_int_equal(n, v[i].len);
		assert_memory_equal(dec, v[i].raw, n);
	}
}

/* What jose 11 refuses, refused; and no write past the room given. */
static void
test_b64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zm8=", "Z", "Zm9vY", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v!",
		" Zg", "Zg\n", "Zm\0v",
	};
	uint8_t dec[8];
	char enc[4];
	size_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = i == ARRAY_SIZE(bad) - 1 ? 4 : strlen(bad[i]);

		print_message("# bad input %zu\n", i);
		assert_int_equal(b64_decode(bad[i], len, dec, sizeof(dec), &n),
		                 -EBADMSG);
	}
	assert_int_equal(b64_decode("Zm9vYmFy", 8, dec, 5, &n), -ENOSPC);
	assert_int_equal(b64_encode((const uint8_t *)"foo", 3, enc, 4), -ENOSPC);
	assert_int_equal(b64_decoded_len(5), SIZE_MAX);
}

/* RFC 7638 3.1's example: an RSA key's SHA-256 thumbprint. */
static void
test_thumbprint_rfc7638(void **state)
{
	json_t *jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "n",
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT8"
		"6zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W"
		"-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY36"
		"8QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q"
		"NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0L"
		"s1jF44-csFCur-kEgU8awapJzKnqDKgw",
		"e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
	char thp[JWK_THP_MAX + 1];

	(void)state;
	assert_non_null(jwk);
	assert_int_equal(jwk_thumbprint(jwk, JWK_THP_S256, thp), 0);
	assert_string_equal(thp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* Without a required member there is no thumbprint. */
	json_object_del(jwk, "e");
	assert_int_equal(jwk_thumbprint(jwk, JWK_THP_S256, thp), -EINVAL);
	json_decref(jwk);
}

/* Every hash, on EC and oct keys, as libjose (clevis, Tang) computes it. */
static void
test_thumbprint_as_jose(void **state)
{
	static const char *const algs[] = { "ES256", "ES384", "ES512", "ECMR",
	                                    "A256GCM" };

	(void)state;
	for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
		json_t *jwk = jwk_generate(algs[a]);

		assert_non_null(jwk);
		for (int h = 0; h < JWK_THP_COUNT; h++) {
			char ours[JWK_THP_MAX + 1], theirs[JWK_THP_MAX + 1];
			uint8_t d[64];
			size_t n = jose_jwk_thp_buf(NULL, NULL, jwk_thp_names[h],
			                            NULL, 0);

			assert_true(n <= sizeof(d));
			assert_int_equal(jose_jwk_thp_buf(NULL, jwk, jwk_thp_names[h],
			                                  d, n), n);
			assert_int_equal(b64_encode(d, n, theirs, sizeof(theirs)),
			                 (int)b64_encoded_len(n));
			assert_int_equal(jwk_thumbprint(jwk, (enum jwk_thp_hash)h,
			                                ours), 0);
			assert_string_equal(ours, theirs);
		}
		jwk_free_secret(jwk);
	}
}

/* A copy of an EC JWK for plain ECDH in libjose: no alg, no key_ops. */
static json_t *
ecdh_copy(const json_t *jwk, bool public)
{
	json_t *c = public ? public_copy(jwk) : json_deep_copy(jwk);

	assert_non_null(c);
	json_object_del(c, "alg");
	json_object_del(c, "key_ops");
	return c;
}

/*
 * Whether the scalar d of an EC JWK is the one of its x and y: ECDH
 * with another key agrees from both sides only then (libjose computes).
 */
static bool
scalar_matches_point(const json_t *jwk)
{
	json_t *other = json_pack("{s:s,s:O}", "kty", "EC", "crv",
	                          json_object_get(jwk, "crv"));
	json_t *a, *a_pub, *b, *b_pub, *z1, *z2;
	bool same;

	assert_true(jose_jwk_gen(NULL, other));
	a = ecdh_copy(jwk, false);
	a_pub = ecdh_copy(jwk, true);
	b = ecdh_copy(other, false);
	b_pub = ecdh_copy(other, true);
	z1 = jose_jwk_exc(NULL, a, b_pub);
	z2 = jose_jwk_exc(NULL, b, a_pub);
	assert_non_null(z1);
	assert_non_null(z2);
	same = json_equal(json_object_get(z1, "x"), json_object_get(z2, "x"));
	json_decref(z1);
	json_decref(z2);
	json_decref(a);
	json_decref(a_pub);
	json_decref(b);
	json_decref(b_pub);
	json_decref(other);
	return same;
}

/* Keys as jose jwk gen makes them: members, key_ops, a scalar that fits. */
static void
test_jwk_generate(void **state)
{
	static const struct {
		const char *alg, *crv, *op;
		size_t octets;
	} v[] = {
		{ "ES256", "P-256", "sign", 0 }, { "ES384", "P-384", "sign", 0 },
		{ "ES512", "P-521", "sign", 0 }, { "ECMR", "P-521", "deriveKey", 0 },
		{ "A128GCM", NULL, "encrypt", 16 }, { "A256GCM", NULL, "encrypt", 32 },
		{ "A256CBC-HS512", NULL, "decrypt", 64 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		json_t *jwk = jwk_generate(v[i].alg), *pub;
		uint8_t *k = NULL;
		size_t n = 0;

		print_message("# %s\n", v[i].alg);
		assert_non_null(jwk);
		assert_string_equal(json_string_value(json_object_get(jwk, "alg")),
		                    v[i].alg);
		assert_true(jwk_allows(jwk, v[i].op, true));
		if (!v[i].crv) {
			assert_int_equal(b64_decode_json(json_object_get(jwk, "k"), 64,
			                                 &k, &n), 0);
			assert_int_equal(n, v[i].octets);
			free_secret(k, n);
			jwk_free_secret(jwk);
			continue;
		}
		assert_string_equal(json_string_value(json_object_get(jwk, "crv")),
		                    v[i].crv);
		pub = public_copy(jwk);
		assert_int_equal(ecmr_point_check(pub, v[i].crv), 0);
		assert_null(json_object_get(pub, "d"));
		assert_true(scalar_matches_point(jwk));
		json_decref(pub);
		jwk_free_secret(jwk);
	}
	assert_null(jwk_generate("RS256"));
	assert_null(jwk_generate(NULL));
}

/* jose_jwk_prm's two readings of key_ops and use. */
static void
test_jwk_allows(void **state)
{
	json_t *none = json_object();
	json_t *sig = json_pack("{s:s}", "use", "sig");
	json_t *ops = json_pack("{s:[s]}", "key_ops", "deriveKey");
	json_t *bad = json_pack("{s:i}", "use", 1);

	(void)state;
	assert_true(jwk_allows(none, "verify", false));
	assert_false(jwk_allows(none, "verify", true));
	assert_true(jwk_allows(sig, "verify", true));
	assert_true(jwk_allows(sig, "sign", true));
	assert_false(jwk_allows(sig, "deriveKey", false));
	assert_true(jwk_allows(ops, "deriveKey", true));
	assert_false(jwk_allows(ops, "verify", false));
	assert_false(jwk_allows(bad, "verify", false));
	json_decref(none);
	json_decref(sig);
	json_decref(ops);
	json_decref(bad);
}

/*
 * RFC 7518 C: Bob's key and Alice's ephemeral one give Z; with apu
 * "Alice" and apv "Bob" the Concat KDF makes A128GCM's key from it.
 */
static void
test_ecdh_es_rfc7518(void **state)
{
	json_t *bob = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
		"P-256", "x", "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
		"y", "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
		"d", "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
	json_t *hdr = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s}}",
		"alg", "ECDH-ES", "enc", "A128GCM", "apu", "QWxpY2U", "apv", "Qm9i",
		"epk", "kty", "EC", "crv", "P-256",
		"x", "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
		"y", "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps");
	json_t *shared = jose_jwk_exc(NULL, bob, json_object_get(hdr, "epk"));
	uint8_t cek[16];
	char enc[32];

	(void)state;
	assert_non_null(shared);
	/* Z of RFC 7518 C, as base64url. */
	assert_string_equal(json_string_value(json_object_get(shared, "x")),
	                    "nlbZHYFxNdNyg0KDv4QmnPsxbqPagGpI9tqneYz-kMQ");
	assert_int_equal(ecdh_es_key(hdr, shared, jwe_enc_find("A128GCM"), cek),
	                 0);
	assert_int_equal(b64_encode(cek, sizeof(cek), enc, sizeof(enc)), 22);
	assert_string_equal(enc, "VqqN6vgjbSBcIijNcacQGg");
	/* Not a point: no key. */
	json_object_set_new(shared, "x", json_string("AAAA"));
	assert_int_equal(ecdh_es_key(hdr, shared, jwe_enc_find("A128GCM"), cek),
	                 -EINVAL);
	json_decref(shared);
	json_decref(hdr);
	json_decref(bob);
}

static const char *const every_enc[] = {
	"A128GCM", "A192GCM", "A256GCM",
	"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512",
};

static void
parse_compact(const char *text, json_t **jwe, json_t **hdr)
{
	assert_int_equal(jwe_parse_compact(text, strlen(text), jwe, hdr), 0);
}

/* Where libjose's stream writes the plaintext: a buffer that stops. */
struct sink {
	jose_io_t io;
	uint8_t buf[256];
	size_t len;
};

static bool
sink_feed(jose_io_t *io, const void *in, size_t n)
{
	struct sink *s = (struct sink *)io;

	if (n > sizeof(s->buf) - s->len)
		return false;
	memcpy(s->buf + s->len, in, n);
	s->len += n;
	return true;
}

static bool
sink_done(jose_io_t *io)
{
	(void)io;
	return true;
}

static void
sink_free(jose_io_t *io)
{
	(void)io;
}

/*
 * libjose's decryption as jose jwe dec (clevis) runs it: streamed, the
 * tag checked at done(). (Its one-shot jose_jwe_dec_cek() returned 76
 * bytes of noise for these 38-byte plaintexts, which jose jwe dec
 * decrypts right.) Returns the plaintext's length, or -1.
 */
static long
jose_decrypts(const json_t *jwe, const json_t *cek, struct sink *out)
{
	const json_t *ct = json_object_get(jwe, "ciphertext");
	jose_io_auto_t *dec = NULL, *in = NULL;

	*out = (struct sink){
		.io = { .refs = 1, .feed = sink_feed, .done = sink_done,
		        .free = sink_free },
	};
	dec = jose_jwe_dec_cek_io(NULL, jwe, cek, &out->io);
	in = dec ? jose_b64_dec_io(dec) : NULL;
	if (!in || !in->feed(in, json_string_value(ct), json_string_length(ct)) ||
	    !in->done(in))
		return -1;
	return (long)out->len;
}

/* libjose writes, tether reads; tether writes, libjose reads: each enc. */
static void
test_jwe_every_enc(void **state)
{
	static const uint8_t pt[] = "a secret of some length, over a block";

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(every_enc); i++) {
		json_t *key = json_pack("{s:s}", "alg", every_enc[i]);
		json_t *jwe = json_pack("{s:{s:s,s:s}}", "protected", "alg", "dir",
		                        "enc", every_enc[i]);
		json_t *hdr = json_pack("{s:{s:s}}", "clevis", "pin", "null");
		json_t *ours, *h;
		struct sink sink;
		uint8_t *out = NULL;
		size_t len = 0;
		char *compact = NULL;

		print_message("# %s\n", every_enc[i]);
		assert_true(jose_jwk_gen(NULL, key));
		assert_true(jose_jwe_enc_cek(NULL, jwe, key, pt, sizeof(pt)));
		assert_int_equal(jwe_decrypt(jwe, key, &out, &len), 0);
		assert_int_equal(len, sizeof(pt));
		assert_memory_equal(out, pt, len);
		free_secret(out, len);

		/* "enc" from the key's alg, as libjose. */
		assert_int_equal(jwe_encrypt(hdr, key, pt, sizeof(pt), &compact), 0);
		parse_compact(compact, &ours, &h);
		assert_string_equal(json_string_value(json_object_get(h, "enc")),
		                    every_enc[i]);
		assert_string_equal(json_string_value(json_object_get(h, "alg")),
		                    "dir");
		assert_int_equal(jose_decrypts(ours, key, &sink), sizeof(pt));
		assert_memory_equal(sink.buf, pt, sizeof(pt));

		/* A tag one bit off: nothing. */
		{
			const char *tag = json_string_value(json_object_get(ours,
			                                                    "tag"));
			char *t = strdup(tag);

			t[0] = t[0] == 'A' ? 'Q' : 'A';
			json_object_set_new(ours, "tag", json_string(t));
			out = NULL;
			assert_int_equal(jwe_decrypt(ours, key, &out, &len), -EBADMSG);
			assert_null(out);
			free(t);
		}
		/* A key of another length: nothing. */
		json_object_set_new(key, "k", json_string("AAAAAAAAAAAAAAAAAAAAAA"));
		assert_int_equal(jwe_decrypt(jwe, key, &out, &len), -EBADMSG);
		free(compact);
		json_decref(ours);
		json_decref(h);
		json_decref(hdr);
		json_decref(jwe);
		json_decref(key);
	}
}

/* Key management and content encryption that tether does not do. */
static void
test_jwe_refuses(void **state)
{
	json_t *key = jwk_generate("A256GCM");
	json_t *hdr = json_pack("{s:s,s:s}", "alg", "A256KW", "enc", "A256GCM");
	char *out = NULL;

	(void)state;
	assert_int_equal(jwe_encrypt(hdr, key, (const uint8_t *)"x", 1, &out),
	                 -EINVAL);
	json_object_set_new(hdr, "alg", json_string("dir"));
	json_object_set_new(hdr, "enc", json_string("A256CTR"));
	assert_int_equal(jwe_encrypt(hdr, key, (const uint8_t *)"x", 1, &out),
	                 -EINVAL);
	json_object_set_new(hdr, "enc", json_string("A256GCM"));
	json_object_set_new(hdr, "zip", json_string("DEF"));
	assert_int_equal(jwe_encrypt(hdr, key, (const uint8_t *)"x", 1, &out),
	                 -EINVAL);
	assert_null(out);
	assert_null(jwe_enc_find("none"));
	json_decref(hdr);
	jwk_free_secret(key);
}

/* RFC 7515 A.3: an ES256 signature over the example's signing input. */
static void
test_jws_rfc7515(void **state)
{
	static const char input[] =
		"eyJhbGciOiJFUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
		"cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
	static const char sig[] =
		"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
		"pmWQxfKTUJqPP3-Kg6NU1Q";
	json_t *jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256",
		"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
		"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
	uint8_t raw[64];
	size_t n = 0;

	(void)state;
	assert_int_equal(b64_decode(sig, strlen(sig), raw, sizeof(raw), &n), 0);
	assert_int_equal(n, 64);
	assert_int_equal(ecmr_verify(jwk, "ES256", raw, n, input,
	                             strlen(input)), 0);
	raw[10] ^= 1;
	assert_int_equal(ecmr_verify(jwk, "ES256", raw, n, input,
	                             strlen(input)), -EBADMSG);
	json_decref(jwk);
}

/* An advertisement signed with sig_hdr (libjose's template) by signer. */
static json_t *
signed_adv(json_t *signer, json_t *sig_hdr)
{
	json_t *pub = public_copy(signer);
	json_t *payload = json_pack("{s:[o]}", "keys", pub);
	json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc_dump(payload));

	assert_non_null(jws);
	assert_true(jose_jws_sig(NULL, jws, sig_hdr, signer));
	json_decref(payload);
	return jws;
}

/*
 * RFC 7515's header rules: a "crit" nothing here understands, or an alg
 * named in both headers, and the signature does not count.
 */
static void
test_jws_headers(void **state)
{
	json_t *signer = jwk_generate("ES512"), *jws, *jwks = NULL, *sig;

	(void)state;
	jws = signed_adv(signer, NULL);
	assert_int_equal(adv_keys(jws, &jwks), 0);
	json_decref(jwks);
	sig = json_array_get(json_object_get(jws, "signatures"), 0);
	if (!sig)
		sig = jws;
	json_object_set_new(sig, "header", json_pack("{s:s}", "alg", "ES512"));
	assert_int_equal(adv_keys(jws, &jwks), -EKEYREJECTED);
	json_decref(jws);

	sig = json_pack("{s:{s:s,s:[s],s:i}}", "protected", "alg", "ES512",
	                "crit", "exp", "exp", 1);
	jws = signed_adv(signer, sig);
	assert_int_equal(adv_keys(jws, &jwks), -EKEYREJECTED);
	json_decref(jws);
	json_decref(sig);
	jwk_free_secret(signer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_thumbprint_as_jose),
		cmocka_unit_test(test_jwk_generate),
		cmocka_unit_test(test_jwk_allows),
		cmocka_unit_test(test_ecdh_es_rfc7518),
		cmocka_unit_test(test_jwe_every_enc),
		cmocka_unit_test(test_jwe_refuses),
		cmocka_unit_test(test_jws_rfc7515),
		cmocka_unit_test(test_jws_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

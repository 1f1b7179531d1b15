/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/jwk.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/b64.h"
#include "common/ecmr.h"
#include "common/sha256.h"
#include "common/util.h"

const char *const jwk_thp_names[JWK_THP_COUNT] = {
	[JWK_THP_S1] = "S1",
	[JWK_THP_S224] = "S224",
	[JWK_THP_S256] = "S256",
	[JWK_THP_S384] = "S384",
	[JWK_THP_S512] = "S512",
};

static const char *const jwk_thp_digests[JWK_THP_COUNT] = {
	[JWK_THP_S1] = "SHA1",
	[JWK_THP_S224] = "SHA224",
	[JWK_THP_S256] = "SHA256",
	[JWK_THP_S384] = "SHA384",
	[JWK_THP_S512] = "SHA512",
};

/* RFC 7638 3.2: the members a thumbprint covers, beside kty. */
static const struct {
	const char *kty;
	const char *members[3];
} jwk_required[] = {
	{ "EC", { "crv", "x", "y" } },
	{ "RSA", { "e", "n", NULL } },
	{ "oct", { "k", NULL, NULL } },
};

/*
 * The thumbprint's input: kty and the required members of its type, in
 * lexicographic order with no whitespace (RFC 7638 3.3). kty is matched
 * without case, as libjose does. Free with free_secret_str(): an oct
 * key's is the key.
 */
static char *
thumbprint_input(const json_t *jwk)
{
	const json_t *kty = json_object_get(jwk, "kty");
	json_t *req = NULL;
	char *text = NULL;
	size_t t;

	for (t = 0; t < ARRAY_SIZE(jwk_required); t++)
		if (json_is_string(kty) && strcasecmp(json_string_value(kty),
		                                      jwk_required[t].kty) == 0)
			break;
	if (t == ARRAY_SIZE(jwk_required))
		return NULL;
	req = json_object();
	if (!req || json_object_set(req, "kty", (json_t *)kty) < 0)
		goto out;
	for (size_t i = 0; i < 3 && jwk_required[t].members[i]; i++) {
		const char *name = jwk_required[t].members[i];
		json_t *v = json_object_get(jwk, name);

		if (!v || json_object_set(req, name, v) < 0)
			goto out;
	}
	text = json_dumps(req, JSON_SORT_KEYS | JSON_COMPACT);
out:
	json_decref(req);
	return text;
}

int
jwk_thumbprint(const json_t *jwk, enum jwk_thp_hash hash,
               char out[JWK_THP_MAX + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD *md;
	char *text;
	int r = -EINVAL;

	if ((unsigned)hash >= JWK_THP_COUNT)
		return -EINVAL;
	text = thumbprint_input(jwk);
	if (!text)
		return -EINVAL;
	if (hash == JWK_THP_S256) {
		/* The thumbprint of every kid: without EVP (see sha256.c). */
		if (sha256(text, strlen(text), digest) == 0)
			r = b64_encode(digest, SHA256_LEN, out, JWK_THP_MAX + 1);
	} else {
		md = EVP_MD_fetch(NULL, jwk_thp_digests[hash], NULL);
		if (md && EVP_Digest(text, strlen(text), digest, &dlen, md,
		                     NULL) == 1)
			r = b64_encode(digest, dlen, out, JWK_THP_MAX + 1);
		EVP_MD_free(md);
	}
	free_secret_str(text);
	return r < 0 ? -EINVAL : 0;
}

/* What jwk_generate makes for each alg: a curve, or a key length. */
static const struct {
	const char *alg;
	const char *crv;
	size_t octets;
	const char *ops[2];
} jwk_gen_algs[] = {
	{ "ES256", "P-256", 0, { "sign", "verify" } },
	{ "ES384", "P-384", 0, { "sign", "verify" } },
	{ "ES512", "P-521", 0, { "sign", "verify" } },
	{ "ECMR", "P-521", 0, { "deriveKey", NULL } },
	{ "A128GCM", NULL, 16, { "encrypt", "decrypt" } },
	{ "A192GCM", NULL, 24, { "encrypt", "decrypt" } },
	{ "A256GCM", NULL, 32, { "encrypt", "decrypt" } },
	{ "A128CBC-HS256", NULL, 32, { "encrypt", "decrypt" } },
	{ "A192CBC-HS384", NULL, 48, { "encrypt", "decrypt" } },
	{ "A256CBC-HS512", NULL, 64, { "encrypt", "decrypt" } },
};

/* A new oct JWK of n random bytes; NULL on failure. */
static json_t *
oct_generate(size_t n)
{
	uint8_t k[64];
	json_t *jwk = NULL;

	if (n <= sizeof(k) && random_bytes(k, n) == 0)
		jwk = json_pack("{s:s,s:o}", "kty", "oct", "k",
		                b64_encode_json(k, n));
	explicit_bzero(k, sizeof(k));
	return jwk;
}

json_t *
jwk_generate(const char *alg)
{
	json_t *jwk = NULL, *ops;
	size_t i;

	for (i = 0; alg && i < ARRAY_SIZE(jwk_gen_algs); i++)
		if (strcmp(alg, jwk_gen_algs[i].alg) == 0)
			break;
	if (!alg || i == ARRAY_SIZE(jwk_gen_algs))
		return NULL;
	if (jwk_gen_algs[i].crv)
		(void)ecmr_generate(jwk_gen_algs[i].crv, &jwk);
	else
		jwk = oct_generate(jwk_gen_algs[i].octets);
	ops = jwk_gen_algs[i].ops[1] ?
	      json_pack("[s,s]", jwk_gen_algs[i].ops[0], jwk_gen_algs[i].ops[1]) :
	      json_pack("[s]", jwk_gen_algs[i].ops[0]);
	if (!jwk || !ops) {
		json_decref(ops);
		jwk_free_secret(jwk);
		return NULL;
	}
	if (json_object_set_new(jwk, "key_ops", ops) < 0 ||
	    json_object_set_new(jwk, "alg", json_string(alg)) < 0) {
		jwk_free_secret(jwk);
		return NULL;
	}
	return jwk;
}

/* RFC 7517 4.2's use values and the key_ops each allows. */
static bool
use_allows(const char *use, const char *op)
{
	static const struct {
		const char *use;
		const char *op;
	} use_ops[] = {
		{ "sig", "sign" }, { "sig", "verify" },
		{ "enc", "encrypt" }, { "enc", "decrypt" },
		{ "enc", "wrapKey" }, { "enc", "unwrapKey" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(use_ops); i++)
		if (strcmp(use, use_ops[i].use) == 0 &&
		    strcmp(op, use_ops[i].op) == 0)
			return true;
	return false;
}

bool
jwk_allows(const json_t *jwk, const char *op, bool required)
{
	const json_t *use = json_object_get(jwk, "use");
	const json_t *ops = json_object_get(jwk, "key_ops"), *v;
	size_t i;

	if (!json_is_object(jwk))
		return true;
	if (!op || (use && !json_is_string(use)))
		return false;
	if (!use && !ops)
		return !required;
	json_array_foreach(ops, i, v)
		if (json_is_string(v) && strcmp(op, json_string_value(v)) == 0)
			return true;
	return use && use_allows(json_string_value(use), op);
}

static void
wipe_string(json_t *v)
{
	/* jansson frees without wiping: clear the bytes it holds. */
	if (json_is_string(v) && v->refcount == 1)
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

void
jwk_free_wiped(json_t *jwk)
{
	const char *name;
	json_t *v;

	json_object_foreach(jwk, name, v)
		wipe_string(v);
	json_decref(jwk);
}

void
jwk_free_secret(json_t *jwk)
{
	static const char *const private_members[] = {
		"d", "p", "q", "dp", "dq", "qi", "k",
	};

	if (!jwk)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(private_members); i++)
		wipe_string(json_object_get(jwk, private_members[i]));
	json_decref(jwk);
}
